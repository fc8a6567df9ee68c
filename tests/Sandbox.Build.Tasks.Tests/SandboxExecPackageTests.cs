using System.Diagnostics;

namespace Sandbox.Build.Tasks.Tests;

/// <summary>
/// SandboxExec as users get it: a generated project whose build runs a generator through the task from the package in
/// artifacts/packages, and compiles what it generates.
/// </summary>
public sealed class SandboxExecPackageTests : IDisposable
{
    private readonly PackageFixture _packages = new();

    public void Dispose() => _packages.Dispose();

    [Fact]
    public void A_generator_step_builds_is_skipped_when_up_to_date_keeps_its_output_when_it_fails_and_names_an_undeclared_write()
    {
        var dir = _packages.CreateProject("gen", "Console.WriteLine(Generated.Text);\n");
        File.WriteAllText(Path.Combine(dir, "template.txt"), "from the template");
        File.WriteAllText(Path.Combine(dir, "gen.sh"), """
            set -e
            text=$(cat template.txt)
            case "$text" in *FAIL*) echo "gen.sh: the template says FAIL" >&2; exit 1;; esac
            printf 'static class Generated { public const string Text = "%s"; }\n' "$text" > "$1/Generated.cs"
            """);
        var project = Path.Combine(dir, "gen.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("</Project>", """
              <ItemGroup>
                <Compile Include="obj/generated/Generated.cs" />
              </ItemGroup>
              <Target Name="Generate" BeforeTargets="CoreCompile" Inputs="gen.sh;template.txt" Outputs="obj/generated/Generated.cs">
                <SandboxExec Command="sh gen.sh obj/generated" Inputs="gen.sh;template.txt" Outputs="obj/generated/Generated.cs">
                  <Output TaskParameter="FileWrites" ItemName="FileWrites" />
                </SandboxExec>
              </Target>
              <Target Name="Leak" AfterTargets="Build" Condition="'$(Leak)' == 'true'">
                <SandboxExec Command="echo x > leak.txt; echo ok > obj/leak-out.txt" Outputs="obj/leak-out.txt" />
              </Target>
            </Project>
            """, StringComparison.Ordinal));
        var generated = Path.Combine(dir, "obj/generated/Generated.cs");

        var build = _packages.Dotnet(dir, "build", "-nologo", "-v:n");
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Contains("SandboxExec: sh gen.sh obj/generated: exit 0, wall ", build.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir, "obj/generated/Generated.cs.sandbox-usage.json")));
        Assert.Equal("from the template", Run(dir));

        // Nothing changed: the target is skipped, the step does not run.
        var stamp = File.GetLastWriteTimeUtc(generated);
        var noop = _packages.Dotnet(dir, "build", "-nologo", "-v:n");
        Assert.True(noop.ExitCode == 0, noop.ToString());
        Assert.DoesNotContain("SandboxExec: ", noop.Output, StringComparison.Ordinal);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(generated));

        // A failing step: an error with its code, exit code and stderr; the previous output is untouched.
        File.WriteAllText(Path.Combine(dir, "template.txt"), "FAIL please");
        var failed = _packages.Dotnet(dir, "build", "-nologo");
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Matches(@"gen\.csproj\(\d+,\d+\): error SBX5010: the step `sh gen.sh obj/generated` failed: exit 1, wall [^;]*; last lines of its stderr: gen\.sh: the template says FAIL", failed.Output);
        Assert.Contains("\"from the template\"", File.ReadAllText(generated), StringComparison.Ordinal);

        // An undeclared write in the project is named, and does not reach it.
        File.WriteAllText(Path.Combine(dir, "template.txt"), "from the template");
        var leak = _packages.Dotnet(dir, "build", "-nologo", "-p:Leak=true");
        Assert.NotEqual(0, leak.ExitCode);
        Assert.Contains($"error SBX5011: the step `echo x > leak.txt; echo ok > obj/leak-out.txt` wrote {dir}/leak.txt, which is not among its Outputs", leak.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "leak.txt")));
        Assert.False(File.Exists(Path.Combine(dir, "obj/leak-out.txt")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir, "obj/sandbox-exec"), "run-*"));
    }

    /// <summary>
    /// Steps with one declaration share one root scaffold, across targets and builds; another declaration gets its own;
    /// a step running as root inside (a spec's user 0) cannot write into the shared scaffold, and the next one sees nothing.
    /// </summary>
    [Fact]
    public void Steps_share_a_read_only_root_scaffold_per_declaration_across_builds()
    {
        var dir = _packages.CreateProject("scaffold", "Console.WriteLine(1);\n");
        File.WriteAllText(Path.Combine(dir, "in.txt"), "in\n");
        File.WriteAllText(Path.Combine(dir, "root.yaml"), SandboxExecTests.SpecText("user: { uid: 0, gid: 0 }"));
        var project = Path.Combine(dir, "scaffold.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("</Project>", """
              <Target Name="Same">
                <SandboxExec Command="cat in.txt > a.txt" Inputs="in.txt" Outputs="a.txt" />
                <SandboxExec Command="cat in.txt > b.txt" Inputs="in.txt" Outputs="b.txt" />
              </Target>
              <Target Name="Other">
                <SandboxExec Command="cat in.txt > gen/c.txt" Inputs="in.txt" Outputs="gen/c.txt" />
              </Target>
              <Target Name="Probe">
                <SandboxExec Command="id -u > probe.txt; (echo x > /probe) 2>/dev/null &amp;&amp; echo written >> probe.txt || echo refused >> probe.txt" Outputs="probe.txt" Spec="root.yaml" />
                <SandboxExec Command="test -e /probe &amp;&amp; echo seen > seen.txt || echo unseen > seen.txt" Outputs="seen.txt" Spec="root.yaml" />
              </Target>
            </Project>
            """, StringComparison.Ordinal));
        var intermediate = Path.Combine(dir, "obj/sandbox-exec");
        string[] Scaffolds() => Directory.GetDirectories(intermediate, "root-*");

        var first = _packages.Dotnet(dir, "build", "-nologo", "-t:Same");
        Assert.True(first.ExitCode == 0, first.ToString());
        var scaffold = Assert.Single(Scaffolds());
        File.WriteAllText(Path.Combine(scaffold, "reused"), "");
        var again = _packages.Dotnet(dir, "build", "-nologo", "-t:Same");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal([scaffold], Scaffolds());
        Assert.True(File.Exists(Path.Combine(scaffold, "reused")), "the scaffold was made again");
        Assert.Equal("in\n", File.ReadAllText(Path.Combine(dir, "b.txt")));

        var other = _packages.Dotnet(dir, "build", "-nologo", "-t:Other");
        Assert.True(other.ExitCode == 0, other.ToString());
        Assert.Equal(2, Scaffolds().Length);

        var probe = _packages.Dotnet(dir, "build", "-nologo", "-t:Probe");
        Assert.True(probe.ExitCode == 0, probe.ToString());
        Assert.Equal("0\nrefused\n", File.ReadAllText(Path.Combine(dir, "probe.txt")));
        Assert.Equal("unseen\n", File.ReadAllText(Path.Combine(dir, "seen.txt")));
        Assert.Equal(3, Scaffolds().Length);
        Assert.All(Scaffolds(), s => Assert.False(File.Exists(Path.Combine(s, "root/probe"))));
        Assert.Empty(Directory.GetDirectories(intermediate, "run-*"));
    }

    /// <summary>samples/HermeticBuildStep, copied beside the fixture's NuGet.config: what its README says it does.</summary>
    [Fact]
    public void The_sample_generates_compiles_skips_when_up_to_date_and_catches_an_undeclared_read_and_a_time_stamp()
    {
        var sample = Path.Combine(PackageFixture.RepoRoot, "samples/HermeticBuildStep");
        var dir = Directory.CreateDirectory(Path.Combine(_packages.Root, "HermeticBuildStep")).FullName;
        foreach (var file in new[] { "HermeticBuildStep.csproj", "Program.cs", "gen.sh", "notes.txt", "templates/hello.txt", "templates/evening.txt" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir, file))!);
            File.Copy(Path.Combine(sample, file), Path.Combine(dir, file));
        }

        var build = _packages.Dotnet(dir, "build", "-nologo", "-v:n");
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Contains("SandboxExec: sh gen.sh obj/generated/: exit 0, wall ", build.Output, StringComparison.Ordinal);
        Assert.Contains("; reproducible (2 runs, same outputs); 1 outputs;", build.Output, StringComparison.Ordinal);
        var run = PackageFixture.Run(new ProcessStartInfo("dotnet", [Path.Combine(dir, "bin/Debug/net10.0/HermeticBuildStep.dll")]), TimeSpan.FromMinutes(1));
        Assert.Equal("Hello from a template\nGood evening from a template", run.Output.Trim());

        var noop = _packages.Dotnet(dir, "build", "-nologo", "-v:n");
        Assert.True(noop.ExitCode == 0, noop.ToString());
        Assert.DoesNotContain("SandboxExec: ", noop.Output, StringComparison.Ordinal);

        var undeclared = _packages.Dotnet(dir, "build", "-nologo", "-t:ReadsUndeclared");
        Assert.NotEqual(0, undeclared.ExitCode);
        Assert.Contains("error SBX5010: the step `cat notes.txt templates/hello.txt > obj/with-notes.txt` failed: exit 1", undeclared.Output, StringComparison.Ordinal);
        Assert.Contains($"error SBX5016: the step `cat notes.txt templates/hello.txt > obj/with-notes.txt` names {dir}/notes.txt, a project file that is not among its Inputs", undeclared.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "obj/with-notes.txt")));

        var stamped = _packages.Dotnet(dir, "build", "-nologo", "-t:NotReproducible");
        Assert.NotEqual(0, stamped.ExitCode);
        Assert.Contains($"error SBX5013: the step `sh gen.sh obj/stamped/ --stamp` is not reproducible: two runs in fresh sandboxes wrote different {dir}/obj/stamped/Greetings.cs (hint:", stamped.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "obj/stamped/Greetings.cs")));
    }

    /// <summary>
    /// A throwaway ordinary user builds a project with a step: the sandbox is rootless (a user namespace mapping the
    /// user to root inside, and nothing else), the output reaches the project, and nothing of the run is left.
    /// </summary>
    [Fact]
    public void An_ordinary_user_runs_a_step_in_a_rootless_sandbox()
    {
        var user = "sbxex" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, Command("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", user).ExitCode);
        var uid = Command("id", "-u", user).Output.Trim();
        try
        {
            var dir = _packages.CreateProject("rootless", "Console.WriteLine(1);\n");
            var project = Path.Combine(dir, "rootless.csproj");
            File.WriteAllText(project, File.ReadAllText(project).Replace("</Project>", """
                  <Target Name="Step" AfterTargets="Build">
                    <SandboxExec Command="cat in.txt > out.txt; cat /proc/self/uid_map >> out.txt" Inputs="in.txt" Outputs="out.txt" />
                  </Target>
                </Project>
                """, StringComparison.Ordinal));
            File.WriteAllText(Path.Combine(dir, "in.txt"), "declared\n");
            var home = Directory.CreateDirectory(Path.Combine(dir, "home")).FullName;
            Assert.Equal(0, Command("chown", "-R", $"{user}:{user}", dir).ExitCode);

            var psi = new ProcessStartInfo("setpriv") { WorkingDirectory = dir };
            foreach (var a in new[] { $"--reuid={uid}", $"--regid={uid}", "--clear-groups", "--", "dotnet", "build", "-nologo" })
            {
                psi.ArgumentList.Add(a);
            }
            foreach (var name in new[] { "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "TMPDIR", "SANDBOX_CACHE", "DOTNET_CLI_HOME" })
            {
                psi.Environment.Remove(name);
            }
            psi.Environment["HOME"] = home;
            psi.Environment["NUGET_PACKAGES"] = Path.Combine(home, "nuget");
            psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            psi.Environment["DOTNET_NOLOGO"] = "1";
            psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
            psi.Environment["DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER"] = "1";
            var build = PackageFixture.Run(psi, TimeSpan.FromMinutes(5));
            Assert.True(build.ExitCode == 0, build.ToString());

            var lines = File.ReadAllLines(Path.Combine(dir, "out.txt"));
            Assert.Equal("declared", lines[0]);
            Assert.Equal($"0 {uid} 1", string.Join(' ', lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
            Assert.Empty(Directory.GetDirectories(Path.Combine(dir, "obj/sandbox-exec"), "run-*"));
            var stateRoot = $"/tmp/sandbox-{uid}";
            // The compiled seccomp filters stay on purpose (docs/seccomp.md); nothing else may.
            Assert.True(!Directory.Exists(stateRoot) || Directory.GetFileSystemEntries(stateRoot).All(e => Path.GetFileName(e) == ".seccomp-cache"),
                "a container's state is left");
        }
        finally
        {
            if (Directory.Exists($"/tmp/sandbox-{uid}"))
            {
                Directory.Delete($"/tmp/sandbox-{uid}", recursive: true);
            }
            Command("userdel", user);
        }
    }

    /// <summary>Ctrl+C in the middle of a step: the build stops, and no process, container state or run directory is left.</summary>
    [Fact]
    public async System.Threading.Tasks.Task Cancelling_the_build_mid_step_leaves_nothing_behind()
    {
        var dir = _packages.CreateProject("cancel", "Console.WriteLine(1);\n");
        var project = Path.Combine(dir, "cancel.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("</Project>", """
              <Target Name="Slow" AfterTargets="Build">
                <SandboxExec Command="echo sandboxexec-cancel-marker; sleep 600" Outputs="out.txt" />
              </Target>
            </Project>
            """, StringComparison.Ordinal));
        var psi = _packages.DotnetStartInfo(dir, new Dictionary<string, string?>(), "build", "-nologo");
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var build = Process.Start(psi)!;
        var output = build.StandardOutput.ReadToEndAsync();
        var errors = build.StandardError.ReadToEndAsync();
        var runs = Path.Combine(dir, "obj/sandbox-exec");
        var deadline = Stopwatch.StartNew();
        // Running once its container's state (whose state.json names the bundle in the run directory) exists.
        List<string> containers;
        while ((containers = Containers(dir)).Count == 0)
        {
            if (deadline.Elapsed > TimeSpan.FromMinutes(4) || build.HasExited)
            {
                Assert.Fail("the step never started: " + await output + await errors);
            }
            await System.Threading.Tasks.Task.Delay(100);
        }
        await System.Threading.Tasks.Task.Delay(500);
        Assert.Equal(0, Command("kill", "-INT", build.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).ExitCode);
        Assert.True(build.WaitForExit(TimeSpan.FromMinutes(1)), "the build did not stop after SIGINT");
        await output;
        await errors;

        Assert.NotEqual(0, build.ExitCode);
        Assert.Single(containers);
        Assert.Empty(Containers(dir));
        Assert.Empty(Directory.GetDirectories(runs, "run-*"));
        // Nothing but the spec, the bundle and the step's root scaffold, which the next build reuses.
        Assert.Equal(["bundle-", "default.yaml", "root-"], Directory.GetFileSystemEntries(runs).Select(e => Path.GetFileName(e) is var n && n != "default.yaml" ? n[..(n.IndexOf('-', StringComparison.Ordinal) + 1)] : n).Order(StringComparer.Ordinal));
        Assert.False(File.Exists(Path.Combine(dir, "out.txt")));
        var left = Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)).Where(d =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(d, "cmdline")).Contains("sandboxexec-cancel-marker", StringComparison.Ordinal)
                    || File.ReadAllText(Path.Combine(d, "cmdline")).Contains(dir, StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        }).ToList();
        Assert.Empty(left);
    }

    /// <summary>The state directories of root's containers whose bundle lies in <paramref name="dir"/>.</summary>
    private static List<string> Containers(string dir) =>
        [.. Directory.GetDirectories("/run/sandbox", "sbx-exec-*").Where(d =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(d, "state.json")).Contains(dir + "/", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        })];

    private static CommandResult Command(string program, params string[] args) => PackageFixture.Run(new ProcessStartInfo(program, args), TimeSpan.FromMinutes(1));

    private static string Run(string dir)
    {
        var result = PackageFixture.Run(new ProcessStartInfo("dotnet", [Path.Combine(dir, "bin/Debug/net10.0/gen.dll")]), TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Output.Trim();
    }
}
