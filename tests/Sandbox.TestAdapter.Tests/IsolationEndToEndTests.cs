using System.Diagnostics;
using System.Text.RegularExpressions;
using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// `class` and `test` isolation, parallel sandboxes, the per-test timeout, the `test:` section of sandbox.yaml, and
/// what is left after Ctrl+C or a killed testhost, through `dotnet test` on a generated xunit project. Each test
/// writes a mark its process drew at random, so which tests shared a sandbox shows in the TRX file.
/// </summary>
public sealed partial class IsolationEndToEndTests : IClassFixture<IsolationEndToEndTests.Project>
{
    private const string Tests = """
        using Xunit;
        using Xunit.Abstractions;
        namespace Iso;
        public static class Mark
        {
            public static readonly string Process = Guid.NewGuid().ToString("N")[..12];
            public static void Say(ITestOutputHelper o) => o.WriteLine($"process={Process}");
        }
        public class A(ITestOutputHelper o)
        {
            [Fact] public void One() => Mark.Say(o);
            [Fact] public void Two() => Mark.Say(o);
            [Theory, InlineData(1), InlineData(2)] public void Rows(int n) { Mark.Say(o); Assert.True(n > 0); }
        }
        public class B(ITestOutputHelper o)
        {
            [Fact] public void One() => Mark.Say(o);
            [Fact] public void Fails() { Mark.Say(o); Assert.Fail("b fails"); }
        }
        public class Hanging(ITestOutputHelper o)
        {
            [Fact] public void Quick() => Mark.Say(o);
            [Fact] public void Forever() { Mark.Say(o); Thread.Sleep(Timeout.Infinite); }
        }
        public class P1(ITestOutputHelper o)
        {
            [Fact] public void Window() { var start = DateTime.UtcNow; Thread.Sleep(5000); o.WriteLine($"window={start.Ticks}-{DateTime.UtcNow.Ticks}"); }
        }
        public class P2(ITestOutputHelper o)
        {
            [Fact] public void Window() { var start = DateTime.UtcNow; Thread.Sleep(5000); o.WriteLine($"window={start.Ticks}-{DateTime.UtcNow.Ticks}"); }
        }
        """;

    private const string Marked = "FullyQualifiedName~Iso.A|FullyQualifiedName~Iso.B";

    public sealed class Project : IDisposable
    {
        public Project()
        {
            Packages = new PackageFixture();
            Dir = Path.Combine(Packages.Root, "iso");
            TestProject.Write(Dir, "iso", """
                <PackageReference Include="xunit" Version="2.9.3" />
                <PackageReference Include="xunit.runner.visualstudio" Version="3.1.5" />
                """ + TestProject.SandboxReference(Packages.Version), Tests);
            Build = Packages.Dotnet(Dir, "build", "-nologo");
            Assert.True(Build.ExitCode == 0, Build.ToString());
            Directory.CreateDirectory(TempDirectory);
        }

        public PackageFixture Packages { get; }
        public string Dir { get; }
        public CommandResult Build { get; }
        public string TempDirectory => Path.Combine(Packages.Root, "tmp");
        private int _runs;

        /// <summary>`dotnet test --no-build` with a filter and runsettings arguments; the TRX file's results.</summary>
        internal (CommandResult Output, List<TrxResult> Results) Test(string filter, params string[] settings) => Test(null, filter, settings);

        /// <summary>The same, with testhost's diagnostic log written to <paramref name="diag"/> when given.</summary>
        internal (CommandResult Output, List<TrxResult> Results) Test(string? diag, string filter, string[] settings)
        {
            var trx = Path.Combine(Packages.Root, $"run{Interlocked.Increment(ref _runs)}.trx");
            string[] diagnostics = diag is null ? [] : ["--diag", diag];
            var output = Packages.Dotnet(Dir, new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = null, ["TMPDIR"] = TempDirectory },
                ["test", "--no-build", "--filter", filter, "--logger", $"trx;LogFileName={trx}", .. diagnostics, "--", .. settings]);
            return (output, File.Exists(trx) ? TrxResult.Read(trx) : []);
        }

        public void Dispose() => Packages.Dispose();
    }

    private readonly Project _project;

    public IsolationEndToEndTests(Project project) => _project = project;

    [GeneratedRegex(@"process=(\w+)")]
    private static partial Regex ProcessMark();

    private static string MarkOf(TrxResult r) => ProcessMark().Match(r.StdOut) is { Success: true } m ? m.Groups[1].Value : $"(no mark: {r.StdOut})";

    private static string ClassOf(TrxResult r) => r.StdOut.Length == 0 ? "" : r.Name[..r.Name.LastIndexOf('.', r.Name.IndexOf('(') is var p and >= 0 ? p : r.Name.Length - 1)];

    [PrivilegedTheory]
    [InlineData("assembly")]
    [InlineData("class")]
    [InlineData("test")]
    public void Each_isolation_gives_the_same_results_with_one_process_per_assembly_class_or_test(string isolation)
    {
        var (output, results) = _project.Test(Marked, $"Sandbox.Isolation={isolation}");
        Assert.True(results.Count == 6, output.ToString());
        Assert.Equal(
            ["Iso.A.One:Passed", "Iso.A.Rows(n: 1):Passed", "Iso.A.Rows(n: 2):Passed", "Iso.A.Two:Passed", "Iso.B.Fails:Failed", "Iso.B.One:Passed"],
            results.Select(r => $"{r.Name}:{r.Outcome}").Order(StringComparer.Ordinal));
        Assert.Equal("b fails", results.Single(r => r.Name == "Iso.B.Fails").Message);
        Assert.All(results, r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
        var marks = results.Select(MarkOf).ToList();
        Assert.DoesNotContain(marks, m => m.StartsWith('(')); // every test said where it ran
        var groups = results.GroupBy(ClassOf).ToList();
        switch (isolation)
        {
            case "assembly":
                Assert.Single(marks.Distinct());
                break;
            case "class":
                Assert.All(groups, g => Assert.Single(g.Select(MarkOf).Distinct()));
                Assert.Equal(2, marks.Distinct().Count());
                break;
            default:
                Assert.Equal(6, marks.Distinct().Count());
                break;
        }
    }

    [GeneratedRegex(@"Sandbox: (.+) runs in the warm agent's sandbox (sbx-test-[0-9a-f]+), started (\d+) ms before it was asked for")]
    private static partial Regex WarmTaken();

    [GeneratedRegex(@"Sandbox: the warm agent's sandbox (sbx-test-[0-9a-f]+) was started otherwise than (.+) needs")]
    private static partial Regex WarmDiscarded();

    /// <summary>testhost's own diagnostic log of a run with `--diag` in <paramref name="dir"/>.</summary>
    private static string HostLog(string dir) =>
        string.Concat(Directory.GetFiles(dir, "*.host.*").Select(File.ReadAllText));

    [PrivilegedFact]
    public void The_assemblys_sandbox_starts_when_testhost_creates_the_adapter_and_runs_the_tests_when_asked()
    {
        var diag = Path.Combine(_project.Packages.Root, "diag-warm");
        var (output, results) = _project.Test(Path.Combine(diag, "log.txt"), Marked, []);
        Assert.True(results.Count == 6, output.ToString());
        Assert.Equal(5, results.Count(r => r.Outcome == "Passed"));
        Assert.Single(results.Select(MarkOf).Distinct());
        var taken = WarmTaken().Match(HostLog(diag));
        Assert.True(taken.Success, "testhost's log does not say the warm agent ran the tests");
        Assert.Equal(Path.Combine(_project.Dir, "bin/Debug/net10.0/iso.dll"), taken.Groups[1].Value);
        Assert.DoesNotMatch(WarmDiscarded(), HostLog(diag));
        // The RunReport every result carries is that sandbox's.
        Assert.All(results, r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(_project.Dir, "TestResults"), taken.Groups[2].Value + ".runreport.json", SearchOption.AllDirectories));
    }

    [PrivilegedFact]
    public void A_warm_sandbox_the_runsettings_start_otherwise_is_discarded_and_leaves_nothing_behind()
    {
        var diag = Path.Combine(_project.Packages.Root, "diag-discarded");
        // The project sets no sandbox timeout: one from the runsettings makes another `sandbox run`.
        var (output, results) = _project.Test(Path.Combine(diag, "log.txt"), Marked, ["Sandbox.Timeout=10m"]);
        Assert.True(results.Count == 6, output.ToString());
        Assert.Equal(5, results.Count(r => r.Outcome == "Passed"));
        var discarded = WarmDiscarded().Match(HostLog(diag));
        Assert.True(discarded.Success, "testhost's log does not say the warm agent was discarded");
        Assert.DoesNotMatch(WarmTaken(), HostLog(diag));
        var left = WaitUntil(TimeSpan.FromSeconds(10), () => Leftovers([discarded.Groups[1].Value]));
        Assert.True(left.Count == 0, $"left: {string.Join(", ", left)}");
    }

    [PrivilegedTheory]
    [InlineData("assembly")]
    [InlineData("class")]
    public void A_test_over_its_timeout_fails_timed_out_and_the_rest_of_its_sandbox_still_runs(string isolation)
    {
        var (output, results) = _project.Test("FullyQualifiedName~Iso.Hanging|FullyQualifiedName~Iso.A.One", $"Sandbox.Isolation={isolation}", "Sandbox.TestTimeout=3s");
        Assert.True(results.Count == 3, output.ToString());
        var forever = results.Single(r => r.Name == "Iso.Hanging.Forever");
        Assert.Equal("Failed", forever.Outcome);
        Assert.StartsWith("SBX5029: timed out after 3 s", forever.Message, StringComparison.Ordinal);
        Assert.Contains(forever.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal));
        Assert.Equal("Passed", results.Single(r => r.Name == "Iso.Hanging.Quick").Outcome);
        Assert.Equal("Passed", results.Single(r => r.Name == "Iso.A.One").Outcome);
    }

    [GeneratedRegex(@"window=(\d+)-(\d+)")]
    private static partial Regex Window();

    [PrivilegedTheory]
    [InlineData(1)]
    [InlineData(2)]
    public void Parallel_says_how_many_sandboxes_run_at_once(int parallel)
    {
        var (output, results) = _project.Test("FullyQualifiedName~Iso.P", "Sandbox.Isolation=class", $"Sandbox.Parallel={parallel}");
        Assert.True(results.Count == 2, output.ToString());
        var windows = results.Select(r => Window().Match(r.StdOut)).Select(m => (Start: long.Parse(m.Groups[1].Value), End: long.Parse(m.Groups[2].Value))).OrderBy(w => w.Start).ToList();
        var overlap = windows[1].Start < windows[0].End;
        // One at a time cannot overlap; two at once both sleep 5 s from their start, which overlaps unless one
        // sandbox started 5 s after the other.
        Assert.True(overlap == (parallel == 2), $"windows {windows[0]} and {windows[1]}\n{output}");
    }

    [PrivilegedFact]
    public void The_test_section_of_sandbox_yaml_sets_isolation_and_runsettings_win_over_it()
    {
        var template = File.ReadAllText(Path.Combine(PackageFixture.RepoRoot, "tasks/Sandbox.Build.Tasks/build/Sandbox.Build.default.yaml"));
        var yaml = Path.Combine(_project.Dir, "sandbox.yaml");
        File.WriteAllText(yaml, template.Replace("{{OutputDirectory}}", $"\"{Path.Combine(_project.Dir, "bin/Debug/net10.0")}\"", StringComparison.Ordinal)
            + "test:\n  isolation: test\n");
        try
        {
            var build = _project.Packages.Dotnet(_project.Dir, "build", "-nologo");
            Assert.True(build.ExitCode == 0, build.ToString());
            var (output, fromYaml) = _project.Test(Marked);
            Assert.True(fromYaml.Count == 6, output.ToString());
            Assert.Equal(6, fromYaml.Select(MarkOf).Distinct().Count());
            var (output2, overridden) = _project.Test(Marked, "Sandbox.Isolation=assembly");
            Assert.True(overridden.Count == 6, output2.ToString());
            Assert.Single(overridden.Select(MarkOf).Distinct());
        }
        finally
        {
            File.Delete(yaml);
            _project.Packages.Dotnet(_project.Dir, "build", "-nologo");
        }
    }

    [PrivilegedTheory]
    [InlineData("SIGINT to dotnet test's process group (Ctrl+C)")]
    [InlineData("SIGKILL to testhost")]
    public void Stopping_the_run_mid_test_leaves_no_process_state_directory_cgroup_or_run_directory(string how)
    {
        var psi = new ProcessStartInfo("setsid") { WorkingDirectory = _project.Dir, RedirectStandardOutput = true, RedirectStandardError = true };
        // setsid, so that the signal reaches this run's group only; SIGINT as a terminal's, not ignored as a
        // background job's would be.
        foreach (var a in new[] { "env", "--default-signal=INT", "dotnet", "test", "--no-build", "--filter", "FullyQualifiedName~Iso.Hanging", "--", "Sandbox.Isolation=class" })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["NUGET_PACKAGES"] = _project.Packages.NuGetCache;
        psi.Environment["TMPDIR"] = _project.TempDirectory;
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment.Remove("SANDBOX_DISABLE");
        using var run = Process.Start(psi)!;
        try
        {
            StopMidTest(run, how);
        }
        finally
        {
            // Whatever failed above, the run and its group go.
            Signal("-KILL", $"-{run.Id}");
        }
    }

    private void StopMidTest(Process run, string how)
    {
        var stdout = run.StandardOutput.ReadToEndAsync();
        var stderr = run.StandardError.ReadToEndAsync();
        var ids = new HashSet<string>();
        var deadline = Stopwatch.StartNew();
        // Until the hanging test's sandbox runs: a state directory whose bundle is in this run's temporary directory.
        while (deadline.Elapsed < TimeSpan.FromMinutes(2) && !OurContainers(ids).Any(id => Directory.Exists($"/run/sandbox/{id}")))
        {
            if (run.HasExited)
            {
                Assert.Fail("dotnet test ended before its sandbox ran: " + stdout.Result + stderr.Result);
            }
            Thread.Sleep(100);
        }
        Thread.Sleep(1500); // the test is running now, the other class finished or still going
        OurContainers(ids);
        Assert.NotEmpty(ids);
        if (how.StartsWith("SIGINT", StringComparison.Ordinal))
        {
            Signal("-INT", $"-{run.Id}");
        }
        else
        {
            var testhost = HostProcesses.All().Single(p => p.CommandLine.Contains("--runtimeconfig", StringComparison.Ordinal)
                && p.CommandLine.Contains(_project.Dir, StringComparison.Ordinal) && !p.CommandLine.Contains("Sandbox.TestAgent", StringComparison.Ordinal));
            Signal("-KILL", testhost.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (!run.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            Signal("-KILL", $"-{run.Id}");
            Assert.Fail("dotnet test did not end within a minute of " + how);
        }
        // What `sandbox run` does after its parent went takes a moment.
        var left = WaitUntil(TimeSpan.FromSeconds(20), () => Leftovers(ids));
        Assert.True(left.Count == 0, $"left after {how}: {string.Join(", ", left)} (containers seen: {string.Join(" ", ids)})\n{stdout.Result}{stderr.Result}");
    }

    /// <summary>Ids of this project's containers in the state directory (their bundle is a per-run copy in its temporary directory).</summary>
    private List<string> OurContainers(HashSet<string> seen)
    {
        if (Directory.Exists("/run/sandbox"))
        {
            foreach (var dir in Directory.EnumerateDirectories("/run/sandbox", "sbx-test-*"))
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(dir, "state.json")).Contains(_project.TempDirectory, StringComparison.Ordinal))
                    {
                        seen.Add(Path.GetFileName(dir));
                    }
                }
                catch (IOException)
                {
                    // being created or removed
                }
            }
        }
        return [.. seen];
    }

    private List<string> Leftovers(HashSet<string> ids)
    {
        var left = new List<string>();
        left.AddRange(ids.Where(id => Directory.Exists($"/run/sandbox/{id}")).Select(id => $"state directory {id}"));
        left.AddRange(Directory.EnumerateDirectories("/sys/fs/cgroup", "*", new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 3, IgnoreInaccessible = true })
            .Where(d => ids.Any(id => Path.GetFileName(d).EndsWith(id, StringComparison.Ordinal))).Select(d => $"cgroup {d}"));
        // What the directory holds says how far its run got (bundle, report.json, ...), should one be left.
        left.AddRange(Directory.EnumerateDirectories(_project.TempDirectory, "sandbox-test-*")
            .Select(d => $"run directory {d} ({string.Join(" ", Directory.EnumerateFileSystemEntries(d).Select(Path.GetFileName).Order(StringComparer.Ordinal))})"));
        left.AddRange(HostProcesses.All().Where(p => p.CommandLine.Contains(_project.Dir, StringComparison.Ordinal) || p.CommandLine.Contains(_project.TempDirectory, StringComparison.Ordinal))
            .Select(p => $"process {p.Pid} {p.CommandLine}"));
        return left;
    }

    private static List<string> WaitUntil(TimeSpan limit, Func<List<string>> check)
    {
        var sw = Stopwatch.StartNew();
        var left = check();
        while (left.Count > 0 && sw.Elapsed < limit)
        {
            Thread.Sleep(200);
            left = check();
        }
        return left;
    }

    private static void Signal(string signal, string target)
    {
        using var kill = Process.Start("kill", [signal, "--", target])!;
        kill.WaitForExit();
    }
}
