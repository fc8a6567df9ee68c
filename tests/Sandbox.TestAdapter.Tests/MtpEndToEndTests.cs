using System.Text.Json;
using System.Xml.Linq;
using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// Microsoft.Testing.Platform mode (issue 12): an xunit v3 project on MTP (xunit.v3.mtp-v2 4.0.2, its MTP runner on)
/// with the package, run as an executable and with `dotnet test` in MTP mode (global.json), sandboxed and with
/// SANDBOX_DISABLE=1. One test can pass only inside a sandbox: the test host is the first process of its own pid
/// namespace, on the sandbox's hostname. The tests of the namespace Crash run only when filtered in: one allocates past
/// the sandbox's memory limit (256 MiB here), one never ends (run with --sandbox-timeout 5s, over sandbox.yaml's 1h, and
/// with --sandbox-test-timeout 3s).
/// </summary>
public sealed class MtpEndToEndTests : IClassFixture<MtpEndToEndTests.Runs>
{
    private const string Tests = $$"""
        using Xunit;
        namespace Sample
        {
        public class Inside
        {
            [Fact]
            public void Runs_in_a_sandbox()
            {
                Assert.Equal("sandbox", Environment.MachineName);
                Assert.Equal(1, Environment.ProcessId);
            }
            [Fact] public void Passes() { }
        {{TestProject.WritesBesideItsAssembly}}
        }
        }

        namespace Crash
        {
        {{TestProject.NeedsMoreThanTheMemoryLimit}}
            public class Hang
            {
                [Fact] public void Never_ends() => Thread.Sleep(Timeout.Infinite);
            }
        }
        """;

    /// <summary>The regular runs leave the Crash tests out.</summary>
    private static readonly string[] NoCrash = ["--filter-not-namespace", "Crash"];

    private readonly Runs _runs;

    public MtpEndToEndTests(Runs runs) => _runs = runs;

    public sealed class Runs : ComparedRuns
    {
        public Runs()
        {
            Directory.CreateDirectory(TempDirectory);
            TestApplication.SelectMtpForDotnetTest(Root);
            TestProject.Write(Suite, "suite",
                """<PackageReference Include="xunit.v3.mtp-v2" Version="4.0.2" />""" + TestProject.SandboxReference(Packages.Version),
                Tests, "<OutputType>Exe</OutputType><UseMicrosoftTestingPlatformRunner>true</UseMicrosoftTestingPlatformRunner>", vstest: false);
            // The default spec with a memory limit the Memory test exceeds, and a timeout the command line overrides.
            var template = File.ReadAllText(Path.Combine(PackageFixture.RepoRoot, "tasks/Sandbox.Build.Tasks/build/Sandbox.Build.default.yaml"));
            File.WriteAllText(Path.Combine(Suite, "sandbox.yaml"), template
                .Replace("{{OutputDirectory}}", $"\"{Output}\"", StringComparison.Ordinal)
                .Replace("memory: 2Gi", "memory: 256Mi", StringComparison.Ordinal) + "test:\n  timeout: 1h\n");
            var env = TestApplication.Environment(TempDirectory, sandboxed: true);
            Build = Packages.Dotnet(Suite, env, "build", "-nologo");
            var executable = Path.Combine(Output, "suite");
            Executable = Run(executable, env, [.. NoCrash, "--report-xunit-trx", "--results-directory", Path.Combine(Root, "executable")]);
            Sandboxed = Packages.Dotnet(Suite, env, ["test", "--no-build", .. NoCrash, "--report-xunit-trx", "--results-directory", Path.Combine(Root, "dotnet-test")]);
            WrittenFileReachedHost = File.Exists(Path.Combine(Output, "written-by-test.txt"));
            Oom = Run(executable, env, "--filter-class", "Crash.Memory", "--report-xunit-trx", "--results-directory", Path.Combine(Root, "oom"));
            OomDotnetTest = Packages.Dotnet(Suite, env, "test", "--no-build", "--filter-class", "Crash.Memory", "--results-directory", Path.Combine(Root, "oom-dotnet-test"));
            TimedOut = Run(executable, env, "--filter-class", "Crash.Hang", "--sandbox-timeout", "5s", "--results-directory", Path.Combine(Root, "timeout"));
            TestTimedOut = Run(executable, env, "--filter-class", "Crash.Hang", "--sandbox-test-timeout", "3s", "--results-directory", Path.Combine(Root, "test-timeout"));
            Help = Run(executable, env, "--help");
            BadTimeout = Run(executable, env, "--sandbox-timeout", "soon");
            ClassIsolation = Run(executable, env, "--sandbox-isolation", "class");
            Leftovers = [.. Directory.EnumerateFileSystemEntries(TempDirectory, "sandbox-test-*"), .. HostProcesses.With(Path.Combine(Output, "suite"))];
            var plain = TestApplication.Environment(TempDirectory, sandboxed: false);
            PlainExecutable = Run(executable, plain, NoCrash);
            DisabledByOption = Run(executable, env, [.. NoCrash, "--sandbox-disable"]);
            PlainRun = Packages.Dotnet(Suite, plain, ["test", "--no-build", .. NoCrash]);
            PlainOom = Run(executable, plain, "--filter-class", "Crash.Memory");
        }

        public CommandResult Executable { get; }
        public CommandResult PlainExecutable { get; }
        public CommandResult DisabledByOption { get; }
        public CommandResult Oom { get; }
        public CommandResult OomDotnetTest { get; }
        public CommandResult PlainOom { get; }
        public CommandResult TimedOut { get; }
        public CommandResult TestTimedOut { get; }
        public CommandResult Help { get; }
        public CommandResult BadTimeout { get; }
        public CommandResult ClassIsolation { get; }
        public List<string> Leftovers { get; }

        private CommandResult Run(string executable, Dictionary<string, string?> environment, params string[] args) =>
            TestApplication.Run(Suite, executable, environment, args);
    }

    [PrivilegedFact]
    public void The_executable_runs_its_tests_in_a_sandbox_and_fails_the_sandbox_check_without()
    {
        Assert.True(_runs.Build.ExitCode == 0, _runs.Build.ToString());
        Assert.True(_runs.Executable.ExitCode == 0, _runs.Executable.ToString());
        Assert.Contains("succeeded: 3", _runs.Executable.Output, StringComparison.Ordinal);
        // Plain, the same executable runs its tests in its own process: MTP's exit code 2, one test failed.
        Assert.True(_runs.PlainExecutable.ExitCode == 2, _runs.PlainExecutable.ToString());
        Assert.Contains("failed: 1", _runs.PlainExecutable.Output, StringComparison.Ordinal);
        Assert.Contains("Runs_in_a_sandbox", _runs.PlainExecutable.Output, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Dotnet_test_in_MTP_mode_runs_the_tests_in_a_sandbox()
    {
        Assert.True(_runs.Sandboxed.ExitCode == 0, _runs.Sandboxed.ToString());
        Assert.Contains("succeeded: 3", _runs.Sandboxed.Output, StringComparison.Ordinal);
        Assert.True(_runs.PlainRun.ExitCode != 0, _runs.PlainRun.ToString());
        Assert.Contains("failed: 1", _runs.PlainRun.Output, StringComparison.Ordinal);
    }

    /// <summary>The `--sandbox-*` options: listed by --help, checked with the runsettings' SBX codes, and
    /// --sandbox-disable runs the tests as SANDBOX_DISABLE=1 does (the sandbox check fails).</summary>
    [PrivilegedFact]
    public void The_sandbox_options_are_listed_checked_and_obeyed()
    {
        foreach (var option in new[] { "--sandbox-disable", "--sandbox-isolation", "--sandbox-timeout", "--sandbox-test-timeout", "--sandbox-allow-unsandboxed" })
        {
            Assert.Contains(option, _runs.Help.Output, StringComparison.Ordinal);
        }
        // 5: the platform's exit code for a bad command line; 2: a test failed.
        Ended(_runs.BadTimeout, 5, "SBX5026: --sandbox-timeout: 'soon' is not a duration: write e.g. --sandbox-timeout 30s");
        Ended(_runs.ClassIsolation, 5, "SBX5030: suite.dll: isolation 'class' is not available in Microsoft.Testing.Platform mode");
        Ended(_runs.DisabledByOption, 2, "failed: 1");
        Assert.DoesNotContain("Sandbox: peak memory", _runs.DisabledByOption.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// The sandbox's figures: a line on the console, the RunReport as an out-of-process file artifact in the results
    /// directory, and both in the TRX the test host wrote (a run-level message and a "Sandbox" collector's attachment).
    /// An unsandboxed run has none of them.
    /// </summary>
    [PrivilegedFact]
    public void The_sandbox_usage_reaches_the_console_a_file_artifact_and_the_TRX()
    {
        Assert.Matches(@"Sandbox: peak memory \d+\.\d MiB .* · CPU .* · wall \d+\.\d\d s · OOM-killed no · timed out no · denied syscalls: none · blocked addresses: none", _runs.Executable.Output);
        Assert.DoesNotContain("Sandbox: peak memory", _runs.PlainExecutable.Output, StringComparison.Ordinal);
        foreach (var results in new[] { "executable", "dotnet-test" })
        {
            var report = Assert.Single(Directory.GetFiles(Path.Combine(_runs.Root, results), "Sandbox_suite_*.json"));
            using (var json = JsonDocument.Parse(File.ReadAllText(report)))
            {
                Assert.Equal(0, json.RootElement.GetProperty("exitCode").GetInt32());
                Assert.True(json.RootElement.GetProperty("rusage").GetProperty("maxRssBytes").GetInt64() > 0);
            }
            Assert.Contains(Path.GetFileName(report), results == "executable" ? _runs.Executable.Output : _runs.Sandboxed.Output, StringComparison.Ordinal);

            var trx = Assert.Single(Directory.GetFiles(Path.Combine(_runs.Root, results), "*.trx"));
            var summary = XDocument.Load(trx).Descendants(Trx + "ResultSummary").Single();
            var text = Assert.Single(summary.Descendants(Trx + "RunInfo")).Element(Trx + "Text")!.Value;
            Assert.StartsWith("Sandbox: peak memory ", text, StringComparison.Ordinal);
            var collector = summary.Descendants(Trx + "Collector").Single(c => (string?)c.Attribute("collectorDisplayName") == "Sandbox");
            var href = (string)collector.Descendants(Trx + "A").Single().Attribute("href")!;
            Assert.Equal(File.ReadAllText(report), File.ReadAllText(Path.Combine(Path.GetDirectoryName(trx)!, href)));
        }
    }

    /// <summary>A test host killed by the sandbox's OOM killer is reported as such (SBX5024) with the figures, as an
    /// executable and under `dotnet test`; unsandboxed, with no limit, the same test passes.</summary>
    [PrivilegedFact]
    public void A_test_host_over_the_memory_limit_is_reported_OOM_killed_with_its_figures()
    {
        // 7: the platform's exit code for a test host that did not exit gracefully.
        Ended(_runs.Oom, 7, "SBX5024: the test host's sandbox ended it: killed by the OOM killer (the sandbox's memory limit)",
            "Running then: Crash.Memory.Needs_more_than_the_limit.");
        Assert.Matches(@"Sandbox: peak memory \d+\.\d MiB .* · OOM-killed yes · timed out no", _runs.Oom.Output);
        using (var json = JsonDocument.Parse(File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(_runs.Root, "oom"), "Sandbox_suite_*.json")))))
        {
            Assert.True(json.RootElement.GetProperty("oomKilled").GetBoolean());
        }
        Assert.True(_runs.OomDotnetTest.ExitCode != 0, _runs.OomDotnetTest.ToString());
        Assert.Contains("SBX5024: the test host's sandbox ended it: killed by the OOM killer", _runs.OomDotnetTest.Output, StringComparison.Ordinal);
        Assert.True(_runs.PlainOom.ExitCode == 0, _runs.PlainOom.ToString());
    }

    /// <summary>--sandbox-timeout (5 s, over sandbox.yaml's 1 h) kills a test host that never ends, reported as timed out.</summary>
    [PrivilegedFact]
    public void A_test_host_over_the_timeout_is_reported_timed_out_with_its_figures()
    {
        Ended(_runs.TimedOut, 7, "SBX5024: the test host's sandbox ended it: timed out after 5.00 s", "Running then: Crash.Hang.Never_ends.",
            "OOM-killed no · timed out yes");
    }

    /// <summary>--sandbox-test-timeout: the test host's watcher stops the host when a test runs longer, and the controller
    /// names the test (SBX5029); the file through which they talk is gone afterwards.</summary>
    [PrivilegedFact]
    public void A_test_over_the_per_test_timeout_is_named_and_its_host_stopped()
    {
        Ended(_runs.TestTimedOut, 7, "SBX5029: Crash.Hang.Never_ends timed out after 3 s (the per-test timeout)", "timed out no");
        foreach (var results in new[] { "executable", "dotnet-test", "oom", "timeout", "test-timeout" })
        {
            Assert.Empty(Directory.GetFiles(Path.Combine(_runs.Root, results), ".sandbox-progress-*"));
        }
    }

    private static readonly XNamespace Trx = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";

    /// <summary>Asserts that <paramref name="run"/> ended with <paramref name="exitCode"/> and printed each of <paramref name="texts"/>.</summary>
    private static void Ended(CommandResult run, int exitCode, params string[] texts)
    {
        Assert.True(run.ExitCode == exitCode, run.ToString());
        foreach (var text in texts)
        {
            Assert.Contains(text, run.Output, StringComparison.Ordinal);
        }
    }

    /// <summary>The test host writes its reports into the bind-mounted results directory; what it writes beside its
    /// assembly stays in the sandbox's copy-on-write layer.</summary>
    [PrivilegedFact]
    public void Reports_reach_the_host_and_nothing_else_does()
    {
        foreach (var results in new[] { "executable", "dotnet-test" })
        {
            var trx = Directory.GetFiles(Path.Combine(_runs.Root, results), "*.trx");
            Assert.True(trx.Length == 1, $"{results}: {string.Join(", ", trx)}");
            var passed = TrxResult.Read(trx[0]).Where(r => r.Outcome == "Passed").Select(r => r.Name).Order(StringComparer.Ordinal);
            Assert.Equal(["Sample.Inside.Passes", "Sample.Inside.Runs_in_a_sandbox", "Sample.Inside.Writes_beside_its_assembly"], passed);
        }
        Assert.False(_runs.WrittenFileReachedHost);
        Assert.Empty(_runs.Leftovers);
    }
}
