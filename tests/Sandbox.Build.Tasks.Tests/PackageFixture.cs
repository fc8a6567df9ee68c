using System.Diagnostics;
using System.Xml.Linq;

namespace Sandbox.Build.Tasks.Tests;

public sealed record CommandResult(int ExitCode, string Output)
{
    public override string ToString() => $"exit {ExitCode}\n{Output}";
}

/// <summary>
/// Generated projects that reference Sandbox.Build from artifacts/packages (what eng/pack.sh writes), restored with
/// an isolated NuGet cache and a NuGet.config of their own, as a user's project would: one cache per test class,
/// so the package is extracted once. Also compiled into Sandbox.TestAdapter.Tests, whose generated test projects
/// restore the same way.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    public PackageFixture()
    {
        var feed = Path.Combine(RepoRoot, "artifacts/packages");
        var version = XDocument.Load(Path.Combine(RepoRoot, "Directory.Build.props")).Descendants("SandboxVersion").Single().Value;
        Package = Path.Combine(feed, $"Sandbox.Build.{version}.nupkg");
        // Never a skip: a missing package is a broken build, in CI and anywhere else.
        Assert.True(File.Exists(Package), $"{Package} is missing: run eng/build.sh, or eng/pack.sh after publishing to artifacts/dist");
        Version = version;
        Root = Directory.CreateTempSubdirectory("sandbox-package-e2e-").FullName;
        File.SetUnixFileMode(Root, (UnixFileMode)0x1ed);
        NuGetCache = Path.Combine(Root, "nuget");
        File.WriteAllText(Path.Combine(Root, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        // Projects here must not pick up the repository's Directory.Build.props or packages props.
        File.WriteAllText(Path.Combine(Root, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(Root, "Directory.Packages.props"), "<Project />\n");
    }

    /// <summary>The repository's root: the directory above the test assembly that holds Sandbox.sln.</summary>
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sandbox.sln")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("no Sandbox.sln above " + AppContext.BaseDirectory);
        }
    }

    public string Package { get; }
    public string Version { get; }
    public string Root { get; }
    public string NuGetCache { get; }
    public string SandboxCache => Path.Combine(Root, "sandbox-cache");

    public static string SandboxExe => Path.Combine(RepoRoot, "artifacts/dist/sandbox");

    /// <summary>A console project (net10.0) referencing Sandbox.Build, with an optional sandbox.yaml beside it.</summary>
    public string CreateProject(string name, string program, string? sandboxYaml = null)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Root, name)).FullName;
        File.WriteAllText(Path.Combine(dir, $"{name}.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Sandbox.Build" Version="{Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), program);
        if (sandboxYaml is not null)
        {
            File.WriteAllText(Path.Combine(dir, "sandbox.yaml"), sandboxYaml);
        }
        return dir;
    }

    /// <summary>`dotnet ARGS` in <paramref name="dir"/>, with the isolated caches and no lingering build nodes.</summary>
    public CommandResult Dotnet(string dir, params string[] args) => Dotnet(dir, new Dictionary<string, string?>(), args);

    /// <summary>`dotnet ARGS` with <paramref name="environment"/> added to (or, for null values, removed from) the caches' environment.</summary>
    public CommandResult Dotnet(string dir, IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        Run(DotnetStartInfo(dir, environment, args), TimeSpan.FromMinutes(5));

    /// <summary>How <see cref="Dotnet(string, IReadOnlyDictionary{string, string?}, string[])"/> starts `dotnet`, for a test that starts it itself.</summary>
    public ProcessStartInfo DotnetStartInfo(string dir, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["NUGET_PACKAGES"] = NuGetCache;
        psi.Environment["SANDBOX_CACHE"] = SandboxCache;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER"] = "1";
        foreach (var (name, value) in environment)
        {
            psi.Environment[name] = value;
        }
        return psi;
    }

    public static CommandResult Run(ProcessStartInfo psi, TimeSpan timeout)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} did not finish in {timeout}");
        }
        p.WaitForExit();
        return new CommandResult(p.ExitCode, stdout.Result + stderr.Result);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
