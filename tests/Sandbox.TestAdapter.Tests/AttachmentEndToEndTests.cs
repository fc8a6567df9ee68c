using System.Xml.Linq;
using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// MSTest's TestContext.AddResultFile and NUnit's TestContext.AddTestAttachment on files a test wrote inside its
/// sandbox (its private /tmp, the copy-on-write layer over the output directory): `dotnet test --logger trx` lists
/// them as result files and copies them beside the TRX with the content the test wrote, as it does for the same
/// project without Sandbox.
/// </summary>
public sealed class AttachmentEndToEndTests
{
    private const string MSTestTests = """
        using Microsoft.VisualStudio.TestTools.UnitTesting;
        namespace M;
        [TestClass] public class Files
        {
            public TestContext TestContext { get; set; } = null!;

            [TestMethod] public void Attaches_files_it_wrote()
            {
                var inTmp = Path.Combine(Path.GetTempPath(), "written-in-tmp.txt");
                File.WriteAllText(inTmp, "what the test wrote in /tmp");
                TestContext.AddResultFile(inTmp);
                var beside = Path.Combine(AppContext.BaseDirectory, "written-beside-the-assembly.txt");
                File.WriteAllText(beside, "what the test wrote beside its assembly");
                TestContext.AddResultFile(beside);
            }
        }
        """;

    private const string NUnitTests = """
        using NUnit.Framework;
        namespace N;
        public class Files
        {
            [Test] public void Attaches_files_it_wrote()
            {
                var inTmp = Path.Combine(Path.GetTempPath(), "written-in-tmp.txt");
                File.WriteAllText(inTmp, "what the test wrote in /tmp");
                TestContext.AddTestAttachment(inTmp, "in /tmp");
                var beside = Path.Combine(AppContext.BaseDirectory, "written-beside-the-assembly.txt");
                File.WriteAllText(beside, "what the test wrote beside its assembly");
                TestContext.AddTestAttachment(beside);
            }
        }
        """;

    public static TheoryData<string> Frameworks => ["mstest", "nunit"];

    private static readonly XNamespace Trx = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";

    /// <summary>Each result file of the TRX's results, by name, and what the file TRX copied (under the run's results
    /// directory, <paramref name="results"/>) holds.</summary>
    private static Dictionary<string, string> ResultFiles(string trx, string results)
    {
        var doc = XDocument.Load(trx);
        var root = (string)doc.Descendants(Trx + "Deployment").Single().Attribute("runDeploymentRoot")!;
        var files = new Dictionary<string, string>();
        foreach (var result in doc.Descendants(Trx + "UnitTestResult"))
        {
            var dir = Path.Combine(results, root, "In", (string)result.Attribute("relativeResultsDirectory")!);
            foreach (var path in result.Descendants(Trx + "ResultFile").Select(f => (string)f.Attribute("path")!))
            {
                var full = Path.Combine(dir, path);
                files[Path.GetFileName(path)] = File.Exists(full) ? File.ReadAllText(full) : $"(no file at {full})";
            }
        }
        return files;
    }

    [PrivilegedTheory]
    [MemberData(nameof(Frameworks))]
    public void Result_files_written_in_the_sandbox_reach_the_TRX_as_without_Sandbox(string framework)
    {
        using var packages = new PackageFixture();
        var environment = new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = null };
        var (references, tests) = framework == "mstest"
            ? (OtherFrameworksEndToEndTests.MSTest.References, MSTestTests)
            : (OtherFrameworksEndToEndTests.NUnit.References, NUnitTests);
        var runs = new Dictionary<string, CommandResult>();
        foreach (var name in new[] { "sandboxed", "plain" })
        {
            var dir = TestProject.Write(Path.Combine(packages.Root, name), "tests",
                references + (name == "sandboxed" ? TestProject.SandboxReference(packages.Version) : ""), tests);
            runs[name] = packages.Dotnet(dir, environment, "test", "--logger", $"trx;LogFileName={packages.Root}/{name}.trx");
        }
        // The plain run's test wrote to the host's /tmp.
        File.Delete(Path.Combine(Path.GetTempPath(), "written-in-tmp.txt"));
        var sandboxed = ResultFiles(Path.Combine(packages.Root, "sandboxed.trx"), Path.Combine(packages.Root, "sandboxed/TestResults"));
        var plain = ResultFiles(Path.Combine(packages.Root, "plain.trx"), Path.Combine(packages.Root, "plain/TestResults"));

        Assert.True(sandboxed.GetValueOrDefault("written-in-tmp.txt") == "what the test wrote in /tmp", $"{string.Join("\n", sandboxed)}\n{runs["sandboxed"]}");
        Assert.Equal("what the test wrote beside its assembly", sandboxed.GetValueOrDefault("written-beside-the-assembly.txt"));
        // The same files as without Sandbox, named the same, and the RunReport besides.
        Assert.Equal(plain.Keys.Order(), sandboxed.Keys.Where(k => !k.EndsWith(".runreport.json", StringComparison.Ordinal)).Order());
        Assert.All(plain, p => Assert.Equal(p.Value, sandboxed[p.Key]));
        Assert.DoesNotContain("dropped", runs["sandboxed"].Output, StringComparison.Ordinal);
        // The sandbox kept its writes: nothing reached the host's output directory or /tmp by way of the test.
        Assert.False(File.Exists(Path.Combine(packages.Root, "sandboxed/bin/Debug/net10.0/written-beside-the-assembly.txt")));
    }
}
