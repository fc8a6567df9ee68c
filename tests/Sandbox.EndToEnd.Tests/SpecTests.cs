using System.Diagnostics;
using System.Text.Json;

namespace Sandbox.EndToEnd.Tests;

/// <summary>A .NET program built by the test, run from a sandbox.yaml with the dotnet base.</summary>
public sealed class DotnetAppFixture : IDisposable
{
    public DotnetAppFixture()
    {
        Dir = Directory.CreateTempSubdirectory("sandbox-spec-e2e-").FullName;
        File.SetUnixFileMode(Dir, (UnixFileMode)0x1ed);
        var project = Directory.CreateDirectory(Path.Combine(Dir, "hello")).FullName;
        File.WriteAllText(Path.Combine(project, "hello.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(project, "Program.cs"), """
            using System.Net.Sockets;
            Console.WriteLine($"hello from {Environment.MachineName} as {Environment.UserName}");
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Connect("192.0.2.1", 80); // TEST-NET-1: never routed; with only loopback the connect fails at once
                Console.WriteLine("network: reachable");
            }
            catch (SocketException e) { Console.WriteLine($"network: {e.SocketErrorCode}"); }
            try { File.WriteAllText("/etc/written", "x"); Console.WriteLine("root: writable"); }
            catch (Exception e) { Console.WriteLine($"root: {e.GetType().Name}"); }
            File.WriteAllText("/tmp/written", "x");
            Console.WriteLine("tmp: writable");
            Console.WriteLine("dirs: " + string.Join(" ", Directory.GetDirectories("/").Order()));
            Console.WriteLine("env: " + string.Join(" ", Environment.GetEnvironmentVariables().Keys.Cast<string>().Order()));
            Console.WriteLine("icu: " + 1.5.ToString(new System.Globalization.CultureInfo("de-DE")));
            """);
        var psi = new ProcessStartInfo("dotnet", ["build", project, "-c", "Release", "-o", Path.Combine(Dir, "out"), "-nologo", "-v", "quiet"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, "building the test app failed: " + output.Result);
        File.WriteAllText(Path.Combine(Dir, "sandbox.yaml"), """
            version: 1
            base: dotnet
            hostname: speccy
            seccomp: unconfined
            env:
              set: { GREETING: hi }
              pass: [ SANDBOX_PASSED ]
            mounts:
              - source: ./out
                target: /app
            command: [ dotnet, /app/hello.dll ]
            """);
    }

    public string Dir { get; }

    public string Spec => Path.Combine(Dir, "sandbox.yaml");

    public void Dispose() => Directory.Delete(Dir, true);
}

public class SpecTests(DotnetAppFixture app) : IClassFixture<DotnetAppFixture>
{
    private string[] Env(string state) => ["--root", state];

    [PrivilegedFact]
    public void A_dotnet_program_runs_with_no_network_a_read_only_root_and_no_other_host_directory()
    {
        var env = new Dictionary<string, string> { ["SANDBOX_CACHE"] = Path.Combine(app.Dir, "cache-run"), ["SANDBOX_PASSED"] = "yes" };
        {
            var r = SandboxHost.Run([.. Env(Path.Combine(app.Dir, "state")), "run", "--spec", app.Spec], TimeSpan.FromSeconds(60), env: env);
            Assert.True(r.ExitCode == 0, r.ToString());
            var lines = r.Stdout.Split('\n');
            Assert.Equal("hello from speccy as sandbox", lines[0]);
            Assert.Equal("network: NetworkUnreachable", lines[1]);
            Assert.Equal("root: IOException", lines[2]);
            Assert.Equal("tmp: writable", lines[3]);
            var dirs = lines[4]["dirs: ".Length..].Split(' ');
            Assert.Equal(["/app", "/dev", "/etc", "/proc", "/sys", "/tmp", "/usr"], dirs.Where(d => !d.StartsWith("/lib", StringComparison.Ordinal)));
            var seen = lines[5]["env: ".Length..].Split(' ');
            Assert.Contains("GREETING", seen);
            Assert.Contains("SANDBOX_PASSED", seen);
            Assert.DoesNotContain("SANDBOX_TEST_SECRET", seen);
            Assert.Equal("icu: 1,5", lines[6]); // ICU came along: culture data works
        }
    }

    [PrivilegedFact]
    public void The_dotnet_program_runs_under_the_default_and_hermetic_profiles()
    {
        var env = new Dictionary<string, string> { ["SANDBOX_CACHE"] = Path.Combine(app.Dir, "cache-seccomp") };
        {
            foreach (var (profile, network) in new[] { ("default", "network: NetworkUnreachable"), ("hermetic", "network: AccessDenied") })
            {
                var r = SandboxHost.Run([.. Env(Path.Combine(app.Dir, "state")), "run", "--seccomp", profile, "--spec", app.Spec], TimeSpan.FromSeconds(60), env: env);
                Assert.True(r.ExitCode == 0, profile + ": " + r);
                var lines = r.Stdout.Split('\n');
                Assert.Equal("hello from speccy as sandbox", lines[0]);
                Assert.Equal(network, lines[1]);
            }
        }
    }

    [PrivilegedFact]
    public void Dotnet_info_runs_in_the_dotnet_base()
    {
        var env = new Dictionary<string, string> { ["SANDBOX_CACHE"] = Path.Combine(app.Dir, "cache-info") };
        {
            var r = SandboxHost.Run([.. Env(Path.Combine(app.Dir, "state")), "run", "--spec", app.Spec, "--", "dotnet", "--info"], TimeSpan.FromSeconds(60), env: env);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("Microsoft.NETCore.App", r.Stdout, StringComparison.Ordinal);
            Assert.Contains("Host:", r.Stdout, StringComparison.Ordinal);
        }
    }

    [PrivilegedFact]
    public void Build_writes_a_bundle_run_bundle_runs_it_and_the_digest_is_the_same_from_another_directory()
    {
        var env = new Dictionary<string, string> { ["SANDBOX_CACHE"] = Path.Combine(app.Dir, "cache-build") };
        {
            var outDir = Path.Combine(app.Dir, "bundle");
            var first = SandboxHost.Run(["build", app.Spec, "-o", outDir], TimeSpan.FromSeconds(60), env: env);
            Assert.True(first.ExitCode == 0, first.ToString());
            var digest = first.Stdout.Trim();
            Assert.Matches("^sha256:[0-9a-f]{64}$", digest);
            Assert.True(File.Exists(Path.Combine(outDir, "config.json")));

            var copy = Directory.CreateTempSubdirectory("sandbox-spec-copy-").FullName;
            try
            {
                File.Copy(app.Spec, Path.Combine(copy, "sandbox.yaml"));
                CopyDirectory(Path.Combine(app.Dir, "out"), Path.Combine(copy, "out"));
                var second = SandboxHost.Run(["build", Path.Combine(copy, "sandbox.yaml"), "-o", Path.Combine(copy, "bundle")], TimeSpan.FromSeconds(60), env: env);
                Assert.Equal(digest, second.Stdout.Trim());
            }
            finally
            {
                Directory.Delete(copy, true);
            }

            var run = SandboxHost.Run(["--root", Path.Combine(app.Dir, "state"), "run", "--bundle", outDir, "from-bundle"], TimeSpan.FromSeconds(60), env: env);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.StartsWith("hello from speccy", run.Stdout, StringComparison.Ordinal);
        }
    }

    [PrivilegedFact]
    public void A_bad_spec_reports_every_problem_with_its_place_and_writes_nothing()
    {
        var bad = Path.Combine(app.Dir, "bad.yaml");
        File.WriteAllText(bad, "version: 1\nbase: dotnett\nhostnmae: x\nmounts:\n  - source: ./missing\n    target: /m\n");
        var outDir = Path.Combine(app.Dir, "bad-bundle");
        var r = SandboxHost.Run(["build", bad, "-o", outDir]);
        Assert.Equal(125, r.ExitCode);
        Assert.Contains($"{bad}:2:7", r.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{bad}:3:1", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("hostname", r.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{bad}:5:", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(outDir));
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from))
        {
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        }
        foreach (var d in Directory.GetDirectories(from))
        {
            CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
        }
    }
}
