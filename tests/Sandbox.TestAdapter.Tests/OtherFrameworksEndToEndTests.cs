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

    public sealed record Framework(string Name, string References, string Tests);

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
            [Test, Explicit("only when asked")] public void Only_when_asked() => Assert.Fail("an explicit test ran");
        }
        public class D { [Test] public void Other() { } }
        """);

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
        """);

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
                }
            }
        }

        public PackageFixture Packages { get; }
        public Dictionary<string, CommandResult> Outputs { get; } = [];

        public void Dispose() => Packages.Dispose();
    }

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
        var sandboxed = TrxResult.Read(Path.Combine(_runs.Packages.Root, $"{framework}-{run}.trx"));
        var plain = TrxResult.Read(Path.Combine(_runs.Packages.Root, framework + "-plain.trx"));
        var executed = sandboxed.Where(r => r.Outcome != "NotExecuted").ToList();
        Assert.True(executed.Count == 5, sandboxedRun.ToString());
        Assert.Equal(sandboxed.Count, sandboxed.Select(r => r.Id).Distinct().Count());
        // NUnit's explicit test is discovered but, as without Sandbox, not run: reported without an outcome. At class
        // and test isolation NUnit's groups run as runs of test cases (GroupPlan.RunsTestCases) and the adapter
        // reports it, without the reason NUnit gives only in a run of the whole assembly without a filter. MSTest's
        // groups run by sources with the agent's filter.
        (Guid, string, string, string) Key(TrxResult r) =>
            (r.Id, r.Name, r.Outcome, r.Outcome == "NotExecuted" && run != "sandboxed" ? "" : r.Message);
        Assert.Equal(plain.Select(Key).Order(), sandboxed.Select(Key).Order());
        Assert.DoesNotContain(sandboxed, r => r.Message.Contains("an explicit test ran", StringComparison.Ordinal));
        Assert.Contains(sandboxed, r => r.Message.Contains($"the {framework} failure message", StringComparison.Ordinal));
        Assert.All(executed, r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
    }
}
