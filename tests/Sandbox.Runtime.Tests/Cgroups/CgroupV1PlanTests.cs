using Sandbox.Runtime.Cgroups;

namespace Sandbox.Runtime.Tests.Cgroups;

/// <summary>
/// The cgroup v1 driver's two halves (Plan touches nothing, Make records and makes) and the tasks files the child
/// writes 0 to (JoinCgroupStep). The hierarchies are directories of a temporary tree here; that the child really joins
/// through them is what the end-to-end cgroup tests see (limits hold, figures are counted).
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

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void A_reports_pids_hierarchy_is_joined_only_outside_a_pid_namespace_of_the_containers_own(bool ownPidNamespace, bool joinsPids)
    {
        var planned = Driver().Plan("sandbox-x", new CgroupLimits { MeasureUsage = true, OwnPidNamespace = ownPidNamespace }, false, out _);
        Assert.NotNull(planned);
        Assert.Equal(joinsPids, planned.Dirs.Exists(d => d.Controller == "pids"));
        Assert.Contains(planned.Dirs, d => d.Controller == "memory");
        // A pids limit joins it in any case.
        var limited = Driver().Plan("sandbox-x", new CgroupLimits { MeasureUsage = true, OwnPidNamespace = ownPidNamespace, PidsLimit = 10 }, false, out _);
        Assert.Contains(limited!.Dirs, d => d.Controller == "pids");
    }

    [Fact]
    public void Plan_touches_nothing_and_each_hierarchy_is_joined_once_through_its_tasks_file()
    {
        var driver = Driver();
        var planned = driver.Plan("sandbox-x", new CgroupLimits { MeasureUsage = true, NeedFreezer = true, EveryHierarchy = true }, false, out var unenforced);
        Assert.NotNull(planned);
        Assert.Empty(unenforced);
        Assert.False(Directory.Exists($"{_root}/pids/sandbox-x"));
        var recorded = new List<string>();
        var cgroup = driver.Make(planned, recorded.AddRange);
        try
        {
            // Every hierarchy: the memory cgroup under this process's own (process_api/abc), cpu and cpuacct in the one
            // they share; blkio, wanted for usage figures, is not mounted and is left out.
            Assert.Equal([$"{_root}/cpu,cpuacct/sandbox-x", $"{_root}/freezer/sandbox-x", $"{_root}/memory/process_api/abc/sandbox-x", $"{_root}/pids/sandbox-x"],
                recorded.Distinct().Order(StringComparer.Ordinal));
            Assert.Equal(5, recorded.Count);
            Assert.All(recorded, d => Assert.True(Directory.Exists(d)));
            // A cgroupfs directory has a tasks file; this tree's get one here. Without them (cgroup v2) there are none.
            Assert.Null(CgroupFiles.TasksFiles(cgroup.Paths));
            foreach (var dir in recorded.Distinct())
            {
                File.WriteAllText(Path.Join(dir, "tasks"), "");
            }
            // Each directory's once, cpu,cpuacct's too.
            Assert.Equal(recorded.Distinct().Select(d => new CgroupTasksFile(d + "/tasks")), CgroupFiles.TasksFiles(cgroup.Paths));
        }
        finally
        {
            foreach (var dir in recorded.Distinct())
            {
                File.Delete(Path.Join(dir, "tasks"));
            }
            cgroup.Remove();
        }
    }
}
