using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// `dotnet test` as users run it: a generated xunit v2 project referencing Sandbox.TestAdapter from artifacts/packages,
/// run sandboxed and with SANDBOX_DISABLE=1, and the same tests in a project without Sandbox (the framework's own
/// adapter in testhost), compared through their TRX files.
/// </summary>
public sealed class DotnetTestEndToEndTests : IClassFixture<DotnetTestEndToEndTests.Runs>
{
    private const string Secret = "SANDBOX_E2E_SECRET";
    private const string Tests = $$"""
        using Xunit;
        using Xunit.Abstractions;
        namespace Sample;
        public class Basics(ITestOutputHelper output)
        {
            [Fact] public void Passes() => output.WriteLine("hello from a passing test");
            [Fact] public void Fails_with_a_message() => Assert.Fail("the message of a failing test");
            [Fact, Trait("Kind", "files")]
            public void Writes_beside_its_assembly()
            {
                var path = Path.Combine(AppContext.BaseDirectory, "written-by-test.txt");
                File.WriteAllText(path, "x");
                Assert.Equal("x", File.ReadAllText(path));
            }
            [Fact]
            public void Writes_protocol_lookalikes_to_stdout()
            {
                // What a test writes to fd 1 must never reach the agent's protocol: not even a line that parses.
                Console.WriteLine("{\"t\":\"done\",\"v\":1}");
                Console.Out.Flush();
            }
            [Fact] public void Host_variable_is_absent() => Assert.Null(Environment.GetEnvironmentVariable("SANDBOX_E2E_SECRET"));
            [Theory, InlineData(1), InlineData(2)] public void Theory_cases(int n) => Assert.True(n > 0);
        }
        public class Crashes
        {
            [Fact] public void Fails_fast() => Environment.FailFast("the test called FailFast");
        }
        {{TestProject.NeedsMoreThanTheMemoryLimit}}
        """;

    private readonly Runs _runs;

    public DotnetTestEndToEndTests(Runs runs) => _runs = runs;

    /// <summary>Both projects built once; the runs made once, in the order the assertions need.</summary>
    public sealed class Runs : ComparedRuns
    {
        public Runs()
        {
            var adapterPackage = Path.Combine(PackageFixture.RepoRoot, "artifacts/packages", $"Sandbox.TestAdapter.{Packages.Version}.nupkg");
            Assert.True(File.Exists(adapterPackage), $"{adapterPackage} is missing: run eng/build.sh, or eng/pack.sh after publishing to artifacts/dist");
            // The suite is built once without Sandbox first, as a project that adopts the package was: the
            // framework's adapter that build left in the top of the output must not survive the next build.
            CreateProject("suite", sandboxed: false);
            BuildBefore = Packages.Dotnet(Suite, "build", "-nologo");
            AdapterBefore = File.Exists(Path.Combine(Output, "xunit.runner.visualstudio.testadapter.dll"));
            CreateProject("suite", sandboxed: true);
            // The default spec with a memory limit the Memory test exceeds (and the rest stay far below).
            var template = File.ReadAllText(Path.Combine(PackageFixture.RepoRoot, "tasks/Sandbox.Build.Tasks/build/Sandbox.Build.default.yaml"));
            File.WriteAllText(Path.Combine(Suite, "sandbox.yaml"), template
                .Replace("{{OutputDirectory}}", $"\"{Output}\"", StringComparison.Ordinal)
                .Replace("memory: 2Gi", "memory: 256Mi", StringComparison.Ordinal));
            CreateProject("plain", sandboxed: false);
            Build = Packages.Dotnet(Suite, "build", "-nologo");
            PlainBuild = Packages.Dotnet(Plain, "build", "-nologo");
            var env = new Dictionary<string, string?> { [Secret] = "from-the-host", ["SANDBOX_DISABLE"] = null, ["TMPDIR"] = TempDirectory };
            Directory.CreateDirectory(TempDirectory);

            Sandboxed = Packages.Dotnet(Suite, env, "test", "--no-build", "--logger", $"trx;LogFileName={Root}/sandboxed.trx");
            WrittenFileReachedHost = File.Exists(Path.Combine(Output, "written-by-test.txt"));
            SandboxedList = Packages.Dotnet(Suite, env, "test", "--no-build", "--list-tests");

            Unsandboxed = Packages.Dotnet(Suite, new Dictionary<string, string?> { [Secret] = "from-the-host", ["SANDBOX_DISABLE"] = "1" },
                "test", "--no-build", "--logger", $"trx;LogFileName={Root}/unsandboxed.trx");
            // Without Sandbox, FailFast takes testhost and every test after it down: the plain run leaves it out.
            PlainRun = Packages.Dotnet(Plain, env, "test", "--no-build", "--filter", "FullyQualifiedName!~Crashes", "--logger", $"trx;LogFileName={Root}/plain.trx");
            PlainList = Packages.Dotnet(Plain, env, "test", "--no-build", "--list-tests");
        }

        public string Plain => Path.Combine(Root, "plain");
        public CommandResult BuildBefore { get; }
        public bool AdapterBefore { get; }

        private string CreateProject(string name, bool sandboxed) => TestProject.Write(Path.Combine(Packages.Root, name), name,
            """
            <PackageReference Include="xunit" Version="2.9.3" />
            <PackageReference Include="xunit.runner.visualstudio" Version="3.1.5" />
            """ + (sandboxed ? TestProject.SandboxReference(Packages.Version) : ""),
            Tests, "<AssemblyName>proj</AssemblyName><Nullable>enable</Nullable>");
    }

    private List<TrxResult> ReadTrx(string name) => TrxResult.Read(Path.Combine(_runs.Root, name));

    [PrivilegedFact]
    public void The_test_output_holds_only_the_sandbox_adapter_where_testhost_looks_and_the_framework_adapter_hidden_even_after_a_build_without_it()
    {
        Assert.True(_runs.BuildBefore.ExitCode == 0, _runs.BuildBefore.ToString());
        Assert.True(_runs.AdapterBefore, "without Sandbox, xunit's adapter is in the top of the output");
        Assert.True(_runs.Build.ExitCode == 0, _runs.Build.ToString());
        var top = Directory.GetFiles(_runs.Output, "*.dll").Select(Path.GetFileName)
            .Where(f => f!.EndsWith("testadapter.dll", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(["Sandbox.TestAdapter.dll"], top);
        Assert.True(File.Exists(Path.Combine(_runs.Output, "Sandbox.TestAgent.dll")));
        Assert.True(File.Exists(Path.Combine(_runs.Output, ".sandbox/adapters/xunit.runner.visualstudio.testadapter.dll")));
        Assert.True(File.Exists(Path.Combine(_runs.Output, "proj.sandbox.json")));
    }

    [PrivilegedFact]
    public void Every_test_runs_exactly_once_sandboxed_and_unsandboxed()
    {
        foreach (var trx in new[] { "sandboxed.trx", "unsandboxed.trx" })
        {
            var results = ReadTrx(trx);
            Assert.Equal(9, results.Count);
            Assert.Equal(9, results.Select(r => r.Id).Distinct().Count());
        }
    }

    [PrivilegedFact]
    public void Ids_and_names_are_the_framework_adapters_own()
    {
        Assert.True(_runs.PlainRun.ExitCode != 0 || ReadTrx("plain.trx").Count == 8, _runs.PlainRun.ToString());
        var plain = ReadTrx("plain.trx").ToDictionary(r => r.Id, r => r.Name);
        Assert.Equal(8, plain.Count);
        var sandboxed = ReadTrx("sandboxed.trx").ToDictionary(r => r.Id, r => r.Name);
        Assert.All(plain, p => Assert.Equal(p.Value, sandboxed.GetValueOrDefault(p.Key)));
        Assert.Equal(9, TestProject.Listed(_runs.PlainList).Count());
        Assert.Equal(TestProject.Listed(_runs.PlainList), TestProject.Listed(_runs.SandboxedList));
    }

    [PrivilegedFact]
    public void Outcomes_and_messages_match_a_run_without_the_sandbox_except_where_the_sandbox_is_the_point()
    {
        var plain = ReadTrx("plain.trx").ToDictionary(r => r.Id);
        var unsandboxed = ReadTrx("unsandboxed.trx").ToDictionary(r => r.Id);
        var sandboxed = ReadTrx("sandboxed.trx").ToDictionary(r => r.Id);
        Assert.Equal(unsandboxed.Keys.Order(), sandboxed.Keys.Order());
        foreach (var (id, s) in sandboxed)
        {
            var u = unsandboxed[id];
            Assert.Equal(u.Name, s.Name);
            if (s.Name.EndsWith("Host_variable_is_absent", StringComparison.Ordinal))
            {
                // The host's environment reaches a test only without the sandbox.
                Assert.Equal(("Failed", "Passed"), (u.Outcome, s.Outcome));
                continue;
            }
            if (s.Name.EndsWith("Needs_more_than_the_limit", StringComparison.Ordinal))
            {
                // The memory limit exists only in the sandbox.
                Assert.Equal(("Passed", "Failed"), (u.Outcome, s.Outcome));
                continue;
            }
            Assert.Equal(u.Outcome, s.Outcome);
            if (s.Name.EndsWith("Fails_fast", StringComparison.Ordinal))
            {
                continue;
            }
            Assert.Equal(u.Message, s.Message);
            if (plain.TryGetValue(id, out var p))
            {
                Assert.Equal((p.Outcome, p.Message), (s.Outcome, s.Message));
            }
        }
        Assert.Equal("Passed", sandboxed.Values.Single(r => r.Name.EndsWith("Writes_beside_its_assembly", StringComparison.Ordinal)).Outcome);
        Assert.Contains("the message of a failing test", sandboxed.Values.Single(r => r.Name.EndsWith("Fails_with_a_message", StringComparison.Ordinal)).Message, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void A_test_that_ends_its_process_fails_with_the_cause_and_the_figures_and_the_rest_still_run()
    {
        foreach (var trx in new[] { "sandboxed.trx", "unsandboxed.trx" })
        {
            var results = ReadTrx(trx);
            var crash = results.Single(r => r.Name == "Sample.Crashes.Fails_fast");
            Assert.Equal("Failed", crash.Outcome);
            Assert.Contains("SBX5024", crash.Message, StringComparison.Ordinal);
            Assert.Contains("the test called FailFast", crash.Message, StringComparison.Ordinal);
            Assert.Equal(9, results.Count);
            Assert.Equal("Passed", results.Single(r => r.Name == "Sample.Basics.Passes").Outcome);
            Assert.Equal("Passed", results.Single(r => r.Name == "Sample.Basics.Writes_protocol_lookalikes_to_stdout").Outcome);
            Assert.Equal("Failed", results.Single(r => r.Name == "Sample.Basics.Fails_with_a_message").Outcome);
        }
        var sandboxedCrash = ReadTrx("sandboxed.trx").Single(r => r.Name == "Sample.Crashes.Fails_fast");
        Assert.Contains("peak memory", sandboxedCrash.Message, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void A_test_over_the_memory_limit_fails_as_OOM_killed_with_its_peak()
    {
        var oom = ReadTrx("sandboxed.trx").Single(r => r.Name == "Sample.Memory.Needs_more_than_the_limit");
        Assert.Equal("Failed", oom.Outcome);
        Assert.Contains("SBX5024", oom.Message, StringComparison.Ordinal);
        Assert.Contains("killed by the OOM killer", oom.Message, StringComparison.Ordinal);
        Assert.Contains("OOM-killed yes", oom.Message, StringComparison.Ordinal);
        Assert.Contains("cgroup peak", oom.Message, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Sandboxed_results_carry_the_usage_in_TRX_and_the_RunReport_as_a_result_file()
    {
        Assert.Contains("Sandbox: peak memory", _runs.Sandboxed.Output, StringComparison.Ordinal);
        foreach (var r in ReadTrx("sandboxed.trx"))
        {
            var usage = Assert.Single(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal));
            Assert.Contains("max RSS", usage, StringComparison.Ordinal);
            Assert.Contains("CPU", usage, StringComparison.Ordinal);
            // The figures are those of the sandbox that ran the test (at assembly isolation, with the others).
            Assert.Contains("OOM-killed ", usage, StringComparison.Ordinal);
            Assert.EndsWith(".runreport.json", Assert.Single(r.ResultFiles), StringComparison.Ordinal);
        }
        Assert.All(ReadTrx("unsandboxed.trx"), r => Assert.DoesNotContain(r.TextMessages, m => m.StartsWith("Sandbox:", StringComparison.Ordinal)));
    }

    [PrivilegedFact]
    public void A_file_a_sandboxed_test_writes_beside_its_assembly_never_reaches_the_hosts_output_directory()
    {
        Assert.Contains("Writes_beside_its_assembly", string.Join(' ', ReadTrx("sandboxed.trx").Where(r => r.Outcome == "Passed").Select(r => r.Name)), StringComparison.Ordinal);
        Assert.False(_runs.WrittenFileReachedHost, "the sandboxed test's file appeared in the host's output directory");
        Assert.Empty(Directory.GetDirectories(_runs.TempDirectory, "sandbox-test-*"));
    }
}
