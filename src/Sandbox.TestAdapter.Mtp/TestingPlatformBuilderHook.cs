using Microsoft.Testing.Platform.Builder;

namespace Sandbox.TestAdapter.Mtp;

/// <summary>
/// What Microsoft.Testing.Platform.MSBuild's generated SelfRegisteredExtensions calls for the package's
/// TestingPlatformBuilderHook item (build/Sandbox.TestAdapter.targets): it registers the launcher that starts the test
/// host in a sandbox. Registering a launcher is what makes the test application restart itself as a controller and a
/// test host; when the launcher is disabled (SANDBOX_DISABLE=1 and the other switches) nothing restarts.
/// </summary>
public static class TestingPlatformBuilderHook
{
    public static void AddExtensions(ITestApplicationBuilder testApplicationBuilder, string[] arguments)
    {
        ArgumentNullException.ThrowIfNull(testApplicationBuilder);
        testApplicationBuilder.TestHostControllers.AddTestHostLauncher(services => new SandboxTestHostLauncher(services));
    }
}
