using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// Microsoft.Testing.Platform mode (issue 12): an xunit v3 project on MTP (xunit.v3.mtp-v2 4.0.2, its MTP runner on)
/// with the package, run as an executable and with `dotnet test` in MTP mode (global.json), sandboxed and with
/// SANDBOX_DISABLE=1. One test can pass only inside a sandbox: the test host is the first process of its own pid
/// namespace, on the sandbox's hostname.
/// </summary>
public sealed class MtpEndToEndTests : IClassFixture<MtpEndToEndTests.Runs>
{
    private const string Tests = $$"""
        using Xunit;
        namespace Sample;
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
        """;

    private readonly Runs _runs;

    public MtpEndToEndTests(Runs runs) => _runs = runs;

    public sealed class Runs : ComparedRuns
    {
        public Runs()
        {
            Directory.CreateDirectory(TempDirectory);
            // `dotnet test` runs the project through Microsoft.Testing.Platform (the .NET 10 SDK's switch).
            File.WriteAllText(Path.Combine(Root, "global.json"), """{ "test": { "runner": "Microsoft.Testing.Platform" } }""");
            TestProject.Write(Suite, "suite",
                """<PackageReference Include="xunit.v3.mtp-v2" Version="4.0.2" />""" + TestProject.SandboxReference(Packages.Version),
                Tests, "<OutputType>Exe</OutputType><UseMicrosoftTestingPlatformRunner>true</UseMicrosoftTestingPlatformRunner>", vstest: false);
            var env = new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = null, ["TMPDIR"] = TempDirectory };
            Build = Packages.Dotnet(Suite, env, "build", "-nologo");
            var executable = Path.Combine(Output, "suite");
            Executable = Run(executable, env, "--report-xunit-trx", "--results-directory", Path.Combine(Root, "executable"));
            Sandboxed = Packages.Dotnet(Suite, env, "test", "--no-build", "--report-xunit-trx", "--results-directory", Path.Combine(Root, "dotnet-test"));
            WrittenFileReachedHost = File.Exists(Path.Combine(Output, "written-by-test.txt"));
            Leftovers = [.. Directory.EnumerateFileSystemEntries(TempDirectory, "sandbox-test-*"), .. HostProcesses.With(Path.Combine(Output, "suite"))];
            var plain = new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = "1", ["TMPDIR"] = TempDirectory };
            PlainExecutable = Run(executable, plain);
            PlainRun = Packages.Dotnet(Suite, plain, "test", "--no-build");
        }

        public CommandResult Executable { get; }
        public CommandResult PlainExecutable { get; }
        public List<string> Leftovers { get; }

        private CommandResult Run(string executable, Dictionary<string, string?> environment, params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo(executable) { WorkingDirectory = Suite };
            foreach (var a in args)
            {
                psi.ArgumentList.Add(a);
            }
            foreach (var (name, value) in environment)
            {
                psi.Environment[name] = value;
            }
            return PackageFixture.Run(psi, TimeSpan.FromMinutes(5));
        }
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
