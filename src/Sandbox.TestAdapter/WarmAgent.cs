using Microsoft.VisualStudio.TestPlatform.ObjectModel;

namespace Sandbox.TestAdapter;

/// <summary>
/// A warm start: the sandbox of this testhost's test assembly, started when testhost creates the adapter, before it
/// asks for anything. Starting a sandbox and a second .NET process takes a few hundred milliseconds, and testhost
/// spends about a hundred more between creating its executor and calling RunTests: the two overlap. The agent loads
/// the framework's adapter meanwhile and waits for its request. The first agent the run needs for that assembly, with
/// the same start (sandboxed, the same bundle and runtime, the same sandbox timeout), is this one; any other start
/// discards it (it is killed and its run directory removed), and so do Cancel, testhost's exit and a minute unused.
/// Only where the choice is certain: the adapter's directory holds exactly one test assembly with a manifest, and
/// what the project and the environment say (no runsettings yet) makes it sandboxed.
/// </summary>
internal static class WarmAgent
{
    /// <summary>How long an agent nobody asked for is kept.</summary>
    private static readonly TimeSpan Unused = TimeSpan.FromMinutes(1);

    private static readonly Lock Gate = new();
    private static Task<Warm?>? _starting;
    private static Timer? _expiry;

    private sealed record Warm(string Source, SandboxManifest Manifest, TimeSpan? Timeout, AgentProcess Agent, long StartedAt);

    /// <summary>Starts the warm agent in the background, once per process; does nothing where the choice is not certain.</summary>
    public static void Begin() => Begin(Path.GetDirectoryName(typeof(WarmAgent).Assembly.Location), Environment.GetEnvironmentVariable);

    internal static void Begin(string? directory, Func<string, string?> environment)
    {
        lock (Gate)
        {
            if (_starting is not null || directory is null)
            {
                return;
            }
            _starting = Task.Run(() => Start(directory, environment));
            // testhost's side of the protocol warms up once the agent is on its way (Take does not wait for it).
            _starting.ContinueWith(_ => Protocol.ProtocolWarmUp.Run(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Discard();
        }
    }

    private static Warm? Start(string directory, Func<string, string?> environment)
    {
        try
        {
            if (SourceIn(directory) is not { } source)
            {
                return null;
            }
            var settings = RunSandboxSettings.Parse(null, environment).Resolve(source, null, _ => { });
            if (!settings.Enabled || settings.Manifest is not { } manifest)
            {
                return null;
            }
            var warm = new Warm(source, manifest, settings.Timeout, AgentProcess.StartSandboxed(source, manifest, settings.Timeout), Environment.TickCount64);
            lock (Gate)
            {
                _expiry = new Timer(_ => Discard(), null, Unused, Timeout.InfiniteTimeSpan);
            }
            return warm;
        }
#pragma warning disable CA1031 // a warm start is only ever a head start: whatever went wrong, the run starts its agent as usual and says so
        catch (Exception)
#pragma warning restore CA1031
        {
            return null;
        }
    }

    /// <summary>The one test assembly in <paramref name="directory"/> with a manifest beside it, or null.</summary>
    internal static string? SourceIn(string directory)
    {
        var manifests = Directory.GetFiles(directory, "*.sandbox.json");
        if (manifests.Length != 1)
        {
            return null;
        }
        var stem = Path.GetFileName(manifests[0])[..^".sandbox.json".Length];
        var candidates = new[] { ".dll", ".exe" }.Select(e => Path.Combine(directory, stem + e)).Where(File.Exists).ToList();
        return candidates.Count == 1 ? candidates[0] : null;
    }

    /// <summary>
    /// The warm agent, when it was started for <paramref name="source"/> as <paramref name="settings"/> would start
    /// it; else null. Only the first call can have it: after that (or on a mismatch, which discards it) there is none.
    /// </summary>
    public static AgentProcess? Take(string source, SandboxSettings settings)
    {
        if (Claim() is not { } warm)
        {
            return null;
        }
        if (settings.Enabled && settings.Manifest is { } manifest && manifest == warm.Manifest && settings.Timeout == warm.Timeout
            && string.Equals(Path.GetFullPath(source), warm.Source, StringComparison.Ordinal))
        {
            // In testhost's diagnostic log (`dotnet test --diag`), which the tests read.
            EqtTrace.Info($"Sandbox: {source} runs in the warm agent's sandbox {warm.Agent.SandboxId}, started {Environment.TickCount64 - warm.StartedAt} ms before it was asked for");
            return warm.Agent;
        }
        EqtTrace.Info($"Sandbox: the warm agent's sandbox {warm.Agent.SandboxId} was started otherwise than {source} needs (the runsettings say so): discarded");
        warm.Agent.Dispose();
        return null;
    }

    /// <summary>Kills the warm agent if nobody took it, and removes its run directory.</summary>
    public static void Discard() => Claim()?.Agent.Dispose();

    /// <summary>The warm agent once its start is over, for the one caller that gets it; null for every other.</summary>
    private static Warm? Claim()
    {
        Task<Warm?>? starting;
        lock (Gate)
        {
            starting = _starting;
            _starting = Task.FromResult<Warm?>(null);
            _expiry?.Dispose();
            _expiry = null;
        }
        return starting?.Result;
    }
}
