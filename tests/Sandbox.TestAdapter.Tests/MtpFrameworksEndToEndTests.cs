using System.Xml.Linq;
using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// Microsoft.Testing.Platform mode with the other frameworks' own runners (issue 12): MSTest 4.5.2 with
/// EnableMSTestRunner and NUnit 4.4.0 with NUnit3TestAdapter 6.3.1's EnableNUnitRunner (both bring Microsoft.Testing.Platform
/// 2.5.2, and MTP's TRX extension), each run as an executable sandboxed and with SANDBOX_DISABLE=1, and with `dotnet test`
/// in MTP mode, every run writing MTP's TRX. The results are compared test by test: the same tests, the same outcomes,
/// except the one test that can pass only in a sandbox.
/// </summary>
public sealed class MtpFrameworksEndToEndTests : IClassFixture<MtpFrameworksEndToEndTests.Runs>
{
    private static readonly XNamespace Trx = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";

    /// <summary>Each framework's project, by name (not the name of a package it references: NuGet would see a cycle).</summary>
    private static readonly Dictionary<string, (string References, string Properties, string Tests)> Frameworks = new()
    {
        ["mstestsuite"] = (
            """<PackageReference Include="MSTest" Version="4.5.2" />""",
            "<EnableMSTestRunner>true</EnableMSTestRunner>",
            """
            using Microsoft.VisualStudio.TestTools.UnitTesting;
            namespace Sample;
            [TestClass]
            public class Inside
            {
                [TestMethod] public void Runs_in_a_sandbox() { Assert.AreEqual("sandbox", Environment.MachineName); Assert.AreEqual(1, Environment.ProcessId); }
                [TestMethod] public void Passes() { }
                [TestMethod, DataRow(1), DataRow(2)] public void Rows(int n) => Assert.IsTrue(n > 0);
                [TestMethod, Ignore("not today")] public void Ignored() { }
                [TestMethod] public void Fails() => Assert.Fail("on purpose");
            }
            """),
        ["nunitsuite"] = (
            """
            <PackageReference Include="NUnit" Version="4.4.0" />
            <PackageReference Include="NUnit3TestAdapter" Version="6.3.1" />
            <PackageReference Include="Microsoft.Testing.Extensions.TrxReport" Version="2.5.2" />
            """,
            "<EnableNUnitRunner>true</EnableNUnitRunner>",
            """
            using NUnit.Framework;
            namespace Sample;
            public class Inside
            {
                [Test] public void Runs_in_a_sandbox() { Assert.That(Environment.MachineName, Is.EqualTo("sandbox")); Assert.That(Environment.ProcessId, Is.EqualTo(1)); }
                [Test] public void Passes() { }
                [TestCase(1), TestCase(2)] public void Cases(int n) => Assert.That(n, Is.GreaterThan(0));
                [Test, Ignore("not today")] public void Ignored() { }
                [Test] public void Fails() => Assert.Fail("on purpose");
            }
            """),
    };

    private readonly Runs _runs;

    public MtpFrameworksEndToEndTests(Runs runs) => _runs = runs;

    public sealed class Runs : IDisposable
    {
        public Runs()
        {
            Directory.CreateDirectory(TempDirectory);
            TestApplication.SelectMtpForDotnetTest(Root);
            var env = TestApplication.Environment(TempDirectory, sandboxed: true);
            var plain = TestApplication.Environment(TempDirectory, sandboxed: false);
            foreach (var (name, (references, properties, tests)) in Frameworks)
            {
                var dir = TestProject.Write(Path.Combine(Root, name), name, references + TestProject.SandboxReference(Packages.Version),
                    tests, "<OutputType>Exe</OutputType>" + properties, vstest: false);
                Builds[name] = Packages.Dotnet(dir, env, "build", "-nologo");
                if (Builds[name].ExitCode != 0)
                {
                    continue; // the tests show the build's output
                }
                var executable = Path.Combine(dir, "bin/Debug/net10.0", name);
                Sandboxed[name] = TestApplication.Run(dir, executable, env, "--report-trx", "--results-directory", Results(name, "sandboxed"));
                Plain[name] = TestApplication.Run(dir, executable, plain, "--report-trx", "--results-directory", Results(name, "plain"));
                DotnetTest[name] = Packages.Dotnet(dir, env, "test", "--no-build", "--report-trx", "--results-directory", Results(name, "dotnet-test"));
                Leftovers.AddRange(HostProcesses.With(executable));
            }
            Leftovers.AddRange(Directory.EnumerateFileSystemEntries(TempDirectory, "sandbox-test-*"));
        }

        public PackageFixture Packages { get; } = new();
        public string Root => Packages.Root;
        public string TempDirectory => Path.Combine(Root, "tmp");
        public Dictionary<string, CommandResult> Builds { get; } = [];
        public Dictionary<string, CommandResult> Sandboxed { get; } = [];
        public Dictionary<string, CommandResult> Plain { get; } = [];
        public Dictionary<string, CommandResult> DotnetTest { get; } = [];
        public List<string> Leftovers { get; } = [];

        public string Results(string framework, string run) => Path.Combine(Root, "results", framework, run);

        public void Dispose() => Packages.Dispose();
    }

    /// <summary>testName → outcome of the one TRX in a run's results directory.</summary>
    private Dictionary<string, string> Outcomes(string framework, string run)
    {
        var trx = Assert.Single(Directory.GetFiles(_runs.Results(framework, run), "*.trx"));
        return TrxResult.Read(trx).ToDictionary(r => r.Name, r => r.Outcome, StringComparer.Ordinal);
    }

    [PrivilegedTheory]
    [InlineData("mstestsuite")]
    [InlineData("nunitsuite")]
    public void Sandboxed_and_plain_runs_agree_test_by_test_but_for_the_sandbox_check(string framework)
    {
        Assert.True(_runs.Builds[framework].ExitCode == 0, _runs.Builds[framework].ToString());
        // 2: MTP's exit code for failed tests (Fails fails on purpose, everywhere).
        Assert.True(_runs.Sandboxed[framework].ExitCode == 2, _runs.Sandboxed[framework].ToString());
        Assert.True(_runs.Plain[framework].ExitCode == 2, _runs.Plain[framework].ToString());
        Assert.True(_runs.DotnetTest[framework].ExitCode != 0, _runs.DotnetTest[framework].ToString());
        var plain = Outcomes(framework, "plain");
        foreach (var run in new[] { "sandboxed", "dotnet-test" })
        {
            var sandboxed = Outcomes(framework, run);
            Assert.Equal(plain.Keys.Order(StringComparer.Ordinal), sandboxed.Keys.Order(StringComparer.Ordinal));
            foreach (var (name, outcome) in plain)
            {
                Assert.Equal(name == "Runs_in_a_sandbox" ? ("Failed", "Passed") : (outcome, outcome), (outcome, sandboxed[name]));
            }
        }
        Assert.Equal("Failed", plain["Fails"]);
        Assert.Equal("NotExecuted", plain["Ignored"]);
        Assert.Empty(_runs.Leftovers);
    }

    /// <summary>MTP's own TRX (--report-trx, written by the test host) gains the sandbox's usage line and its RunReport,
    /// copied into the TRX's deployment directory as MTP copies artifacts; a plain run's has neither.</summary>
    [PrivilegedTheory]
    [InlineData("mstestsuite")]
    [InlineData("nunitsuite")]
    public void The_platforms_TRX_carries_the_sandbox_usage_and_RunReport(string framework)
    {
        Assert.Contains("Sandbox: peak memory", _runs.Sandboxed[framework].Output, StringComparison.Ordinal);
        foreach (var run in new[] { "sandboxed", "dotnet-test" })
        {
            var trx = Assert.Single(Directory.GetFiles(_runs.Results(framework, run), "*.trx"));
            var doc = XDocument.Load(trx);
            // Beside whatever run-level messages the platform wrote itself.
            Assert.Single(doc.Descendants(Trx + "RunInfo"), r => r.Element(Trx + "Text")!.Value.StartsWith("Sandbox: peak memory ", StringComparison.Ordinal));
            var deployment = (string)doc.Descendants(Trx + "Deployment").Single().Attribute("runDeploymentRoot")!;
            var href = (string)doc.Descendants(Trx + "Collector").Single(c => (string?)c.Attribute("collectorDisplayName") == "Sandbox").Descendants(Trx + "A").Single().Attribute("href")!;
            var attached = Path.Combine(_runs.Results(framework, run), deployment, "In", href);
            var report = Assert.Single(Directory.GetFiles(_runs.Results(framework, run), $"Sandbox_{framework}_*.json"));
            Assert.Equal(File.ReadAllText(report), File.ReadAllText(attached));
        }
        var plainTrx = XDocument.Load(Assert.Single(Directory.GetFiles(_runs.Results(framework, "plain"), "*.trx")));
        Assert.Empty(plainTrx.Descendants(Trx + "Collector"));
        Assert.Empty(Directory.GetFiles(_runs.Results(framework, "plain"), "Sandbox_*.json"));
    }
}
