using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>The generated test projects of the end-to-end tests: one shape, their references and tests differing.</summary>
internal static class TestProject
{
    /// <summary>A test of the generated projects (xunit): it writes beside its assembly, which a sandbox allows in its
    /// copy-on-write layer of the output directory only.</summary>
    public const string WritesBesideItsAssembly = """
        [Fact]
        public void Writes_beside_its_assembly()
        {
            var path = Path.Combine(AppContext.BaseDirectory, "written-by-test.txt");
            File.WriteAllText(path, "x");
            Assert.Equal("x", File.ReadAllText(path));
        }
        """;

    /// <summary>A test class of the generated projects (xunit), Memory, whose test allocates 600 MiB: past the memory
    /// limit the end-to-end tests give their sandbox.yaml (256 MiB), far below what a host without one has.</summary>
    public const string NeedsMoreThanTheMemoryLimit = """
        public class Memory
        {
            [Fact]
            public void Needs_more_than_the_limit()
            {
                var blocks = new List<byte[]>();
                for (var i = 0; i < 600; i++) { var b = new byte[1 << 20]; Array.Fill(b, (byte)1); blocks.Add(b); }
                Assert.Equal(600, blocks.Count);
            }
        }
        """;

    public static string SandboxReference(string version) => $"""<PackageReference Include="Sandbox.TestAdapter" Version="{version}" />""";

    /// <summary>Writes DIR/NAME.csproj (net10.0, Microsoft.NET.Test.Sdk unless <paramref name="vstest"/> is false,
    /// <paramref name="references"/>) and DIR/Tests.cs; returns DIR.</summary>
    public static string Write(string dir, string name, string references, string tests, string properties = "", bool vstest = true)
    {
        Directory.CreateDirectory(dir);
        var testSdk = vstest ? """<PackageReference Include="Microsoft.NET.Test.Sdk" Version="18.0.1" />""" : "";
        File.WriteAllText(Path.Combine(dir, $"{name}.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                {properties}
              </PropertyGroup>
              <ItemGroup>
                {testSdk}
                {references}
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Tests.cs"), tests);
        return dir;
    }

    /// <summary>The tests `dotnet test --list-tests` printed, sorted.</summary>
    public static IEnumerable<string> Listed(CommandResult r) =>
        r.Output.Split('\n').SkipWhile(l => !l.Contains("The following Tests are available:", StringComparison.Ordinal)).Skip(1)
            .Select(l => l.Trim()).Where(l => l.Length > 0).Order(StringComparer.Ordinal);
}

/// <summary>
/// What an end-to-end comparison keeps of its runs: a project (ROOT/suite) built and run with Sandbox, with
/// SANDBOX_DISABLE=1 and without the package, each run's command result; TRX files are written to ROOT.
/// </summary>
public abstract class ComparedRuns : IDisposable
{
    public PackageFixture Packages { get; } = new();
    public string Root => Packages.Root;
    public string Suite => Path.Combine(Root, "suite");
    public string Output => Path.Combine(Suite, "bin/Debug/net10.0");
    /// <summary>A temporary directory of the sandboxed runs' own, so the check that run directories are removed sees only theirs.</summary>
    public string TempDirectory => Path.Combine(Root, "tmp");
    public CommandResult Build { get; protected set; } = new(-1, "");
    public CommandResult PlainBuild { get; protected set; } = new(-1, "");
    public CommandResult Sandboxed { get; protected set; } = new(-1, "");
    public CommandResult SandboxedList { get; protected set; } = new(-1, "");
    public CommandResult Unsandboxed { get; protected set; } = new(-1, "");
    public CommandResult PlainRun { get; protected set; } = new(-1, "");
    public CommandResult PlainList { get; protected set; } = new(-1, "");
    public bool WrittenFileReachedHost { get; protected set; }

    public void Dispose()
    {
        Packages.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Microsoft.Testing.Platform test applications, run as executables.</summary>
internal static class TestApplication
{
    /// <summary>A global.json in <paramref name="root"/> with which `dotnet test` runs projects below it through
    /// Microsoft.Testing.Platform (the .NET 10 SDK's switch).</summary>
    public static void SelectMtpForDotnetTest(string root) =>
        File.WriteAllText(Path.Combine(root, "global.json"), """{ "test": { "runner": "Microsoft.Testing.Platform" } }""");

    /// <summary>The environment of a sandboxed run (SANDBOX_DISABLE removed) or an unsandboxed one (SANDBOX_DISABLE=1),
    /// with <paramref name="tempDirectory"/> as TMPDIR, where the leak checks look for run directories.</summary>
    public static Dictionary<string, string?> Environment(string tempDirectory, bool sandboxed) =>
        new() { ["SANDBOX_DISABLE"] = sandboxed ? null : "1", ["TMPDIR"] = tempDirectory };

    /// <summary>EXECUTABLE ARGS in <paramref name="workingDirectory"/>, with <paramref name="environment"/> added to (or,
    /// for null values, removed from) this process's.</summary>
    public static CommandResult Run(string workingDirectory, string executable, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(executable) { WorkingDirectory = workingDirectory };
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

/// <summary>The host's processes, as the leak checks of the end-to-end tests look for them.</summary>
internal static class HostProcesses
{
    /// <summary>Every live process with a command line (a zombie has none left), with it, spaces for the NULs.</summary>
    public static IEnumerable<(int Pid, string CommandLine)> All()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // gone meanwhile, or not ours to read
            }
            if (cmdline.Length > 0)
            {
                yield return (pid, cmdline);
            }
        }
    }

    /// <summary>"PID: command line" of each process whose command line contains <paramref name="marker"/>.</summary>
    public static List<string> With(string marker) =>
        [.. All().Where(p => p.CommandLine.Contains(marker, StringComparison.Ordinal)).Select(p => $"{p.Pid}: {p.CommandLine}")];
}
