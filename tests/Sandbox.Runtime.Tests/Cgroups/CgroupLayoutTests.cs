using Sandbox.Runtime.Cgroups;

namespace Sandbox.Runtime.Tests.Cgroups;

public class CgroupLayoutTests
{
    // This development machine: v1 controllers plus an empty cgroup2 at /sys/fs/cgroup/unified (hybrid).
    private const string HybridMountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime shared:5 - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """;

    private const string HybridSelf = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";

    [Fact]
    public void The_hybrid_layout_is_v1_with_each_controller_at_its_mount()
    {
        var l = CgroupLayout.Parse(HybridMountinfo, HybridSelf);
        Assert.Equal("v1", l.Version);
        Assert.Equal("/sys/fs/cgroup/memory", l.V1Mounts["memory"]);
        Assert.False(l.V1Mounts.ContainsKey("systemd"));
        Assert.Equal("/sys/fs/cgroup/unified", l.V2Mount);
        Assert.Equal("/sys/fs/cgroup/memory/process_api/abc", l.OwnDirectory("memory"));
        Assert.Equal("/sys/fs/cgroup/pids", l.OwnDirectory("pids"));
    }

    [Fact]
    public void A_unified_host_is_v2_and_a_cgroup_namespace_root_is_taken_off_the_own_path()
    {
        var l = CgroupLayout.Parse("25 20 0:24 /user.slice /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
            "0::/user.slice/user-1000.slice/session-2.scope\n");
        Assert.Equal("v2", l.Version);
        Assert.Equal("/sys/fs/cgroup/user-1000.slice/session-2.scope", l.OwnDirectory(""));
    }

    [Fact]
    public void Escaped_mount_points_joint_hierarchies_and_colons_in_a_cgroup_path_parse()
    {
        // mountinfo escapes a space as \040; a hierarchy can carry two controllers; /proc/self/cgroup's path is all that
        // follows the second colon; short and foreign lines are skipped.
        var l = CgroupLayout.Parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\nbroken line\n" +
            "30 25 0:26 / /sys/fs/cgroup/cpu\\040acct rw - cgroup cgroup rw,cpu,cpuacct\n" +
            "31 25 0:27 /sub /sys/fs/cgroup/mem rw - cgroup cgroup rw,memory,clone_children\n",
            "3:cpu,cpuacct:/a:b\n2:memory:/sub/c\n\n1:x\n");
        Assert.Equal("v1", l.Version);
        Assert.Equal("/sys/fs/cgroup/cpu acct", l.V1Mounts["cpuacct"]);
        Assert.Equal("/sys/fs/cgroup/cpu acct/a:b", l.OwnDirectory("cpu"));
        Assert.Equal("/sys/fs/cgroup/mem/c", l.OwnDirectory("memory"));
        Assert.Equal(["cpu", "memory"], l.Hierarchies.Select(h => h.Key));
        Assert.Equal("/sys/fs/cgroup/cpu acct/a:b", l.Hierarchies[0].OwnDirectory);
    }

    [Fact]
    public void The_file_formats_of_both_versions_parse()
    {
        Assert.Null(CgroupFiles.ParseSingle("max\n"));
        Assert.Equal(33554432, CgroupFiles.ParseSingle("33554432\n"));
        var events = CgroupFiles.ParseFlatKeyed("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
        Assert.Equal(1, events["oom_kill"]);
        var cpu = CgroupFiles.ParseFlatKeyed("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 2\nthrottled_usec 30\n");
        Assert.Equal(1000, cpu["user_usec"]);
        Assert.Equal((4096 + 100, 8192L), CgroupFiles.ParseIoStat("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:0 rbytes=100 wbytes=0 rios=1 wios=0\n"));
        Assert.Equal((10L, 20L), CgroupFiles.ParseBlkioServiceBytes("8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Async 0\n8:0 Total 30\nTotal 30\n"));
        var oom = CgroupFiles.ParseFlatKeyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        Assert.Equal(3, oom["oom_kill"]);
    }

    [Fact]
    public void The_exact_v1_cpu_total_is_split_by_the_sampled_ratio()
    {
        // 1.5 s exact; the ticks said 1.532 s user and 4 ms system (a throttled busy loop on this kind of host).
        var (user, system) = CgroupFiles.SplitCpuUsage(1_510_908_881, 1_532_000_000, 4_000_000);
        Assert.Equal(1_510_908_881, user!.Value + system!.Value);
        Assert.InRange(user.Value, 1_506_900_000, 1_507_000_000);
        Assert.Equal((5_000L, 0L), CgroupFiles.SplitCpuUsage(5_000, 0, 0));
        Assert.Equal((7L, 3L), CgroupFiles.SplitCpuUsage(null, 7, 3));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../b")]
    [InlineData("./x")]
    [InlineData("")]
    public void A_cgroups_path_that_escapes_is_refused(string path)
    {
        var e = Assert.Throws<SandboxException>(() => CgroupPaths.Resolve("/sys/fs/cgroup", "/sys/fs/cgroup/user.slice", path));
        Assert.Equal(ErrorCodes.CgroupsPathEscapes, e.Code);
    }

    [Fact]
    public void Relative_paths_nest_under_the_callers_cgroup_and_absolute_ones_under_the_mount()
    {
        Assert.Equal("/sys/fs/cgroup/user.slice/sandbox/x", CgroupPaths.Resolve("/sys/fs/cgroup", "/sys/fs/cgroup/user.slice", "sandbox/x"));
        Assert.Equal("/sys/fs/cgroup/machine/x", CgroupPaths.Resolve("/sys/fs/cgroup", "/sys/fs/cgroup/user.slice", "/machine/x"));
    }
}
