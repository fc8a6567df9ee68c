using Microsoft.Testing.Platform.Builder;
using Microsoft.Testing.Platform.Extensions;

namespace Sandbox.TestAdapter.Mtp;

/// <summary>
/// What Microsoft.Testing.Platform.MSBuild's generated SelfRegisteredExtensions calls for the package's
/// TestingPlatformBuilderHook item (build/Sandbox.TestAdapter.targets): it registers the launcher that starts the test
/// host in a sandbox. Registering a launcher is what makes the test application restart itself as a controller and a
/// test host; when the launcher is disabled (SANDBOX_DISABLE=1, --sandbox-disable and the other switches) nothing
/// restarts. The launcher is also the controller's lifetime handler (one instance: it reads the RunReport of the sandbox
/// it started), and the `--sandbox-*` options exist in both processes (the test host is given the same command line).
/// </summary>
public static class TestingPlatformBuilderHook
{
    public static void AddExtensions(ITestApplicationBuilder testApplicationBuilder, string[] arguments)
    {
        ArgumentNullException.ThrowIfNull(testApplicationBuilder);
        var options = new SandboxCommandLineOptions();
        testApplicationBuilder.CommandLine.AddProvider(() => options);
        var launcher = new CompositeExtensionFactory<SandboxTestHostLauncher>(services => new SandboxTestHostLauncher(services, options));
        testApplicationBuilder.TestHostControllers.AddProcessLifetimeHandler(launcher);
        testApplicationBuilder.TestHostControllers.AddTestHostLauncher(launcher);
        // In the sandboxed test host only (the launcher sets its variables).
        testApplicationBuilder.TestHost.AddDataConsumer(_ => new TestProgressWatch());
    }
}
