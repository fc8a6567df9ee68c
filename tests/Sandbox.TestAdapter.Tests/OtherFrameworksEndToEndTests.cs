using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// NUnit (NUnit3TestAdapter) and MSTest (MSTest.TestAdapter, which arrives as a reference rather than a content
/// file) through Sandbox.TestAdapter: each test once, the framework's ids and messages, the usage line.
/// </summary>
public sealed class OtherFrameworksEndToEndTests : IClassFixture<OtherFrameworksEndToEndTests.Runs>
{
    private readonly Runs _runs;

    public OtherFrameworksEndToEndTests(Runs runs) => _runs = runs;

    /// <param name="Executed">How many of its tests run (the rest are discovered but not run: explicit, ignored).</param>
    public sealed record Framework(string Name, string References, string Tests, int Executed);

    public static readonly Framework NUnit = new("nunit",
        """
        <PackageReference Include="NUnit" Version="4.4.0" />
        <PackageReference Include="NUnit3TestAdapter" Version="5.2.0" />
        """,
        """
        using NUnit.Framework;
        namespace N;
        public class C
        {
            [Test] public void Passes() => Assert.Pass();
            [Test] public void Fails() => Assert.Fail("the nunit failure message");
            [TestCase(1), TestCase(2)] public void Cases(int n) => Assert.That(n, Is.GreaterThan(0));
            [TestCase("x\"y) || z"), TestCase(@"a\b")] public void Quoted(string s) => Assert.That(s, Is.Not.Empty);
            public static IEnumerable<int> Source() { yield return 3; yield return 4; }
            [TestCaseSource(nameof(Source))] public void FromSource(int n) => Assert.That(n, Is.GreaterThan(2));
            [Test, Explicit("only when asked")] public void Only_when_asked() => Assert.Fail("an explicit test ran");
            [Test, Explicit] public void Explicit_without_a_reason() => Assert.Fail("an explicit test ran");
            [Test, Ignore("the ignore reason")] public void Ignored() => Assert.Fail("an ignored test ran");
        }
        public class D { [Test] public void Other() { } }
        [Explicit("the fixture's reason")] public class E { [Test] public void In_an_explicit_fixture() => Assert.Fail("an explicit test ran"); }
        """, Executed: 9);

    public static readonly Framework MSTest = new("mstest",
        """
        <PackageReference Include="MSTest.TestAdapter" Version="4.5.3" />
        <PackageReference Include="MSTest.TestFramework" Version="4.5.3" />
        """,
        """
        using Microsoft.VisualStudio.TestTools.UnitTesting;
        namespace M;
        [TestClass] public class C
        {
            [TestMethod] public void Passes() { }
            [TestMethod] public void Fails() => Assert.Fail("the mstest failure message");
            [TestMethod, DataRow(1), DataRow(2)] public void Rows(int n) => Assert.IsTrue(n > 0);
        }
        [TestClass] public class D { [TestMethod] public void Other() { } }
        """, Executed: 5);

    /// <summary>For each framework, a project with Sandbox and one without, each built and run once.</summary>
    public sealed class Runs : IDisposable
    {
        public Runs()
        {
            Packages = new PackageFixture();
            foreach (var f in new[] { NUnit, MSTest })
            {
                foreach (var sandboxed in new[] { true, false })
                {
                    var name = f.Name + (sandboxed ? "-sandboxed" : "-plain");
                    var dir = TestProject.Write(Path.Combine(Packages.Root, name), "tests",
                        f.References + (sandboxed ? TestProject.SandboxReference(Packages.Version) : ""), f.Tests);
                    Outputs[name] = Packages.Dotnet(dir, new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = null },
                        "test", "--logger", $"trx;LogFileName={Packages.Root}/{name}.trx");
                    if (sandboxed)
                    {
                        foreach (var isolation in new[] { "class", "test" })
                        {
                            Outputs[$"{name}-{isolation}"] = Packages.Dotnet(dir, new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = null },
                                "test", "--no-build", "--logger", $"trx;LogFileName={Packages.Root}/{name}-{isolation}.trx", "--", $"Sandbox.Isolation={isolation}");
                        }
                    }
                    if (f == NUnit)
                    {
                        // With a filter NUnit3TestAdapter leaves explicit tests out without reporting them.
                        Outputs[$"{name}-filtered"] = Packages.Dotnet(dir, new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = null },
                            "test", "--no-build", "--filter", NUnitFilter, "--logger", $"trx;LogFileName={Packages.Root}/{name}-filtered.trx",
                            "--", $"Sandbox.Isolation={(sandboxed ? "class" : "assembly")}");
                    }
                }
            }
        }

        public PackageFixture Packages { get; }
        public Dictionary<string, CommandResult> Outputs { get; } = [];

        public void Dispose() => Packages.Dispose();
    }

    private const string NUnitFilter = "FullyQualifiedName~N.C.|FullyQualifiedName~N.E.";

    public static TheoryData<string, string> Runs_of_each_framework => new()
    {
        { NUnit.Name, "sandboxed" }, { NUnit.Name, "sandboxed-class" }, { NUnit.Name, "sandboxed-test" },
        { MSTest.Name, "sandboxed" }, { MSTest.Name, "sandboxed-class" }, { MSTest.Name, "sandboxed-test" },
    };

    [PrivilegedTheory]
    [MemberData(nameof(Runs_of_each_framework))]
    public void Each_test_runs_once_at_every_isolation_with_the_framework_adapters_ids_outcomes_and_messages_and_the_usage_line(string framework, string run)
    {
        var sandboxedRun = _runs.Outputs[$"{framework}-{run}"];
        var expected = new[] { NUnit, MSTest }.Single(f => f.Name == framework).Executed;
        var sandboxed = TrxResult.Read(Path.Combine(_runs.Packages.Root, $"{framework}-{run}.trx"));
        var plain = TrxResult.Read(Path.Combine(_runs.Packages.Root, framework + "-plain.trx"));
        var executed = sandboxed.Where(r => r.Outcome != "NotExecuted").ToList();
        Assert.True(executed.Count == expected, sandboxedRun.ToString());
        Assert.Equal(sandboxed.Count, sandboxed.Select(r => r.Id).Distinct().Count());
        // NUnit's explicit tests (and the test of an explicit fixture) are discovered but, as without Sandbox, not run:
        // skipped with NUnit's reason as message and output, at every isolation (an NUnit group runs by sources with
        // a Where filter that selects its tests without selecting them explicitly: NUnitSelection). Ignored tests the
        // same. MSTest's groups run by sources with the agent's filter.
        (Guid, string, string, string, string) Key(TrxResult r) => (r.Id, r.Name, r.Outcome, r.Message, r.Outcome == "NotExecuted" ? r.StdOut : "");
        Assert.Equal(plain.Select(Key).Order(), sandboxed.Select(Key).Order());
        Assert.DoesNotContain(sandboxed, r => r.Message.Contains("an explicit test ran", StringComparison.Ordinal));
        Assert.Contains(sandboxed, r => r.Message.Contains($"the {framework} failure message", StringComparison.Ordinal));
        Assert.All(executed, r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
    }

    [PrivilegedFact]
    public void With_a_filter_nunits_groups_run_and_report_what_nunit_does_in_a_plain_run_with_that_filter()
    {
        var sandboxed = TrxResult.Read(Path.Combine(_runs.Packages.Root, "nunit-sandboxed-filtered.trx"));
        var plain = TrxResult.Read(Path.Combine(_runs.Packages.Root, "nunit-plain-filtered.trx"));
        (Guid, string, string, string) Key(TrxResult r) => (r.Id, r.Name, r.Outcome, r.Message);
        Assert.True(plain.Count > 0, _runs.Outputs["nunit-plain-filtered"].ToString());
        Assert.Equal(plain.Select(Key).Order(), sandboxed.Select(Key).Order());
        Assert.DoesNotContain(sandboxed, r => r.Name is "Other" or "Only_when_asked");
    }
}
