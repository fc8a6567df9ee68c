namespace Sandbox.Build.Tasks.Tests;

/// <summary>The root scaffold without a sandbox: what it holds, which steps share one, and when one is made, reused or removed.</summary>
public sealed class RootScaffoldTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-exec-scaffold-").FullName;
    private readonly string _project;
    private readonly string _rootfs;
    private readonly string _intermediate;

    public RootScaffoldTests()
    {
        _project = Directory.CreateDirectory(Path.Combine(_dir, "work/project")).FullName;
        _intermediate = Directory.CreateDirectory(Path.Combine(_project, "obj/sandbox-exec")).FullName;
        // A rootfs in miniature: a symlink, a file, a directory the bundle mounts over, and the directories above the
        // project, one with a sibling of the project's own.
        _rootfs = Directory.CreateDirectory(Path.Combine(_dir, "bundle/rootfs")).FullName;
        File.CreateSymbolicLink(Path.Combine(_rootfs, "bin"), "usr/bin");
        Directory.CreateDirectory(Path.Combine(_rootfs, "usr/bin"));
        File.WriteAllText(Path.Combine(_rootfs, "marker"), "");
        Directory.CreateDirectory(Path.Combine(_rootfs, _dir[1..], "work/other"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private StepDeclaration Declare(string[] inputs, string[] outputs) =>
        StepDeclaration.From(_project, inputs, outputs, null, p => Path.GetFullPath(p, _project));

    private static readonly HashSet<string> BuiltDestinations = ["/usr"];

    private (string Directory, bool Made) Obtain(StepDeclaration step, string digest = "sha256:1", string? work = null)
    {
        work ??= Directory.CreateDirectory(Path.Combine(_intermediate, "run-1-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        var needed = step.MountTargets.Append(step.WorkingDirectory).ToList();
        return RootScaffold.Obtain(_intermediate, work, RootScaffold.Key(_rootfs, digest, step, BuiltDestinations), _rootfs, digest,
            () => RootScaffold.Plan(_rootfs, needed, BuiltDestinations));
    }

    [Fact]
    public void The_plan_binds_what_the_step_does_not_need_and_descends_to_the_steps_paths()
    {
        var step = Declare([], ["out.txt"]);
        var plan = RootScaffold.Plan(_rootfs, [.. step.MountTargets, step.WorkingDirectory], BuiltDestinations);

        var top = "/" + _dir.Split('/', StringSplitOptions.RemoveEmptyEntries)[0];
        var expected = new List<string> { "/bin -> usr/bin" };
        // Every directory on the way to the project is made (mirrored), not bound: the runtime makes the project's
        // mount point in the scaffold, never in the rootfs.
        for (var dir = top; ; dir = dir + "/" + _dir[(dir.Length + 1)..].Split('/')[0])
        {
            expected.Add($"{dir} dir");
            if (dir == _dir)
            {
                break;
            }
        }
        expected.Add($"{_dir}/work dir");
        expected.Add($"{_dir}/work/other dir bound {_rootfs}{_dir}/work/other");
        expected.Add($"/marker file bound {_rootfs}/marker");
        expected.Add("/usr dir"); // the bundle mounts /usr: an empty mount point
        Assert.Equal(expected.Order(StringComparer.Ordinal),
            plan.Select(e => e.LinkTarget is { } l ? $"{e.Path} -> {l}" : $"{e.Path} {(e.IsDirectory ? "dir" : "file")}{(e.BindSource is { } s ? " bound " + s : "")}").Order(StringComparer.Ordinal));

        var root = Directory.CreateDirectory(Path.Combine(_dir, "made")).FullName;
        RootScaffold.Make(root, plan);
        Assert.Equal("usr/bin", new FileInfo(Path.Combine(root, "bin")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(root, "marker")));
        Assert.True(Directory.Exists(root + _dir + "/work/other"));
        Assert.Empty(Directory.GetFileSystemEntries(root + _dir + "/work/other"));
    }

    [Fact]
    public void Steps_share_a_key_only_with_the_same_bundle_paths_and_kinds()
    {
        File.WriteAllText(Path.Combine(_project, "in"), "");
        var step = Declare(["in"], ["out.txt"]);
        string Key(StepDeclaration s, string rootfs = "/b/rootfs", string digest = "sha256:1", string[]? destinations = null) =>
            RootScaffold.Key(rootfs, digest, s, destinations ?? ["/usr", "/tmp"]);

        Assert.Equal(Key(step), Key(Declare(["in"], ["other.txt"])));
        Assert.Equal(Key(step), Key(step, destinations: ["/tmp", "/usr"]));
        var others = new[]
        {
            Key(step, rootfs: "/c/rootfs"),
            Key(step, digest: "sha256:2"),
            Key(step, destinations: ["/usr"]),
            Key(Declare(["in"], ["gen/out.txt"])),
            Key(Declare([], ["out.txt"])),
            Key(StepDeclaration.From(_project, ["in"], ["out.txt"], "obj", p => Path.GetFullPath(p, _project))),
        };
        Assert.Equal(others.Length + 1, others.Append(Key(step)).Distinct().Count());

        // The same path as a directory: `sandbox run` would need a directory where the scaffold has a file.
        var asFile = Key(step);
        File.Delete(Path.Combine(_project, "in"));
        Directory.CreateDirectory(Path.Combine(_project, "in"));
        Assert.NotEqual(asFile, Key(Declare(["in"], ["out.txt"])));
    }

    [Fact]
    public void A_finished_scaffold_is_reused_and_one_without_its_marker_is_replaced()
    {
        var step = Declare([], ["out.txt"]);
        var (first, made) = Obtain(step);
        Assert.True(made);
        Assert.Equal("usr/bin", new FileInfo(Path.Combine(first, "root/bin")).LinkTarget);
        // Anything a reuse would keep: a made-again scaffold would not have it.
        File.WriteAllText(Path.Combine(first, "kept"), "");

        var (second, madeAgain) = Obtain(step);
        Assert.Equal((first, false), (second, madeAgain));
        Assert.True(File.Exists(Path.Combine(first, "kept")));

        File.Delete(Path.Combine(first, "bundle"));
        var (third, replaced) = Obtain(step);
        Assert.Equal((first, true), (third, replaced));
        Assert.False(File.Exists(Path.Combine(first, "kept")));
        Assert.True(RootScaffold.IsComplete(first));
    }

    [Fact]
    public void A_step_that_loses_the_race_to_put_its_scaffold_in_place_uses_the_winners()
    {
        var step = Declare([], ["out.txt"]);
        var work = Directory.CreateDirectory(Path.Combine(_intermediate, "run-1-loser")).FullName;
        string? winner = null;
        var needed = step.MountTargets.Append(step.WorkingDirectory).ToList();
        var (used, made) = RootScaffold.Obtain(_intermediate, work, RootScaffold.Key(_rootfs, "sha256:1", step, BuiltDestinations), _rootfs, "sha256:1", () =>
        {
            // Another step finishes first, while this one is making its own.
            (winner, _) = Obtain(step);
            File.WriteAllText(Path.Combine(winner, "winners"), "");
            return RootScaffold.Plan(_rootfs, needed, BuiltDestinations);
        });

        Assert.Equal((winner, false), (used, made));
        Assert.True(File.Exists(Path.Combine(used, "winners")));
        Assert.True(Directory.Exists(Path.Combine(work, "scaffold/root")), "the loser's own is left in its run directory, removed with it");
    }

    [Fact]
    public void Making_a_scaffold_removes_those_of_an_older_build_of_the_bundle_and_of_gone_bundles_but_not_while_another_step_runs()
    {
        var step = Declare([], ["out.txt"]);
        var (old, _) = Obtain(step, "sha256:old");
        var otherRootfs = Directory.CreateDirectory(Path.Combine(_dir, "other/rootfs")).FullName;
        var other = Path.Combine(_intermediate, "root-other");
        Directory.CreateDirectory(Path.Combine(other, "root"));
        File.WriteAllText(Path.Combine(other, "bundle"), $"sha256:x\n{otherRootfs}\n");
        var gone = Path.Combine(_intermediate, "root-gone");
        Directory.CreateDirectory(Path.Combine(gone, "root"));
        File.WriteAllText(Path.Combine(gone, "bundle"), $"sha256:x\n{_dir}/nowhere/rootfs\n");
        foreach (var d in Directory.GetDirectories(_intermediate, "run-*"))
        {
            Directory.Delete(d, recursive: true);
        }

        // Another step's run directory: nothing is removed, it may be running on one of them.
        var running = Directory.CreateDirectory(Path.Combine(_intermediate, "run-2-running")).FullName;
        var work = Directory.CreateDirectory(Path.Combine(_intermediate, "run-1-new")).FullName;
        var (current, made) = Obtain(step, "sha256:new", work);
        Assert.True(made);
        RootScaffold.RemoveStale(_intermediate, work, _rootfs, "sha256:new");
        Assert.Equal(new[] { current, gone, old, other }.Order(StringComparer.Ordinal), Directory.GetDirectories(_intermediate, "root-*").Order(StringComparer.Ordinal));

        Directory.Delete(running);
        RootScaffold.RemoveStale(_intermediate, work, _rootfs, "sha256:new");
        Assert.Equal(new[] { current, other }.Order(StringComparer.Ordinal), Directory.GetDirectories(_intermediate, "root-*").Order(StringComparer.Ordinal));
    }
}
