using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sandbox.Build.Tasks.Tests;

/// <summary>
/// Sandbox.Build as users get it: the package from artifacts/packages in a generated project, `dotnet build`,
/// `dotnet clean`, and the bundle run by the published `sandbox`.
/// </summary>
public sealed class PackageEndToEndTests : IClassFixture<PackageEndToEndTests.AppFixture>
{
    private readonly AppFixture _app;

    public PackageEndToEndTests(AppFixture app) => _app = app;

    /// <summary>One project without a sandbox.yaml, restored and built once for the class.</summary>
    public sealed class AppFixture : IDisposable
    {
        public AppFixture()
        {
            Packages = new PackageFixture();
            Dir = Packages.CreateProject("app", """
                using System.Net.Sockets;
                Console.WriteLine($"cwd: {Environment.CurrentDirectory}");
                Console.WriteLine($"own assembly: {File.Exists("app.dll")}");
                try { File.WriteAllText("written-by-app", "x"); Console.WriteLine("output: writable"); }
                catch (Exception e) { Console.WriteLine($"output: {e.GetType().Name}"); }
                File.WriteAllText("/tmp/x", "x");
                Console.WriteLine("tmp: writable");
                Console.WriteLine($"home: {Environment.GetEnvironmentVariable("HOME")}");
                Console.WriteLine($"tz: {Environment.GetEnvironmentVariable("TZ")} lang: {Environment.GetEnvironmentVariable("LANG")}");
                Console.WriteLine($"secret: {Environment.GetEnvironmentVariable("SANDBOX_TEST_SECRET") ?? "absent"}");
                try
                {
                    using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    s.Connect("192.0.2.1", 80); // TEST-NET-1: never routed; with only loopback the connect fails at once
                    Console.WriteLine("network: reachable");
                }
                catch (SocketException e) { Console.WriteLine($"network: {e.SocketErrorCode}"); }
                """);
            FirstBuild = Packages.Dotnet(Dir, "build", "-nologo");
        }

        public PackageFixture Packages { get; }
        public string Dir { get; }
        public CommandResult FirstBuild { get; }
        public string Output => Path.Combine(Dir, "bin/Debug/net10.0") + "/";
        public string Bundle => Path.Combine(Dir, "obj/Debug/net10.0/sandbox/bundle");
        public string Manifest => Path.Combine(Output, "app.sandbox.json");

        public void Dispose() => Packages.Dispose();
    }

    [Fact]
    public void Build_without_a_sandbox_yaml_makes_a_bundle_of_the_default_spec_and_a_manifest_beside_the_assembly()
    {
        Assert.True(_app.FirstBuild.ExitCode == 0, _app.FirstBuild.ToString());
        var digest = File.ReadAllText(Path.Combine(_app.Bundle, "digest")).Trim();
        Assert.Matches("^sha256:[0-9a-f]{64}$", digest);

        using var manifest = JsonDocument.Parse(File.ReadAllText(_app.Manifest));
        var m = manifest.RootElement;
        Assert.Equal(_app.Bundle, m.GetProperty("bundle").GetString());
        Assert.Equal(digest, m.GetProperty("digest").GetString());
        Assert.True(m.GetProperty("defaultSpec").GetBoolean());
        Assert.Equal(Path.Combine(_app.Dir, "obj/Debug/net10.0/sandbox/sandbox.yaml"), m.GetProperty("spec").GetString());
        // NuGet extracted the package's executables with the owner's execute bit (0744): the one who restored runs
        // them in place; the task copies them into obj/ only for a user who cannot.
        var sandbox = m.GetProperty("sandbox").GetString()!;
        Assert.StartsWith(Path.Combine(_app.Packages.NuGetCache, "sandbox.build", _app.Packages.Version, "tools/linux-x64/"), sandbox, StringComparison.Ordinal);
        Assert.True(File.GetUnixFileMode(sandbox).HasFlag(UnixFileMode.UserExecute));
        Assert.Equal(Path.Combine(Path.GetDirectoryName(sandbox)!, "sandbox-build"), m.GetProperty("sandboxBuild").GetString());

        // The default spec's promises, as config.json states them.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_app.Bundle, "config.json")))!;
        var output = _app.Output.TrimEnd('/');
        Assert.Equal(output, (string?)config["process"]!["cwd"]);
        var env = config["process"]!["env"]!.AsArray().Select(e => (string)e!).ToList();
        Assert.Contains("TZ=UTC", env);
        Assert.Contains("LANG=C.UTF-8", env);
        Assert.Contains("HOME=/tmp", env);
        var mount = config["mounts"]!.AsArray().Single(x => (string?)x!["destination"] == output)!;
        Assert.Equal(output, (string?)mount["source"]);
        Assert.Contains("ro", mount["options"]!.AsArray().Select(o => (string?)o));
        Assert.True((bool?)config["root"]!["readonly"]);
        Assert.NotNull(config["linux"]!["resources"]!["memory"]);
        Assert.NotNull(config["linux"]!["seccomp"]);
        Assert.Contains(config["linux"]!["namespaces"]!.AsArray(), n => (string?)n!["type"] == "network");
    }

    [PrivilegedFact]
    public void The_bundle_runs_the_projects_output_in_its_output_directory_read_only_without_network_or_host_environment()
    {
        Assert.True(_app.FirstBuild.ExitCode == 0, _app.FirstBuild.ToString());
        // The adapter will give the bundle its command; here a copy of its config.json does, over the same rootfs.
        var run = Directory.CreateTempSubdirectory("sandbox-package-run-").FullName;
        try
        {
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_app.Bundle, "config.json")))!;
            config["process"]!["args"] = new JsonArray("dotnet", "app.dll");
            File.WriteAllText(Path.Combine(run, "config.json"), config.ToJsonString());
            File.CreateSymbolicLink(Path.Combine(run, "rootfs"), Path.Combine(_app.Bundle, "rootfs"));
            var psi = new ProcessStartInfo(PackageFixture.SandboxExe)
            {
                ArgumentList = { "--root", Path.Combine(run, "state"), "run", "--bundle", run, $"pkg-{Environment.ProcessId}" },
            };
            psi.Environment["SANDBOX_TEST_SECRET"] = "must-not-leak";
            var r = PackageFixture.Run(psi, TimeSpan.FromSeconds(120));
            Assert.True(r.ExitCode == 0, r.ToString());
            var lines = r.Output.Split('\n');
            Assert.Equal($"cwd: {_app.Output.TrimEnd('/')}", lines[0]);
            Assert.Equal("own assembly: True", lines[1]);
            Assert.Equal("output: IOException", lines[2]); // read-only; a copy-on-write layer is the adapter's step
            Assert.Equal("tmp: writable", lines[3]);
            Assert.Equal("home: /tmp", lines[4]);
            Assert.Equal("tz: UTC lang: C.UTF-8", lines[5]);
            Assert.Equal("secret: absent", lines[6]);
            Assert.Equal("network: NetworkUnreachable", lines[7]);
            Assert.False(File.Exists(Path.Combine(_app.Output, "written-by-app")));
        }
        finally
        {
            Directory.Delete(run, recursive: true);
        }
    }

    [Fact]
    public void A_second_build_skips_the_bundle_target_and_clean_removes_the_bundle_and_the_manifest()
    {
        Assert.True(_app.FirstBuild.ExitCode == 0, _app.FirstBuild.ToString());
        var digestFile = Path.Combine(_app.Bundle, "digest");
        var before = (File.GetLastWriteTimeUtc(digestFile), File.GetLastWriteTimeUtc(_app.Manifest));

        var again = _app.Packages.Dotnet(_app.Dir, "build", "-nologo", "-v:d");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("Skipping target \"SandboxBuildBundle\" because all output files are up-to-date", again.Output, StringComparison.Ordinal);
        Assert.Equal(before, (File.GetLastWriteTimeUtc(digestFile), File.GetLastWriteTimeUtc(_app.Manifest)));

        var clean = _app.Packages.Dotnet(_app.Dir, "clean", "-nologo");
        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.False(Directory.Exists(Path.Combine(_app.Dir, "obj/Debug/net10.0/sandbox")));
        Assert.False(File.Exists(_app.Manifest));

        // Leave the project built for the other tests, whatever order they run in.
        var rebuilt = _app.Packages.Dotnet(_app.Dir, "build", "-nologo");
        Assert.True(rebuilt.ExitCode == 0, rebuilt.ToString());
        Assert.True(File.Exists(_app.Manifest));
    }

    [Fact]
    public void A_sandbox_yaml_error_is_a_build_error_at_its_line_and_column()
    {
        var dir = _app.Packages.CreateProject("bad", "Console.WriteLine(1);\n", "version: 1\nbase: dotnet\nhostnmae: x\nlimits:\n  memory: 512MiB\n");
        var r = _app.Packages.Dotnet(dir, "build", "-nologo");
        Assert.NotEqual(0, r.ExitCode);
        var yaml = Path.Combine(dir, "sandbox.yaml");
        Assert.Contains($"{yaml}(3,1): error SBX4005: unknown key `hostnmae`", r.Output, StringComparison.Ordinal);
        Assert.Contains($"{yaml}(5,11): error SBX4008: ", r.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "bin/Debug/net10.0/bad.sandbox.json")));
    }

    [Fact]
    public void A_sandbox_yaml_beside_the_project_is_used_the_default_when_it_goes_and_SandboxEnabled_false_builds_no_bundle()
    {
        var dir = _app.Packages.CreateProject("custom", "Console.WriteLine(1);\n", "version: 1\nbase: dotnet\nhostname: custom-box\n");
        var manifest = Path.Combine(dir, "bin/Debug/net10.0/custom.sandbox.json");

        var off = _app.Packages.Dotnet(dir, "build", "-nologo", "-p:SandboxEnabled=false");
        Assert.True(off.ExitCode == 0, off.ToString());
        Assert.False(File.Exists(manifest));
        Assert.False(Directory.Exists(Path.Combine(dir, "obj/Debug/net10.0/sandbox")));

        var on = _app.Packages.Dotnet(dir, "build", "-nologo");
        Assert.True(on.ExitCode == 0, on.ToString());
        using var m = JsonDocument.Parse(File.ReadAllText(manifest));
        Assert.Equal(Path.Combine(dir, "sandbox.yaml"), m.RootElement.GetProperty("spec").GetString());
        Assert.False(m.RootElement.GetProperty("defaultSpec").GetBoolean());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(m.RootElement.GetProperty("bundle").GetString()!, "config.json")))!;
        Assert.Equal("custom-box", (string?)config["hostname"]);

        // The sandbox.yaml goes away: older than the bundle or not, the choice changed, so the default takes over.
        File.Delete(Path.Combine(dir, "sandbox.yaml"));
        var fallback = _app.Packages.Dotnet(dir, "build", "-nologo");
        Assert.True(fallback.ExitCode == 0, fallback.ToString());
        using var m2 = JsonDocument.Parse(File.ReadAllText(manifest));
        Assert.True(m2.RootElement.GetProperty("defaultSpec").GetBoolean());
        config = JsonNode.Parse(File.ReadAllText(Path.Combine(m2.RootElement.GetProperty("bundle").GetString()!, "config.json")))!;
        Assert.Equal("sandbox", (string?)config["hostname"]);

        // Turned off for one build, then on again: the bundle of before is still whole (IncrementalClean must not
        // take its files for leftovers of the build that made none) and the next build reuses it.
        var offAgain = _app.Packages.Dotnet(dir, "build", "-nologo", "-p:SandboxEnabled=false");
        Assert.True(offAgain.ExitCode == 0, offAgain.ToString());
        Assert.False(File.Exists(manifest));
        var onAgain = _app.Packages.Dotnet(dir, "build", "-nologo");
        Assert.True(onAgain.ExitCode == 0, onAgain.ToString());
        Assert.True(File.Exists(manifest));
    }
}
