using System.Diagnostics;
using System.Text.RegularExpressions;
using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// samples/HermeticTests as eng/build.sh runs it: its run.sh (isolated NuGet cache, a listener on the host's loopback,
/// `dotnet test` with a TRX logger, a summary that checks the expected outcomes), with the outcomes read back from the
/// TRX. The listener must be gone afterwards, whatever happened.
/// </summary>
[Collection(SampleScriptRun.Collection)]
public sealed partial class HermeticSampleTests : IClassFixture<HermeticSampleTests.SampleRun>
{
    private readonly SampleRun _run;

    public HermeticSampleTests(SampleRun run) => _run = run;

    /// <summary>samples/HermeticTests/run.sh, run once, into a results directory of its own.</summary>
    public sealed class SampleRun() : SampleScriptRun("samples/HermeticTests/run.sh");

    private CommandResult Output => _run.Output ?? throw new InvalidOperationException("run.sh did not run");

    private TrxResult Result(string name) =>
        Assert.Single(TrxResult.Read(_run.Trx), r => r.Name == "HermeticTests." + name);

    [PrivilegedFact]
    public void The_script_exits_zero_since_every_test_had_its_expected_outcome_and_leaves_no_listener_behind()
    {
        Assert.True(Output.ExitCode == 0, Output.ToString());
        Assert.Contains("11 results, 11 with the expected outcome", Output.Output, StringComparison.Ordinal);
        Assert.Equal(0, _run.ListenersLeft);
        Assert.All(TrxResult.Read(_run.Trx), r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
    }

    [PrivilegedFact]
    public void The_network_test_fails_and_names_the_hosts_listener_it_could_not_reach()
    {
        var network = Result("Network.Connects_to_a_listener_on_the_hosts_loopback");
        Assert.Equal("Failed", network.Outcome);
        Assert.Contains($"127.0.0.1:{_run.Port}", network.Message, StringComparison.Ordinal);
        // From the host, the same listener answered: run.sh connects to it before the tests.
        Assert.Contains("from the host it answers: hello from the host", Output.Output, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void The_write_outside_tmp_is_refused_and_the_host_variable_is_absent()
    {
        Assert.Equal("Passed", Result("FileSystem.Writing_outside_tmp_and_the_output_directory_is_refused").Outcome);
        Assert.Equal("Passed", Result("HostEnvironment.Host_variable_is_absent").Outcome);
        Assert.Equal("Passed", Result("FileSystem.Writes_beside_the_assembly_stay_in_the_sandbox").Outcome);
        Assert.False(File.Exists(Path.Combine(PackageFixture.RepoRoot, "samples/HermeticTests/bin/Debug/net10.0/written-in-the-sandbox.txt")),
            "the file a sandboxed test wrote beside its assembly reached the host's output directory");
    }

    [PrivilegedFact]
    public void A_file_roots_build_put_beside_the_assembly_is_overwritten_in_the_sandbox_and_unchanged_on_the_host()
    {
        // The build ran as root, the test as the sandbox's uid 1000: the output's id-mapped lower layer lets it write.
        var fixtures = Path.Combine(PackageFixture.RepoRoot, "samples/HermeticTests/bin/Debug/net10.0/fixtures");
        Assert.Equal(0, new DirectoryInfo(fixtures).UnixFileMode.HasFlag(UnixFileMode.OtherWrite) ? 1 : 0);
        var result = Result("FileSystem.Files_the_build_put_beside_the_assembly_can_be_overwritten");
        Assert.True(result.Outcome == "Passed", result.Message);
        Assert.Equal("written by the build", File.ReadAllText(Path.Combine(fixtures, "greeting.txt")).Trim());
        Assert.False(File.Exists(Path.Combine(fixtures, "added-in-the-sandbox.txt")));
    }

    [PrivilegedFact]
    public void The_memory_test_is_OOM_killed_with_its_peak()
    {
        var oom = Result("Memory.Allocating_past_the_memory_limit_is_OOM_killed");
        Assert.Equal("Failed", oom.Outcome);
        Assert.Contains("SBX5024", oom.Message, StringComparison.Ordinal);
        Assert.Contains("killed by the OOM killer", oom.Message, StringComparison.Ordinal);
        Assert.Contains("OOM-killed yes", oom.Message, StringComparison.Ordinal);
        Assert.Matches(PeakMemory(), oom.Message);
    }

    [GeneratedRegex(@"peak memory [0-9]+(\.[0-9]+)? MiB")]
    private static partial Regex PeakMemory();
}

/// <summary>A sample's run.sh, run once, into a results directory of its own; the listener it starts must be gone afterwards.</summary>
public abstract class SampleScriptRun : IDisposable
{
    /// <summary>The samples' scripts share artifacts/nuget, whose Sandbox packages each drops before its restore: one at a time.</summary>
    public const string Collection = "sample scripts";

    protected SampleScriptRun(string script)
    {
        Results = Directory.CreateTempSubdirectory("sandbox-hermetic-sample-").FullName;
        if (Privileged.SkipReason is not null)
        {
            return;
        }
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = PackageFixture.RepoRoot };
        psi.ArgumentList.Add(Path.Combine(PackageFixture.RepoRoot, script));
        psi.ArgumentList.Add("--results");
        psi.ArgumentList.Add(Results);
        psi.Environment.Remove("SANDBOX_DISABLE");
        try
        {
            // On a timeout this kills run.sh's whole process tree, the listener with it.
            Output = PackageFixture.Run(psi, TimeSpan.FromMinutes(10));
        }
        finally
        {
            ListenersLeft = KillListeners();
        }
    }

    public string Results { get; }
    public CommandResult? Output { get; }

    /// <summary>Listener processes of this run that were still alive when run.sh had ended (and were killed then).</summary>
    public int ListenersLeft { get; }

    public string Trx => Path.Combine(Results, "hermetic.trx");

    /// <summary>The port run.sh's listener had on the host's 127.0.0.1.</summary>
    public int Port => int.Parse(File.ReadAllText(Path.Combine(Results, "listener.port")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Kills what is left of this run's listener: a process whose command line names this run's results directory
    /// (listener.py writes its port there), so nothing another run started is touched.
    /// </summary>
    private int KillListeners()
    {
        var killed = 0;
        foreach (var (pid, cmdline) in HostProcesses.All())
        {
            if (cmdline.Contains("listener.py", StringComparison.Ordinal) && cmdline.Contains(Results, StringComparison.Ordinal))
            {
                try
                {
                    using var p = Process.GetProcessById(pid);
                    p.Kill();
                    p.WaitForExit(TimeSpan.FromSeconds(5));
                    killed++;
                }
                catch (ArgumentException)
                {
                    // ended by itself meanwhile
                }
            }
        }
        return killed;
    }

    public void Dispose() => Directory.Delete(Results, recursive: true);
}
