using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.Testing.Platform.Configurations;
using Microsoft.Testing.Platform.Extensions.Messages;
using Microsoft.Testing.Platform.Extensions.OutputDevice;
using Microsoft.Testing.Platform.Extensions.TestHostControllers;
using Microsoft.Testing.Platform.OutputDevice;
using Microsoft.Testing.Platform.Services;

namespace Sandbox.TestAdapter.Mtp;

/// <summary>
/// Microsoft.Testing.Platform's test host launcher (ITestHostLauncher, experimental since 2.3): the controller has
/// prepared the test host's command line and environment (its pipes' paths, its own pid as `--internal-testhostcontroller-pid`)
/// and hands over only the start, which becomes `sandbox run` on a per-run copy of the project's bundle. The test
/// host reaches the controller (and `dotnet test`'s pipe) through the Unix sockets the context names, each
/// bind-mounted at its own path: no network is opened. Never forks: `sandbox` is started with
/// System.Diagnostics.Process (docs/design.md). The same object is the controller's test host lifetime handler (one
/// instance for both through a CompositeExtensionFactory): once the test host has exited it reads the sandbox's
/// RunReport, says what the sandbox used, or why it ended, on the console, publishes the RunReport as a file artifact
/// and adds both to the TRX reports the test host wrote (HostUsage).
/// </summary>
internal sealed class SandboxTestHostLauncher : ITestHostLauncher, ITestHostProcessLifetimeHandler, IDataProducer, IOutputDeviceDataProducer
{
    /// <summary>The platform's option naming `dotnet test`'s pipe (PlatformCommandLineProvider).</summary>
    private const string DotnetTestPipe = "dotnet-test-pipe";

    private readonly IServiceProvider _services;
    private readonly Lazy<SandboxSettings> _settings;
    private Launched? _launched;

    /// <summary>What the exit handler needs of the launch: where the RunReport will be, where reports go, since when.</summary>
    private sealed record Launched(string ReportPath, string ResultsDirectory, string ProgressPath, DateTime StartUtc);

    public SandboxTestHostLauncher(IServiceProvider services, SandboxCommandLineOptions options)
    {
        _services = services;
        _settings = new(() => options.Resolved ?? Settings(TestAssembly, SandboxCommandLineOptions.Read(services.GetCommandLineOptions(), Environment.GetEnvironmentVariable)));
    }

    public string Uid => nameof(SandboxTestHostLauncher);
    public string Version => typeof(SandboxTestHostLauncher).Assembly.GetName().Version?.ToString() ?? "0.0.0";
    public string DisplayName => "Sandbox";
    public string Description => "Runs the test host inside a Sandbox sandbox (docs/testing.md)";

    /// <summary>The test application's assembly, beside which Sandbox.Build wrote the manifest.</summary>
    internal static string TestAssembly => Assembly.GetEntryAssembly()?.Location is { Length: > 0 } l ? l
        : throw new AdapterException(AdapterErrors.NoManifest, "the test application's assembly has no path (single-file or in-memory): run it from its build output");

    public Type[] DataTypesProduced => [typeof(FileArtifact)];

    /// <summary>Off (SANDBOX_DISABLE=1, --sandbox-disable, enabled: false, SandboxEnabled=false, AllowUnsandboxed on a
    /// host that cannot sandbox): then no launcher is registered, the application does not restart, and the tests run as
    /// without Sandbox.</summary>
    public Task<bool> IsEnabledAsync() => Task.FromResult(_settings.Value.Enabled);

    /// <summary>The command line's `--sandbox-*` options over sandbox.yaml's `test:` section, as runsettings in VSTest mode.</summary>
    internal static SandboxSettings Settings(string source, RunSandboxSettings commandLine)
    {
        var settings = commandLine.Resolve(source, allowHint: "--" + SandboxCommandLineOptions.AllowUnsandboxed, Console.Error.WriteLine);
        if (settings.Enabled && settings.Isolation != "assembly")
        {
            // The controller starts one test host per run (one LaunchTestHostAsync, one single-connection pipe), so one
            // sandbox per class or test would need a controller of our own (docs/testing.md#microsofttestingplatform-mode).
            throw new AdapterException(AdapterErrors.IsolationNotAvailable, $"{Path.GetFileName(source)}: isolation '{settings.Isolation}' is not available in Microsoft.Testing.Platform mode, only 'assembly': "
                + "the platform starts one test host per run, so the whole run shares one sandbox. "
                + $"Run with --{SandboxCommandLineOptions.Isolation} assembly (or set isolation: assembly in the test: section of sandbox.yaml), or run the project with `dotnet test` in VSTest mode");
        }
        return settings;
    }

    public Task BeforeTestHostProcessStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task OnTestHostProcessStartedAsync(ITestHostProcessInformation testHostProcessInformation, CancellationToken cancellation) => Task.CompletedTask;

    /// <summary>After the test host's sandbox ended (its RunReport written), before the platform's summary.</summary>
    public async Task OnTestHostProcessExitedAsync(ITestHostProcessInformation testHostProcessInformation, CancellationToken cancellation)
    {
        if (_launched is not { } launched)
        {
            return;
        }
        var output = _services.GetOutputDevice();
        var usage = HostUsage.Read(launched.ReportPath);
        if (usage is null)
        {
            await output.DisplayAsync(this, new WarningMessageOutputDeviceData($"{AdapterErrors.SandboxCrashed}: the test host's sandbox left no RunReport ({launched.ReportPath}): its usage is unknown"), cancellation).ConfigureAwait(false);
            return;
        }
        var artifact = usage.WriteArtifact(launched.ResultsDirectory, Path.GetFileNameWithoutExtension(TestAssembly));
        var crashCause = usage.CrashCause(TakeProgress(launched.ProgressPath));
        if (crashCause is { } crash)
        {
            await output.DisplayAsync(this, new ErrorMessageOutputDeviceData(crash), cancellation).ConfigureAwait(false);
            if (_services.GetCommandLineOptions().IsOptionSet(DotnetTestPipe))
            {
                // Under `dotnet test` an SDK older than the platform's display-message protocol (1.3.0; the 10.0.1xx–4xx
                // SDKs) drops the message, but shows a failed application's standard error.
                await Console.Error.WriteLineAsync(crash).ConfigureAwait(false);
            }
        }
        else
        {
            // A session message: on the terminal, and forwarded to `dotnet test` by SDKs that take display messages.
            await output.DisplayAsync(this, new SessionMessageOutputDeviceData(usage.Summary.Describe()), cancellation).ConfigureAwait(false);
        }
        foreach (var trx in HostUsage.TrxFilesSince(launched.ResultsDirectory, launched.StartUtc))
        {
            usage.AddToTrx(trx, artifact, crashCause);
        }
        await _services.GetMessageBus().PublishAsync(this, new FileArtifact(new FileInfo(artifact), "Sandbox RunReport",
            "What the test host's sandbox used and how it ended (docs/run-report.md)")).ConfigureAwait(false);
    }

    public Task<ITestHostHandle> LaunchTestHostAsync(TestHostLaunchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var source = TestAssembly;
        var settings = _settings.Value;
        var manifest = settings.Manifest ?? SandboxManifest.Read(source);
        var resultsDirectory = Path.GetFullPath(_services.GetConfiguration().GetTestResultDirectory());
        Directory.CreateDirectory(resultsDirectory);
        var runDirectory = SandboxRun.CreateDirectory();
        try
        {
            var output = Path.TrimEndingDirectorySeparator(Path.GetDirectoryName(source)!);
            var config = SandboxRun.Config(manifest, output, TestHostCommand(context, source, resultsDirectory), runDirectory, RunAsController);
            // After the output directory's overlay, which would hide a results directory inside it.
            ReachController(config, context, resultsDirectory);
            var progress = Path.Combine(resultsDirectory, $".sandbox-progress-{Guid.NewGuid():N}");
            Watch(config, progress, settings.TestTimeout);
            var start = SandboxRun.Prepare(manifest, runDirectory, config, settings.Timeout);
            // The test host's console is the application's, as when the platform starts it itself.
            var startUtc = DateTime.UtcNow;
            var process = Process.Start(start.StartInfo) ?? throw new AdapterException(AdapterErrors.HostCannotSandbox, $"could not start {manifest.Sandbox}");
            _launched = new(start.ReportPath, resultsDirectory, progress, startUtc);
            return Task.FromResult<ITestHostHandle>(new SandboxedTestHost(process, start.Id, manifest.Sandbox, runDirectory));
        }
        catch
        {
            SandboxRun.RemoveDirectory(runDirectory);
            throw;
        }
    }

    /// <summary>What TestProgressWatch left in the results directory (the running tests, or the one over its timeout), removed.</summary>
    private static List<string> TakeProgress(string path)
    {
        try
        {
            return File.Exists(path) ? [.. File.ReadAllLines(path).Where(l => l.Length > 0)] : [];
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".tmp");
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

    /// <summary>TestProgressWatch's variables for the test host: where to keep the running tests, and the per-test timeout.</summary>
    private static void Watch(JsonObject config, string progressFile, TimeSpan? testTimeout)
    {
        var env = (JsonArray)config["process"]!["env"]!;
        env.Add(JsonValue.Create($"{TestProgressWatch.FileVariable}={progressFile}"));
        if (testTimeout is { } t)
        {
            env.Add(JsonValue.Create($"{TestProgressWatch.TestTimeoutVariable}={((long)Math.Ceiling(t.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture)}"));
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
