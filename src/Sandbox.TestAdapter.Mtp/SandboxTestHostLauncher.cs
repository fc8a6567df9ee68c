using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.Testing.Platform.Configurations;
using Microsoft.Testing.Platform.Extensions.TestHostControllers;
using Microsoft.Testing.Platform.Services;

namespace Sandbox.TestAdapter.Mtp;

/// <summary>
/// Microsoft.Testing.Platform's test host launcher (ITestHostLauncher, experimental since 2.3): the controller has
/// prepared the test host's command line and environment (its pipes' paths, its own pid as `--internal-testhostcontroller-pid`)
/// and hands over only the start, which becomes `sandbox run` on a per-run copy of the project's bundle. The test
/// host reaches the controller (and `dotnet test`'s pipe) through the Unix sockets the context names, each
/// bind-mounted at its own path: no network is opened. Never forks: `sandbox` is started with
/// System.Diagnostics.Process (docs/design.md).
/// </summary>
internal sealed class SandboxTestHostLauncher(IServiceProvider services) : ITestHostLauncher
{
    private readonly Lazy<SandboxSettings> _settings = new(() => Settings(TestAssembly));

    public string Uid => nameof(SandboxTestHostLauncher);
    public string Version => typeof(SandboxTestHostLauncher).Assembly.GetName().Version?.ToString() ?? "0.0.0";
    public string DisplayName => "Sandbox";
    public string Description => "Runs the test host inside a Sandbox sandbox (docs/testing.md)";

    /// <summary>The test application's assembly, beside which Sandbox.Build wrote the manifest.</summary>
    private static string TestAssembly => Assembly.GetEntryAssembly()?.Location is { Length: > 0 } l ? l
        : throw new AdapterException(AdapterErrors.NoManifest, "the test application's assembly has no path (single-file or in-memory): run it from its build output");

    /// <summary>Off (SANDBOX_DISABLE=1, enabled: false, SandboxEnabled=false, AllowUnsandboxed on a host that cannot
    /// sandbox): then no launcher is registered, the application does not restart, and the tests run as without Sandbox.</summary>
    public Task<bool> IsEnabledAsync() => Task.FromResult(_settings.Value.Enabled);

    private static SandboxSettings Settings(string source)
    {
        var settings = RunSandboxSettings.Parse(null, Environment.GetEnvironmentVariable)
            .Resolve(source, allowHint: null, Console.Error.WriteLine);
        if (settings.Enabled && settings.Isolation != "assembly")
        {
            throw new AdapterException(AdapterErrors.IsolationNotAvailable, $"{Path.GetFileName(source)}: isolation '{settings.Isolation}' is not available in Microsoft.Testing.Platform mode yet, only 'assembly': "
                + "set isolation: assembly in the test: section of sandbox.yaml, or run the project with `dotnet test` in VSTest mode");
        }
        return settings;
    }

    public Task<ITestHostHandle> LaunchTestHostAsync(TestHostLaunchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var source = TestAssembly;
        var settings = _settings.Value;
        var manifest = settings.Manifest ?? SandboxManifest.Read(source);
        var resultsDirectory = Path.GetFullPath(services.GetConfiguration().GetTestResultDirectory());
        Directory.CreateDirectory(resultsDirectory);
        var runDirectory = SandboxRun.CreateDirectory();
        try
        {
            var output = Path.TrimEndingDirectorySeparator(Path.GetDirectoryName(source)!);
            var config = SandboxRun.Config(manifest, output, TestHostCommand(context, source, resultsDirectory), runDirectory, RunAsController);
            // After the output directory's overlay, which would hide a results directory inside it.
            ReachController(config, context, resultsDirectory);
            var start = SandboxRun.Prepare(manifest, runDirectory, config, settings.Timeout);
            // The test host's console is the application's, as when the platform starts it itself.
            var process = Process.Start(start.StartInfo) ?? throw new AdapterException(AdapterErrors.HostCannotSandbox, $"could not start {manifest.Sandbox}");
            return Task.FromResult<ITestHostHandle>(new SandboxedTestHost(process, start.Id, manifest.Sandbox, runDirectory));
        }
        catch
        {
            SandboxRun.RemoveDirectory(runDirectory);
            throw;
        }
    }

    /// <summary>
    /// The test host's command line inside the sandbox: `dotnet exec` of the test assembly (the app host would look for
    /// .NET where the sandbox may not have it) with the controller's arguments, and the controller's results directory
    /// unless the arguments name one: the test host's own default would be in the sandbox's copy of the output.
    /// </summary>
    internal static List<string> TestHostCommand(TestHostLaunchContext context, string source, string resultsDirectory)
    {
        List<string> command = Path.GetFileName(context.FileName) == "dotnet"
            ? ["dotnet", .. context.Arguments]
            : ["dotnet", "exec", source, .. context.Arguments];
        if (!context.Arguments.Contains("--results-directory"))
        {
            command.AddRange(["--results-directory", resultsDirectory]);
        }
        return command;
    }

    /// <summary>
    /// What the test host needs of the host, and no more. The environment: the bundle's, plus what the platform and its
    /// extensions set for the test host (every TESTINGPLATFORM_ variable, and any variable whose value differs from the
    /// controller's own); the rest of the host's environment stays out. Every Unix socket the arguments or those
    /// variables name (the controller's pipes, `dotnet test`'s), and the results directory, bind-mounted at their own
    /// paths, after every mount of the bundle.
    /// </summary>
    internal static void ReachController(JsonObject config, TestHostLaunchContext context, string resultsDirectory)
    {
        var process = (JsonObject)config["process"]!;
        var env = (process["env"] as JsonArray ?? []).Select(e => (string)e!).ToList();
        var passed = context.EnvironmentVariables
            .Where(v => v.Key.StartsWith("TESTINGPLATFORM_", StringComparison.Ordinal) || Environment.GetEnvironmentVariable(v.Key) != v.Value)
            .OrderBy(v => v.Key, StringComparer.Ordinal)
            .ToList();
        env.RemoveAll(e => passed.Any(v => e.StartsWith(v.Key + "=", StringComparison.Ordinal)));
        env.AddRange(passed.Select(v => $"{v.Key}={v.Value}"));
        process["env"] = new JsonArray([.. env.Select(e => JsonValue.Create(e))]);

        var mounts = config["mounts"] as JsonArray ?? [];
        config["mounts"] = mounts;
        var sockets = context.Arguments.Concat(passed.Select(v => v.Value))
            .Where(p => p is not null && Path.IsPathFullyQualified(p) && Interop.Libc.IsSocket(p))
            .Distinct(StringComparer.Ordinal);
        foreach (var path in sockets.Append(resultsDirectory))
        {
            mounts.Add(new JsonObject
            {
                ["destination"] = path,
                ["type"] = "bind",
                ["source"] = path,
                ["options"] = new JsonArray { "rbind", "nosuid", "nodev" },
            });
        }
    }

    /// <summary>
    /// MTP's pipes accept only a peer of their own user (PipeOptions.CurrentUserOnly compares the peer's uid with its
    /// own, each as its own user namespace sees it), so the sandbox's user must be the controller's user. Rootless, the
    /// bundle already maps it to root inside; as root, a user namespace maps the sandbox's user to root outside, which
    /// leaves it no capability outside the sandbox's namespaces.
    /// </summary>
    internal static void RunAsController(JsonObject config)
    {
        if (!Interop.Libc.IsRoot || config["linux"] is not JsonObject linux || linux["uidMappings"] is not null)
        {
            return;
        }
        var namespaces = linux["namespaces"] as JsonArray ?? [];
        linux["namespaces"] = namespaces;
        if (!namespaces.Any(n => (string?)n?["type"] == "user"))
        {
            namespaces.Add(new JsonObject { ["type"] = "user" });
        }
        var user = config["process"]?["user"];
        linux["uidMappings"] = new JsonArray { IdMapping((uint?)user?["uid"] ?? 0, Interop.Libc.Geteuid()) };
        linux["gidMappings"] = new JsonArray { IdMapping((uint?)user?["gid"] ?? 0, Interop.Libc.Getegid()) };

        static JsonObject IdMapping(uint inside, uint outside) => new() { ["containerID"] = inside, ["hostID"] = outside, ["size"] = 1u };
    }
}
