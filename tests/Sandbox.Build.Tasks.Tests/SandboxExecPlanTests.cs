using System.Text.Json.Nodes;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Sandbox.Build.Tasks.Tests;

/// <summary>SandboxExec's decisions without a sandbox: what a declaration may be, what the run's config mounts, and what a run's scratch directories hold.</summary>
public sealed class SandboxExecPlanTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-exec-plan-").FullName;
    private readonly FakeBuildEngine _engine = new();
    private readonly string _project;

    public SandboxExecPlanTests() => _project = Directory.CreateDirectory(Path.Combine(_dir, "project")).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string relative) => relative.Length == 0 ? _project : Path.Combine(_project, relative);

    private StepDeclaration Declare(string[] inputs, string[] outputs, string? workingDirectory = null)
    {
        return StepDeclaration.From(_project, inputs, outputs, workingDirectory, p => Path.GetFullPath(p, _project));
    }

    [Fact]
    public void A_declaration_is_read_as_files_and_directories_with_scratch_directories_for_each_place_written()
    {
        Directory.CreateDirectory(P("existing"));
        var step = Declare(["a.txt", "src/"], ["gen/", "existing", "obj/x.cs", "obj/y.cs", "gen/inner.txt", "top.txt"]);

        Assert.Equal([P("existing"), P("gen")], step.DirectoryOutputs);
        Assert.Equal([P("gen/inner.txt"), P("obj/x.cs"), P("obj/y.cs"), P("top.txt")], step.FileOutputs);
        // The project directory (which top.txt's directory is), each output directory, obj/ once; not gen/ twice.
        Assert.Equal([_project, P("existing"), P("gen"), P("obj")], step.ScratchTargets);
        Assert.Equal(_project, step.WorkingDirectory);
    }

    [Fact]
    public void Problems_name_what_cannot_be_a_step()
    {
        Directory.CreateDirectory(P("gen"));
        File.WriteAllText(P("gen/in.txt"), "");
        var step = Declare(["missing.txt", "gen/in.txt", "/usr/bin/env"], ["gen/", "gen/deeper/", "/etc/out"], "/var");
        var problems = step.Problems();

        Assert.Contains(problems, p => p.StartsWith($"the input {P("missing.txt")} does not exist", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith($"the input {P("gen/in.txt")} is also an output or inside an output directory", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith($"the output directory {P("gen/deeper")} is inside the output directory {P("gen")}", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("/usr/bin/env is in a system directory", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("/etc/out is in a system directory", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("the WorkingDirectory /var is outside", StringComparison.Ordinal));
        Assert.Equal(6, problems.Count);
        Assert.Contains("declares no Outputs", Assert.Single(Declare([], []).Problems()), StringComparison.Ordinal);
        Assert.Empty(Declare([], ["out.txt"], "gen").Problems());
    }

    [Fact]
    public void The_run_root_mirrors_the_bundle_down_to_the_steps_paths_and_mounts_inputs_read_only_and_scratch_writable()
    {
        // A bundle's rootfs in miniature: a symlink, a directory the bundle mounts over, a plain directory and file,
        // and the directory the project lies in.
        var rootfs = Directory.CreateDirectory(Path.Combine(_dir, "bundle/rootfs")).FullName;
        File.CreateSymbolicLink(Path.Combine(rootfs, "bin"), "usr/bin");
        Directory.CreateDirectory(Path.Combine(rootfs, "usr/bin"));
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        File.WriteAllText(Path.Combine(rootfs, "etc/passwd"), "root:x:0:0::/:/bin/sh\n");
        File.WriteAllText(Path.Combine(rootfs, "marker"), "");
        var projectTop = _project.Split('/', StringSplitOptions.RemoveEmptyEntries)[0];
        Directory.CreateDirectory(Path.Combine(rootfs, projectTop));
        Directory.CreateDirectory(Path.Combine(rootfs, projectTop, "sibling"));
        var built = new JsonObject
        {
            ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = true },
            ["process"] = new JsonObject { ["env"] = new JsonArray("PATH=/usr/bin", "MODE=spec"), ["user"] = new JsonObject { ["uid"] = 0u, ["gid"] = 0u } },
            ["mounts"] = new JsonArray(new JsonObject { ["destination"] = "/usr", ["type"] = "bind", ["source"] = "/usr" }),
        };
        File.WriteAllText(P("in.txt"), "x");
        var step = Declare(["in.txt"], ["gen/"]);
        var intermediate = Directory.CreateDirectory(Path.Combine(_dir, "intermediate")).FullName;
        var run = Directory.CreateDirectory(Path.Combine(intermediate, "run-1-a")).FullName;

        using var builtDocument = System.Text.Json.JsonDocument.Parse(built.ToJsonString());
        var sandbox = StepSandbox.Prepare(run, intermediate, Path.Combine(_dir, "bundle"), "sha256:1", builtDocument.RootElement, step, ["/bin/sh", "-c", "true"], [new("MODE", "task"), new("EXTRA", "1")]);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(sandbox.Bundle, "config.json")))!;
        var root = (string)config["root"]!["path"]!;
        Assert.Equal(Path.Combine(sandbox.Scaffold, "root"), root);
        Assert.Equal(intermediate, Path.GetDirectoryName(sandbox.Scaffold));
        Assert.True((bool)config["root"]!["readonly"]!, "the shared scaffold is mounted read-only");
        Assert.Equal("usr/bin", new FileInfo(Path.Combine(root, "bin")).LinkTarget);
        Assert.True(Directory.Exists(Path.Combine(root, projectTop)), "the directory holding the project is mirrored");
        var mounts = config["mounts"]!.AsArray().Select(m => $"{m!["destination"]} {m["source"]} {string.Join(',', m["options"]?.AsArray().Select(o => (string?)o) ?? [])}").ToList();
        Assert.Equal([
            $"/etc {rootfs}/etc rbind,ro,nosuid,nodev",
            $"/marker {rootfs}/marker rbind,ro,nosuid,nodev",
            $"/{projectTop}/sibling {rootfs}/{projectTop}/sibling rbind,ro,nosuid,nodev",
            "/usr /usr ",
            $"{_project} {sandbox.Scratch[_project]} bind,nosuid,nodev",
            $"{P("gen")} {sandbox.Scratch[P("gen")]} bind,nosuid,nodev",
            $"{P("in.txt")} {P("in.txt")} rbind,ro,nosuid,nodev",
        ], mounts);
        Assert.Equal(["PATH=/usr/bin", "MODE=task", "EXTRA=1"], config["process"]!["env"]!.AsArray().Select(e => (string?)e));
        Assert.Equal(_project, (string?)config["process"]!["cwd"]);
        Assert.Equal(["/bin/sh", "-c", "true"], config["process"]!["args"]!.AsArray().Select(a => (string?)a));
    }

    [Fact]
    public void A_runs_scratch_directories_sort_into_outputs_missing_outputs_and_undeclared_writes()
    {
        var step = Declare(["src/in.txt"], ["gen/", "obj/a.cs", "obj/b.cs"]);
        var scratch = new Dictionary<string, string>
        {
            [_project] = Directory.CreateDirectory(Path.Combine(_dir, "s0")).FullName,
            [P("gen")] = Directory.CreateDirectory(Path.Combine(_dir, "s1")).FullName,
            [P("obj")] = Directory.CreateDirectory(Path.Combine(_dir, "s2")).FullName,
        };
        // What the runtime makes in the project's scratch: mount points for src/in.txt, gen/ and obj/.
        Directory.CreateDirectory(Path.Combine(_dir, "s0/src"));
        File.WriteAllText(Path.Combine(_dir, "s0/src/in.txt"), "");
        Directory.CreateDirectory(Path.Combine(_dir, "s0/gen"));
        Directory.CreateDirectory(Path.Combine(_dir, "s0/obj"));
        // What the step wrote.
        Directory.CreateDirectory(Path.Combine(_dir, "s1/deep"));
        File.WriteAllText(Path.Combine(_dir, "s1/deep/x.cs"), "x");
        File.WriteAllText(Path.Combine(_dir, "s2/a.cs"), "a");
        File.WriteAllText(Path.Combine(_dir, "s2/c.cs"), "c");
        File.WriteAllText(Path.Combine(_dir, "s0/src/stray.txt"), "s");
        Directory.CreateDirectory(Path.Combine(_dir, "s0/cache/more"));

        var results = StepResults.Collect(step, scratch);

        Assert.Equal([P("gen/deep/x.cs"), P("obj/a.cs")], results.Produced.Select(p => p.Destination).Order(StringComparer.Ordinal));
        Assert.Equal([P("obj/b.cs")], results.Missing);
        Assert.Equal([P("cache/"), P("obj/c.cs"), P("src/stray.txt")], results.Undeclared.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Moving_puts_each_output_in_place_over_the_previous_one_and_digests_compare_runs()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "scratch"));
        File.WriteAllText(Path.Combine(_dir, "scratch/a"), "one");
        File.WriteAllText(Path.Combine(_dir, "scratch/b"), "two");
        Directory.CreateDirectory(P("out/deep"));
        File.WriteAllText(P("out/deep/b"), "previous");
        var results = new StepResults([new ProducedFile(P("out/deep/a"), Path.Combine(_dir, "scratch/a")), new ProducedFile(P("out/deep/b"), Path.Combine(_dir, "scratch/b"))], [], []);
        var first = results.Digests();

        Assert.Equal([P("out/deep/a"), P("out/deep/b")], results.MoveToDestinations());
        Assert.Equal(("one", "two"), (File.ReadAllText(P("out/deep/a")), File.ReadAllText(P("out/deep/b"))));
        Assert.Equal(["a", "b"], Directory.GetFileSystemEntries(P("out/deep")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        // Moved, not copied; and the previous output, exchanged into the scratch directory, is removed there.
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_dir, "scratch")));

        Assert.Empty(StepResults.Differences(first, first));
        var changed = new Dictionary<string, string>(first) { [P("out/deep/a")] = "other", [P("only-second")] = "x" };
        Assert.Equal([P("only-second"), P("out/deep/a")], StepResults.Differences(first, changed));
    }

    private SandboxExec Task(string command, string[] outputs) => new()
    {
        BuildEngine = _engine,
        TaskEnvironment = TaskEnvironment.CreateWithProjectDirectoryAndEnvironment(_project, new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }),
        Command = command,
        Outputs = [.. outputs.Select(o => new TaskItem(o))],
        ToolsDirectory = Path.GetDirectoryName(PackageFixture.SandboxExe)!,
    };

    [Fact]
    public void Parameter_errors_have_codes_and_point_at_the_task_in_the_project_file()
    {
        var task = Task("true", ["out.txt"]);
        task.EnvironmentVariables = ["NOVALUE"];
        Assert.False(task.Execute());
        var error = Assert.Single(_engine.Errors);
        Assert.Equal(("SBX5014", "test.csproj"), (error.Code, error.File));
        Assert.Contains("`NOVALUE`, which is not NAME=value", error.Message, StringComparison.Ordinal);

        _engine.Errors.Clear();
        task = Task("true", ["out.txt"]);
        task.Spec = "nowhere.yaml";
        Assert.False(task.Execute());
        Assert.Equal("SBX5005", Assert.Single(_engine.Errors).Code);

        _engine.Errors.Clear();
        task = Task("true", []);
        Assert.False(task.Execute());
        Assert.Equal("SBX5014", Assert.Single(_engine.Errors).Code);
    }

    [Fact]
    public void A_spec_problem_is_reported_at_its_line_in_the_spec()
    {
        File.WriteAllText(P("step.yaml"), "version: 1\nnetwrk: host\n");
        var task = Task("true", ["out.txt"]);
        task.Spec = "step.yaml";
        Assert.False(task.Execute());
        var error = Assert.Single(_engine.Errors);
        Assert.Equal(("SBX4005", P("step.yaml"), 2, 1), (error.Code, error.File, error.LineNumber, error.ColumnNumber));
    }
}
