using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// xunit v3 in VSTest mode (issue 10): a test project is an executable, and xunit.runner.visualstudio runs it as a child
/// process, here inside the sandbox. The same tests run sandboxed, with SANDBOX_DISABLE=1, and in a copy of the
/// project without Sandbox, compared through their TRX files as <see cref="OtherFrameworksEndToEndTests"/> does.
/// </summary>
public sealed class XunitV3EndToEndTests : IClassFixture<XunitV3EndToEndTests.Runs>
{
    private const string Tests = """
        using Xunit;
        namespace Sample;
        public class Basics(ITestOutputHelper output)
        {
            [Fact] public void Passes() => output.WriteLine("hello from a passing test");
            [Fact] public void Fails_with_a_message() => Assert.Fail("the message of a failing test");
            [Theory, InlineData(1), InlineData(2)] public void Theory_cases(int n) => Assert.True(n > 0);
            [Fact]
            public void Writes_beside_its_assembly()
            {
                var path = Path.Combine(AppContext.BaseDirectory, "written-by-test.txt");
                File.WriteAllText(path, "x");
                Assert.Equal("x", File.ReadAllText(path));
            }
            [Fact(Explicit = true)] public void Runs_only_when_asked() => Assert.Fail("an explicit test ran by default");
        }
        public sealed class Widget(int n) { public int N => n; public override string ToString() => $"Widget {n}"; }
        public class Rows
        {
            // Rows xunit cannot serialize: discovered as one test case, reported as one result per row.
            public static IEnumerable<object[]> Widgets => [[new Widget(1)], [new Widget(2)]];
            [Theory, MemberData(nameof(Widgets))] public void Unserializable(Widget w) => Assert.True(w.N > 0);
            [Theory, InlineData(1), InlineData(2, Skip = "a skipped row"), InlineData(-3)] public void Some_fail(int n) => Assert.True(n > 0, $"row {n} fails");
        }
        public class Crashes
        {
            [Fact] public void Fails_fast() => Environment.FailFast("the test called FailFast");
        }
        """;

    /// <summary>Without Sandbox, a FailFast ends xunit v3's test process and every result with it (and xunit waits its
    /// crashDetectionSinkTimeout, 60 s, first): the runs Sandbox is compared with leave that class out.</summary>
    private const string WithoutCrashes = "FullyQualifiedName!~Crashes";

    private readonly Runs _runs;

    public XunitV3EndToEndTests(Runs runs) => _runs = runs;

    /// <summary>The project built and run once without Sandbox, then once with it.</summary>
    public sealed class Runs : ComparedRuns
    {
        public Runs()
        {
            Directory.CreateDirectory(TempDirectory);
            var env = new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = null, ["TMPDIR"] = TempDirectory };
            // The project without Sandbox first, then the same project, at the same path, with it: vstest's test ids
            // hash the source's path, so only the same path gives comparable ids.
            CreateProject(sandboxed: false);
            PlainBuild = Packages.Dotnet(Suite, env, "build", "-nologo");
            PlainRun = Packages.Dotnet(Suite, env, "test", "--no-build", "--filter", WithoutCrashes, "--logger", $"trx;LogFileName={Root}/plain.trx");
            PlainList = Packages.Dotnet(Suite, env, "test", "--no-build", "--list-tests");
            File.Delete(Path.Combine(Output, "written-by-test.txt"));

            CreateProject(sandboxed: true);
            Build = Packages.Dotnet(Suite, env, "build", "-nologo");
            Properties = Packages.Dotnet(Suite, env, "msbuild", "-nologo", "-getProperty:IsTestingPlatformApplication", "-getProperty:TestingPlatformDotnetTestSupport");
            Sandboxed = Packages.Dotnet(Suite, env, "test", "--no-build", "--logger", $"trx;LogFileName={Root}/sandboxed.trx");
            SandboxedList = Packages.Dotnet(Suite, env, "test", "--no-build", "--list-tests");
            foreach (var isolation in new[] { "class", "test" })
            {
                Isolated[isolation] = Packages.Dotnet(Suite, env, "test", "--no-build", "--filter", WithoutCrashes,
                    "--logger", $"trx;LogFileName={Root}/{isolation}.trx", "--", $"Sandbox.Isolation={isolation}");
            }
            WrittenFileReachedHost = File.Exists(Path.Combine(Output, "written-by-test.txt"));
            // Last: unsandboxed, the test's file lands in the host's output directory, which the sandboxed runs
            // must not find there.
            Unsandboxed = Packages.Dotnet(Suite, new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = "1" },
                "test", "--no-build", "--filter", WithoutCrashes, "--logger", $"trx;LogFileName={Root}/unsandboxed.trx");
        }

        public CommandResult Properties { get; }

        /// <summary>The sandboxed runs at class and test isolation, with the plain run's filter.</summary>
        public Dictionary<string, CommandResult> Isolated { get; } = [];

        private void CreateProject(bool sandboxed) => TestProject.Write(Suite, "suite",
            """
            <PackageReference Include="xunit.v3" Version="3.2.2" />
            <PackageReference Include="xunit.runner.visualstudio" Version="3.1.5" />
            """ + (sandboxed ? TestProject.SandboxReference(Packages.Version) : ""),
            Tests, "<OutputType>Exe</OutputType><AssemblyName>proj</AssemblyName><Nullable>enable</Nullable>");
    }

    private List<TrxResult> ReadTrx(string name) => TrxResult.Read(Path.Combine(_runs.Root, name));

    private static (Guid, string, string, string) Key(TrxResult r) => (r.Id, r.Name, r.Outcome, r.Message);

    [PrivilegedFact]
    public void The_package_hides_xunits_adapter_although_xunit_v3_sets_IsTestingPlatformApplication()
    {
        Assert.True(_runs.Build.ExitCode == 0, _runs.Build.ToString());
        // Microsoft.Testing.Platform.MSBuild sets it for every xunit v3 project; `dotnet test` still runs VSTest.
        Assert.Contains("\"IsTestingPlatformApplication\": \"true\"", _runs.Properties.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("\"TestingPlatformDotnetTestSupport\": \"true\"", _runs.Properties.Output, StringComparison.OrdinalIgnoreCase);
        var top = Directory.GetFiles(_runs.Output, "*.dll").Select(Path.GetFileName)
            .Where(f => f!.EndsWith("testadapter.dll", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(["Sandbox.TestAdapter.dll"], top);
        Assert.True(File.Exists(Path.Combine(_runs.Output, ".sandbox/adapters/xunit.runner.visualstudio.testadapter.dll")));
        Assert.True(File.Exists(Path.Combine(_runs.Output, "proj")), "xunit v3's test executable (the app host) is in the output");
    }

    [PrivilegedFact]
    public void Ids_names_outcomes_and_messages_are_those_of_a_run_without_Sandbox()
    {
        Assert.True(_runs.PlainBuild.ExitCode == 0, _runs.PlainBuild.ToString());
        var plain = ReadTrx("plain.trx");
        Assert.True(plain.Count == 11, _runs.PlainRun.ToString());
        var sandboxed = ReadTrx("sandboxed.trx");
        Assert.True(sandboxed.Count == 12, _runs.Sandboxed.ToString());
        // The rows xunit cannot serialize share their test case's id.
        Assert.Equal(11, sandboxed.Select(r => r.Id).Distinct().Count());
        Assert.Equal(plain.Select(Key).Order(), sandboxed.Where(r => !r.Name.Contains("Crashes", StringComparison.Ordinal)).Select(Key).Order());
        Assert.Equal(plain.Select(Key).Order(), ReadTrx("unsandboxed.trx").Select(Key).Order());
        Assert.Contains(sandboxed, r => r is { Name: "Sample.Basics.Fails_with_a_message", Outcome: "Failed" } && r.Message.Contains("the message of a failing test", StringComparison.Ordinal));
        Assert.Equal(["Sample.Basics.Theory_cases(n: 1)", "Sample.Basics.Theory_cases(n: 2)"],
            sandboxed.Where(r => r.Outcome == "Passed" && r.Name.Contains("Theory", StringComparison.Ordinal)).Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.Equal(11, TestProject.Listed(_runs.PlainList).Count());
        Assert.Equal(TestProject.Listed(_runs.PlainList), TestProject.Listed(_runs.SandboxedList));
    }

    /// <summary>
    /// At class and test isolation each group runs by sources with a filter the agent evaluates, as a plain run by
    /// sources does: xunit v3's test ids, the explicit test not run (handed over as a test case, xunit runs it), each
    /// theory row once, the skipped row's reason, the failing row's message, and the user's filter still applied.
    /// </summary>
    [PrivilegedTheory]
    [InlineData("class")]
    [InlineData("test")]
    public void At_class_and_test_isolation_ids_names_outcomes_and_messages_are_those_of_a_run_without_Sandbox(string isolation)
    {
        var plain = ReadTrx("plain.trx");
        Assert.True(plain.Count == 11, _runs.PlainRun.ToString());
        var isolated = ReadTrx($"{isolation}.trx");
        Assert.True(isolated.Count == plain.Count, _runs.Isolated[isolation].ToString());
        Assert.Equal(plain.Select(Key).Order(), isolated.Select(Key).Order());
        Assert.Equal("NotExecuted", isolated.Single(r => r.Name == "Sample.Basics.Runs_only_when_asked").Outcome);
        Assert.Equal("a skipped row", isolated.Single(r => r.Name == "Sample.Rows.Some_fail(n: 2)").Message);
        Assert.Contains("row -3 fails", isolated.Single(r => r.Name == "Sample.Rows.Some_fail(n: -3)").Message, StringComparison.Ordinal);
        Assert.DoesNotContain(isolated, r => r.Name.Contains("Crashes", StringComparison.Ordinal));
        Assert.All(isolated, r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
        // Which sandbox ran each result: its RunReport. A class's results share one; at test isolation each discovered
        // test has its own (the unserializable rows are one discovered test).
        string SandboxOf(TrxResult r) => Assert.Single(r.ResultFiles, f => f.EndsWith(".runreport.json", StringComparison.Ordinal));
        var rows = isolated.Where(r => r.Name.StartsWith("Sample.Rows.Some_fail", StringComparison.Ordinal)).Select(SandboxOf).ToList();
        Assert.Equal(3, rows.Count);
        Assert.Equal(isolation == "test" ? 3 : 1, rows.Distinct().Count());
        Assert.Single(isolated.Where(r => r.Name.StartsWith("Sample.Rows.Unserializable", StringComparison.Ordinal)).Select(SandboxOf).Distinct());
        Assert.Equal(isolation == "test" ? 10 : 2, isolated.Select(SandboxOf).Distinct().Count());
        Assert.Empty(Directory.GetDirectories(_runs.TempDirectory, "sandbox-test-*"));
    }

    [PrivilegedFact]
    public void An_explicit_test_does_not_run_by_default()
    {
        foreach (var trx in new[] { "sandboxed.trx", "unsandboxed.trx", "plain.trx", "class.trx", "test.trx" })
        {
            var r = ReadTrx(trx).Single(r => r.Name == "Sample.Basics.Runs_only_when_asked");
            Assert.Equal("NotExecuted", r.Outcome);
            Assert.DoesNotContain("ran by default", r.Message, StringComparison.Ordinal);
        }
    }

    [PrivilegedFact]
    public void A_test_that_ends_xunits_test_process_fails_with_the_cause_and_the_rest_still_run()
    {
        var results = ReadTrx("sandboxed.trx");
        var crash = results.Single(r => r.Name == "Sample.Crashes.Fails_fast");
        Assert.Equal("Failed", crash.Outcome);
        Assert.Contains("SBX5024", crash.Message, StringComparison.Ordinal);
        Assert.Contains("exited with code 134", crash.Message, StringComparison.Ordinal);
        Assert.Contains("the test called FailFast", crash.Message, StringComparison.Ordinal);
        Assert.Contains("peak memory", crash.Message, StringComparison.Ordinal);
        Assert.Equal(7, results.Count(r => r.Outcome == "Passed"));
    }

    [PrivilegedFact]
    public void Sandboxed_results_carry_the_usage_and_a_file_written_beside_the_assembly_stays_in_the_sandbox()
    {
        Assert.All(ReadTrx("sandboxed.trx"), r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
        Assert.All(ReadTrx("unsandboxed.trx"), r => Assert.DoesNotContain(r.TextMessages, m => m.StartsWith("Sandbox:", StringComparison.Ordinal)));
        Assert.Equal("Passed", ReadTrx("sandboxed.trx").Single(r => r.Name == "Sample.Basics.Writes_beside_its_assembly").Outcome);
        Assert.False(_runs.WrittenFileReachedHost, "the sandboxed test's file appeared in the host's output directory");
        Assert.Empty(Directory.GetDirectories(_runs.TempDirectory, "sandbox-test-*"));
    }
}
