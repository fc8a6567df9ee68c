using System.Text.Json;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Sandbox.Build.Tasks.Tests;

/// <summary>
/// SandboxExec run for real: the task with a fake build engine, the published `sandbox` and `sandbox-build` from
/// artifacts/dist, and a project in a temporary directory. As root here; the sandbox's user is uid 1000.
/// </summary>
public sealed class SandboxExecTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("sandbox-exec-").FullName;
    private readonly FakeBuildEngine _engine = new();

    public SandboxExecTests()
    {
        File.SetUnixFileMode(_project, (UnixFileMode)0x1ed);
        File.WriteAllText(Path.Combine(_project, "input.txt"), "declared input\n");
        File.WriteAllText(Path.Combine(_project, "secret.txt"), "not declared\n");
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private static string Tools => Path.GetDirectoryName(PackageFixture.SandboxExe)!;

    private SandboxExec Task(string command, string[] outputs, params string[] inputs) => new()
    {
        BuildEngine = _engine,
        TaskEnvironment = TaskEnvironment.CreateWithProjectDirectoryAndEnvironment(_project,
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["SANDBOX_EXEC_HOST_VARIABLE"] = "host", ["SANDBOX_CACHE"] = Path.Combine(_project, "obj/cache") }),
        Command = command,
        Inputs = [.. inputs.Select(i => new TaskItem(i))],
        Outputs = [.. outputs.Select(o => new TaskItem(o))],
        ToolsDirectory = Tools,
    };

    /// <summary>step.yaml: what a spec needs for /bin/sh (the host's /usr, its /bin link), and <paramref name="more"/>.</summary>
    private void WriteSpec(string more) => File.WriteAllText(Path.Combine(_project, "step.yaml"), SpecText(more));

    /// <summary>A spec with what /bin/sh needs (the host's /usr, its /bin link), and <paramref name="more"/>.</summary>
    internal static string SpecText(string more) => $"""
        version: 1
        base: dotnet
        mounts:
          - source: /usr
            target: /usr
        files:
          - source: /bin
            target: /bin
        {more}
        """;

    private string Read(string relative) => File.ReadAllText(Path.Combine(_project, relative));

    private string[] RunDirectories => Directory.Exists(Path.Combine(_project, "obj/sandbox-exec"))
        ? Directory.GetDirectories(Path.Combine(_project, "obj/sandbox-exec"), "run-*") : [];

    [Fact]
    public void A_step_sees_its_inputs_and_not_the_rest_of_the_project_and_its_outputs_are_copied_into_place()
    {
        // Everything the step can see is written to the output, to be asserted here: the input, whether the
        // undeclared file and the host's variable exist, who it runs as, HOME and the task's variable.
        var task = Task("""
            mkdir -p gen && cat input.txt > gen/out.txt
            { test -e secret.txt && echo secret-visible || echo secret-hidden
              echo "host=${SANDBOX_EXEC_HOST_VARIABLE:-unset} mode=$MODE home=$HOME uid=$(id -u)"
              echo hi > /tmp/scratch && echo tmp-writable
              touch /usr/x 2>/dev/null && echo usr-writable || echo usr-read-only
            } > gen/seen.txt
            echo 'step ran'
            """, ["gen/"], "input.txt");
        task.EnvironmentVariables = ["MODE=release"];
        task.ConsoleToMSBuild = true;
        Assert.True(task.Execute(), _engine.ErrorsText);

        Assert.Equal("declared input\n", Read("gen/out.txt"));
        Assert.Equal("secret-hidden\nhost=unset mode=release home=/tmp uid=1000\ntmp-writable\nusr-read-only\n", Read("gen/seen.txt"));
        Assert.Equal(0, task.ExitCode);
        Assert.Contains("step ran", task.ConsoleOutput.Select(i => i.ItemSpec));
        var usageFile = Path.Combine(_project, "gen.sandbox-usage.json");
        Assert.Equal(
            [usageFile, Path.Combine(_project, "gen/out.txt"), Path.Combine(_project, "gen/seen.txt")],
            task.FileWrites.Select(i => i.ItemSpec).Order(StringComparer.Ordinal));
        using var usage = JsonDocument.Parse(File.ReadAllText(usageFile));
        Assert.Equal(0, usage.RootElement.GetProperty("runs")[0].GetProperty("exitCode").GetInt32());
        Assert.Equal(2, usage.RootElement.GetProperty("outputs").GetArrayLength());
        Assert.Single(_engine.Messages, m => m.Importance == MessageImportance.Normal && m.Message!.StartsWith("SandboxExec: ", StringComparison.Ordinal)
            && m.Message.Contains("exit 0, wall ", StringComparison.Ordinal));
        Assert.Empty(RunDirectories);
    }

    [Fact]
    public void An_output_moved_into_place_belongs_to_the_build_and_keeps_no_set_id_bit()
    {
        // As root the step runs as uid 1000, which owns what it writes: moved into the project, the files are root's, as
        // a copy made by the build would be, and the set-user-ID bit the step gave one is gone. The previous output is replaced.
        Directory.CreateDirectory(Path.Combine(_project, "gen"));
        File.WriteAllText(Path.Combine(_project, "gen/tool"), "previous\n");
        var task = Task("echo '#!/bin/sh' > gen/tool && chmod 4755 gen/tool && ln -s tool gen/link && test -u gen/tool", ["gen/"]);
        Assert.True(task.Execute(), _engine.ErrorsText);

        Assert.Equal("#!/bin/sh\n", Read("gen/tool"));
        Assert.Equal((UnixFileMode)0x1ed, File.GetUnixFileMode(Path.Combine(_project, "gen/tool"))); // 0755
        Assert.Equal("tool", new FileInfo(Path.Combine(_project, "gen/link")).LinkTarget);
        Assert.Equal("0:0\n0:0\n", Owners(Path.Combine(_project, "gen/tool"), Path.Combine(_project, "gen/link")));
        Assert.Empty(RunDirectories);
    }

    /// <summary>uid:gid of each path, not following a symlink.</summary>
    private static string Owners(params string[] paths)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%u:%g", .. paths]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text;
    }

    [Fact]
    public void A_failing_step_leaves_the_previous_outputs_untouched_and_says_how_it_ended()
    {
        Directory.CreateDirectory(Path.Combine(_project, "gen"));
        File.WriteAllText(Path.Combine(_project, "gen/out.txt"), "previous\n");
        var task = Task("echo new > gen/out.txt; echo 'generator: bad template' >&2; exit 3", ["gen/out.txt"], "input.txt");
        Assert.False(task.Execute());

        Assert.Equal("previous\n", Read("gen/out.txt"));
        var error = Assert.Single(_engine.Errors);
        Assert.Equal("SBX5010", error.Code);
        Assert.Equal("test.csproj", error.File);
        Assert.Contains("exit 3, wall ", error.Message, StringComparison.Ordinal);
        Assert.Contains("generator: bad template", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, task.ExitCode);
        Assert.Empty(task.FileWrites);
        Assert.Empty(RunDirectories);
    }

    [Fact]
    public void The_default_bundle_is_built_once_and_again_only_when_its_spec_or_builder_is_newer()
    {
        bool Built() => _engine.Messages.Any(m => m.Message!.Contains(" build ", StringComparison.Ordinal) && m.Message.Contains("/default.yaml -o ", StringComparison.Ordinal));
        Assert.True(Task("echo 1 > out.txt", ["out.txt"]).Execute(), _engine.ErrorsText);
        Assert.True(Built());

        _engine.Messages.Clear();
        Assert.True(Task("echo 2 > out.txt", ["out.txt"]).Execute(), _engine.ErrorsText);
        Assert.False(Built());
        Assert.Equal("2\n", Read("out.txt"));

        // A spec newer than the bundle (another host layout, another version of the task) is built again.
        _engine.Messages.Clear();
        File.SetLastWriteTimeUtc(Path.Combine(_project, "obj/sandbox-exec/default.yaml"), DateTime.UtcNow.AddMinutes(1));
        Assert.True(Task("echo 3 > out.txt", ["out.txt"]).Execute(), _engine.ErrorsText);
        Assert.True(Built());
    }

    private string[] Scaffolds => Directory.GetDirectories(Path.Combine(_project, "obj/sandbox-exec"), "root-*");

    [Fact]
    public void Steps_with_one_declaration_share_a_root_scaffold_and_another_declaration_gets_its_own()
    {
        Assert.True(Task("cat input.txt > out.txt", ["out.txt"], "input.txt").Execute(), _engine.ErrorsText);
        var scaffold = Assert.Single(Scaffolds);
        // Kept by a reuse; a scaffold made again in its place would not have it.
        File.WriteAllText(Path.Combine(scaffold, "reused"), "");

        Assert.True(Task("cat input.txt > other.txt", ["other.txt"], "input.txt").Execute(), _engine.ErrorsText);
        Assert.Equal([scaffold], Scaffolds);
        Assert.True(File.Exists(Path.Combine(scaffold, "reused")), "the scaffold was made again");
        Assert.Equal("declared input\n", Read("other.txt"));

        // Another input: another scaffold, beside the first (same bundle, so not stale).
        Assert.True(Task("cat input.txt secret.txt > both.txt", ["both.txt"], "input.txt", "secret.txt").Execute(), _engine.ErrorsText);
        Assert.Equal(2, Scaffolds.Length);
        Assert.Contains(scaffold, Scaffolds);
        Assert.Equal("declared input\nnot declared\n", Read("both.txt"));
        Assert.Empty(RunDirectories);
    }

    /// <summary>
    /// As root inside (the spec's user 0, which owns the scaffold's directories), a step tries to write at /, in the
    /// directories on the way to the project that `sandbox run` made in the scaffold: the read-only root refuses them
    /// all, and the next step on the same scaffold sees none of it.
    /// </summary>
    [Fact]
    public void A_step_cannot_write_into_the_shared_root_scaffold()
    {
        // Outside /tmp (the bundle's tmpfs), so the way to the project is made of the scaffold's own directories.
        var project = Directory.CreateDirectory(Path.Combine("/var/tmp", "sandbox-exec-scaffold-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            File.WriteAllText(Path.Combine(project, "step.yaml"), SpecText("user: { uid: 0, gid: 0 }"));
            SandboxExec Probe(string command) => new()
            {
                BuildEngine = _engine,
                TaskEnvironment = TaskEnvironment.CreateWithProjectDirectoryAndEnvironment(project, new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }),
                Command = command,
                Outputs = [new TaskItem("out.txt")],
                Spec = "step.yaml",
                ToolsDirectory = Tools,
            };
            var places = "/probe /var/probe /var/tmp/probe";
            Assert.True(Probe($$"""
                id -u > out.txt
                for p in {{places}}; do (echo x > $p) 2>/dev/null && echo "$p written" >> out.txt || echo "$p refused" >> out.txt; done
                mkdir /var/tmp/probe-dir 2>/dev/null && echo "mkdir done" >> out.txt || echo "mkdir refused" >> out.txt
                """).Execute(), _engine.ErrorsText);
            Assert.Equal(["0", "/probe refused", "/var/probe refused", "/var/tmp/probe refused", "mkdir refused"], File.ReadAllLines(Path.Combine(project, "out.txt")));

            Assert.True(Probe($"for p in {places} /var/tmp/probe-dir; do test -e $p && echo \"$p seen\"; done > out.txt; true").Execute(), _engine.ErrorsText);
            Assert.Equal("", File.ReadAllText(Path.Combine(project, "out.txt")));
            var scaffold = Assert.Single(Directory.GetDirectories(Path.Combine(project, "obj/sandbox-exec"), "root-*"));
            var root = Path.Combine(scaffold, "root");
            Assert.True(Directory.Exists(root + project), "the scaffold holds the project's mount point");
            Assert.Equal([root + "/var/tmp/" + Path.GetFileName(project)], Directory.GetFileSystemEntries(root + "/var/tmp"));
            Assert.False(File.Exists(Path.Combine(root, "probe")));
        }
        finally
        {
            Directory.Delete(project, recursive: true);
        }
    }

    [Fact]
    public void A_run_directory_of_a_dead_build_is_removed_and_the_scaffolds_are_kept()
    {
        Assert.True(Task("echo 1 > out.txt", ["out.txt"]).Execute(), _engine.ErrorsText);
        var scaffold = Assert.Single(Scaffolds);
        using var gone = System.Diagnostics.Process.Start("true")!;
        gone.WaitForExit();
        var intermediate = Path.Combine(_project, "obj/sandbox-exec");
        // This version's name, and an older version's with its owner.pid file.
        Directory.CreateDirectory(Path.Combine(intermediate, $"run-{gone.Id}-0123456789ab/0/deep"));
        Directory.CreateDirectory(Path.Combine(intermediate, "run-ba9876543210/scratch/0"));
        File.WriteAllText(Path.Combine(intermediate, "run-ba9876543210/owner.pid"), gone.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.True(Task("echo 2 > out.txt", ["out.txt"]).Execute(), _engine.ErrorsText);
        Assert.Empty(RunDirectories);
        Assert.Equal([scaffold], Scaffolds);
    }

    [Fact]
    public void IgnoreExitCode_takes_the_outputs_of_a_step_that_exits_with_another_code()
    {
        var task = Task("echo made > out.txt; exit 2", ["out.txt"]);
        task.IgnoreExitCode = true;
        Assert.True(task.Execute(), _engine.ErrorsText);
        Assert.Equal("made\n", Read("out.txt"));
        Assert.Equal(2, task.ExitCode);
    }

    [Fact]
    public void A_write_outside_the_outputs_fails_the_step_with_the_path_and_nothing_is_copied()
    {
        var task = Task("mkdir -p gen && echo ok > gen/out.txt && echo stray > stray.txt && mkdir -p cache/x", ["gen/out.txt"], "input.txt");
        Assert.False(task.Execute());

        Assert.Equal(
            [$"SBX5011 {_project}/cache/", $"SBX5011 {_project}/stray.txt"],
            _engine.Errors.Select(e => $"{e.Code} {System.Text.RegularExpressions.Regex.Match(e.Message!, "` wrote (\\S+), ").Groups[1].Value}").Order(StringComparer.Ordinal));
        Assert.False(File.Exists(Path.Combine(_project, "gen/out.txt")));
        Assert.False(File.Exists(Path.Combine(_project, "stray.txt")));
    }

    [Fact]
    public void A_failed_step_that_names_an_undeclared_project_file_is_told_so()
    {
        var task = Task("cat secret.txt > out.txt", ["out.txt"], "input.txt");
        Assert.False(task.Execute());
        Assert.Contains(_engine.Errors, e => e.Code == "SBX5010");
        Assert.Contains(_engine.Errors, e => e.Code == "SBX5016" && e.Message!.Contains(Path.Combine(_project, "secret.txt"), StringComparison.Ordinal));
    }

    [Fact]
    public void A_step_that_writes_something_different_each_run_is_caught_by_Reproducible()
    {
        var task = Task("mkdir -p gen && cat input.txt > gen/same.txt && date +%s%N > gen/stamp.txt", ["gen/"], "input.txt");
        task.Reproducible = true;
        Assert.False(task.Execute());

        var error = Assert.Single(_engine.Errors);
        Assert.Equal("SBX5013", error.Code);
        Assert.Contains(Path.Combine(_project, "gen/stamp.txt"), error.Message, StringComparison.Ordinal);
        var message = error.Message!;
        Assert.DoesNotContain("same.txt", message[message.IndexOf("wrote different", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_project, "gen")));
        Assert.Empty(RunDirectories);
    }

    [Fact]
    public void A_reproducible_step_passes_Reproducible_and_its_usage_file_has_both_runs()
    {
        var task = Task("cat input.txt > out.txt", ["out.txt"], "input.txt");
        task.Reproducible = true;
        Assert.True(task.Execute(), _engine.ErrorsText);
        using var usage = JsonDocument.Parse(Read("out.txt.sandbox-usage.json"));
        Assert.Equal(2, usage.RootElement.GetProperty("runs").GetArrayLength());
    }

    [Fact]
    public void The_step_has_only_loopback_unless_its_spec_grants_the_network()
    {
        var hostInterfaces = Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.True(Task("ls /sys/class/net > out.txt", ["out.txt"]).Execute(), _engine.ErrorsText);
        Assert.Equal("lo\n", Read("out.txt"));

        WriteSpec("network: host");
        var task = Task("ls /sys/class/net > out.txt", ["out.txt"], "step.yaml");
        task.Spec = "step.yaml";
        Assert.True(task.Execute(), _engine.ErrorsText);
        Assert.Equal(hostInterfaces, File.ReadAllLines(Path.Combine(_project, "out.txt")));
    }

    [Fact]
    public void A_step_over_its_specs_time_limit_fails_with_the_reports_figures()
    {
        WriteSpec("limits:\n  time: 1s");
        var task = Task("echo started >&2; sleep 60; echo late > out.txt", ["out.txt"]);
        task.Spec = "step.yaml";
        Assert.False(task.Execute());
        var error = Assert.Single(_engine.Errors);
        Assert.Equal("SBX5010", error.Code);
        Assert.Matches(@"failed: exit 137, wall \d+ ms, .*timed out after 1000 ms; last lines of its stderr: started", error.Message);
        Assert.False(File.Exists(Path.Combine(_project, "out.txt")));
    }

    [Fact]
    public void Cancel_ends_the_step_and_leaves_no_process_state_cgroup_or_run_directory()
    {
        var task = Task("echo started > /tmp/x; sleep 600", ["out.txt"]);
        var result = true;
        var run = new Thread(() => result = task.Execute());
        run.Start();
        var id = WaitFor(() => _engine.Messages.ToList().Select(m => m.Message ?? "").FirstOrDefault(m => m.Contains(" sbx-exec-", StringComparison.Ordinal))?.Split(' ')[^1]);
        // The container is running once its process is in the state directory's record; give it that moment.
        WaitFor(() => Directory.Exists(Path.Combine("/run/sandbox", id)) ? id : null);
        Thread.Sleep(500);
        task.Cancel();
        Assert.True(run.Join(TimeSpan.FromMinutes(1)), "Execute did not return after Cancel");

        Assert.False(result);
        Assert.False(File.Exists(Path.Combine(_project, "out.txt")));
        Assert.Empty(RunDirectories);
        // Nothing but the spec, the bundle and the step's root scaffold, which the next step with its declaration reuses.
        Assert.Equal(["bundle-", "default.yaml", "root-"],
            Directory.GetFileSystemEntries(Path.Combine(_project, "obj/sandbox-exec")).Select(e => Path.GetFileName(e) is var n && n != "default.yaml" ? n[..(n.IndexOf('-', StringComparison.Ordinal) + 1)] : n).Order(StringComparer.Ordinal));
        Assert.False(Directory.Exists(Path.Combine("/run/sandbox", id)), "the state directory is left");
        var cgroups = Directory.EnumerateDirectories("/sys/fs/cgroup").SelectMany(h => Directory.EnumerateDirectories(h, "*" + id + "*", SearchOption.AllDirectories)).ToList();
        Assert.Empty(cgroups);
        var sleeping = Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _))
            .Where(d => { try { return File.ReadAllText(Path.Combine(d, "cmdline")).Contains(_project, StringComparison.Ordinal) || File.ReadAllText(Path.Combine(d, "cmdline")).Contains(id, StringComparison.Ordinal); } catch (IOException) { return false; } })
            .ToList();
        Assert.Empty(sleeping);
    }

    private static string WaitFor(Func<string?> probe)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (probe() is { } found)
                {
                    return found;
                }
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                // the task thread added a message while the list was read
            }
            Thread.Sleep(50);
        }
        throw new TimeoutException("waited a minute in vain");
    }
}
