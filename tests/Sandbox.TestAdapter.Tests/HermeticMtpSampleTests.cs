using System.Text.Json;
using System.Xml.Linq;
using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// samples/HermeticTests.Mtp, the Microsoft.Testing.Platform twin of samples/HermeticTests: its run.sh runs the test
/// application once without the Memory test (outcomes checked by the shared summary.py) and once with only it (the
/// whole test host OOM-killed, reported with SBX5024).
/// </summary>
[Collection(SampleScriptRun.Collection)]
public sealed class HermeticMtpSampleTests : IClassFixture<HermeticMtpSampleTests.SampleRun>
{
    private static readonly XNamespace Trx = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";
    private readonly SampleRun _run;

    public HermeticMtpSampleTests(SampleRun run) => _run = run;

    /// <summary>samples/HermeticTests.Mtp/run.sh, run once, into a results directory of its own.</summary>
    public sealed class SampleRun() : SampleScriptRun("samples/HermeticTests.Mtp/run.sh");

    private CommandResult Output => _run.Output ?? throw new InvalidOperationException("run.sh did not run");

    [PrivilegedFact]
    public void The_script_exits_zero_since_every_test_had_its_expected_outcome_and_leaves_no_listener_behind()
    {
        Assert.True(Output.ExitCode == 0, Output.ToString());
        Assert.Contains("10 results, 10 with the expected outcome", Output.Output, StringComparison.Ordinal);
        Assert.Contains("ok  the files a test wrote or overwrote beside its assembly stayed in its sandbox's copy-on-write layer", Output.Output, StringComparison.Ordinal);
        Assert.Equal(0, _run.ListenersLeft);
        var network = Assert.Single(TrxResult.Read(_run.Trx), r => r.Name == "HermeticTests.Network.Connects_to_a_listener_on_the_hosts_loopback");
        Assert.Equal("Failed", network.Outcome);
        Assert.Contains($"127.0.0.1:{_run.Port}", network.Message, StringComparison.Ordinal);
    }

    /// <summary>The one test host's usage line is the TRX run's, and its RunReport counts the refused IP socket.</summary>
    [PrivilegedFact]
    public void The_run_carries_the_test_hosts_usage_with_the_refused_socket()
    {
        var runInfo = XDocument.Load(_run.Trx).Descendants(Trx + "RunInfo").Select(r => r.Element(Trx + "Text")!.Value)
            .Single(t => t.StartsWith("Sandbox: peak memory ", StringComparison.Ordinal));
        Assert.Contains("denied syscalls: socket (EPERM)", runInfo, StringComparison.Ordinal);
        var report = Assert.Single(Directory.GetFiles(_run.Results, "Sandbox_HermeticTests.Mtp_*.json"));
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        Assert.Contains(json.RootElement.GetProperty("seccomp").GetProperty("denied").EnumerateArray(), d => d.GetProperty("syscall").GetString() == "socket");
    }

    [PrivilegedFact]
    public void The_memory_test_takes_its_test_host_down_and_the_OOM_kill_is_named_with_the_figures()
    {
        var log = File.ReadAllText(Path.Combine(_run.Results, "memory.log"));
        Assert.Contains("SBX5024: the test host's sandbox ended it: killed by the OOM killer (the sandbox's memory limit)", log, StringComparison.Ordinal);
        Assert.Contains("OOM-killed yes", log, StringComparison.Ordinal);
        Assert.Contains("ok  the Memory test's test host was OOM-killed", Output.Output, StringComparison.Ordinal);
    }
}
