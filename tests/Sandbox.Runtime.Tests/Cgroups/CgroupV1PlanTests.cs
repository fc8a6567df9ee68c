using Sandbox.Runtime.Cgroups;

namespace Sandbox.Runtime.Tests.Cgroups;

/// <summary>
/// The cgroup v1 plan made before the clone, for a cgroup made after it: the tasks files the child opens under each
/// hierarchy's mount point (JoinCgroupStep). The hierarchies are directories of a temporary tree here; that the child
/// really joins through them is what the end-to-end cgroup tests see (limits hold, figures are counted).
/// </summary>
public sealed class CgroupV1PlanTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sandbox-v1plan-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private CgroupV1Driver Driver()
    {
        foreach (var dir in new[] { "cpu,cpuacct", "memory/process_api/abc", "pids", "freezer" })
        {
            Directory.CreateDirectory(Path.Join(_root, dir));
        }
        var mountinfo = $"""
            31 23 0:28 / {_root} rw,relatime - tmpfs tmpfs rw,mode=755
            32 31 0:29 / {_root}/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
            35 31 0:32 / {_root}/memory rw,relatime - cgroup cgroup rw,memory
            39 31 0:36 / {_root}/pids rw,relatime - cgroup cgroup rw,pids
            40 31 0:37 / {_root}/freezer rw,relatime - cgroup cgroup rw,freezer
            """;
        return new CgroupV1Driver(CgroupLayout.Parse(mountinfo, "8:pids:/\n6:freezer:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/\n"));
    }

    [Fact]
    public void Each_hierarchy_is_joined_once_through_its_tasks_file_below_its_mount_point()
    {
        var planned = Driver().Plan("sandbox-x", new CgroupLimits { CpuShares = 512, MeasureUsage = true, NeedFreezer = true }, false, out var unenforced);
        Assert.NotNull(planned);
        Assert.Empty(unenforced);
        // cpu and cpuacct share one hierarchy and so one directory: one file. The memory cgroup is under this
        // process's own (process_api/abc); blkio, wanted for usage figures, is not mounted and is left out.
        Assert.Equal(
            [
                new CgroupTasksFile($"{_root}/cpu,cpuacct", "sandbox-x/tasks"),
                new CgroupTasksFile($"{_root}/memory", "process_api/abc/sandbox-x/tasks"),
                new CgroupTasksFile($"{_root}/pids", "sandbox-x/tasks"),
                new CgroupTasksFile($"{_root}/freezer", "sandbox-x/tasks"),
            ],
            planned.TasksFiles());
        // Planning makes nothing: the directories come with Make, after the clone.
        Assert.False(Directory.Exists($"{_root}/pids/sandbox-x"));
    }

    [Fact]
    public void An_absolute_cgroups_path_is_below_each_mount_point_and_nothing_is_made_until_Make()
    {
        var driver = Driver();
        var planned = driver.Plan("/pods/one", new CgroupLimits { NeedFreezer = true }, false, out _);
        Assert.Equal([new CgroupTasksFile($"{_root}/freezer", "pods/one/tasks")], planned!.TasksFiles());
        var recorded = new List<string>();
        var cgroup = driver.Make(planned, recorded.AddRange);
        try
        {
            Assert.Equal([$"{_root}/freezer/pods/one"], recorded);
            Assert.True(Directory.Exists($"{_root}/freezer/pods/one"));
        }
        finally
        {
            cgroup.Remove();
        }
    }
}
