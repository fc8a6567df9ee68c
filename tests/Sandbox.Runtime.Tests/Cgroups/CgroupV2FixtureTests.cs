using Sandbox.Runtime.Cgroups;

namespace Sandbox.Runtime.Tests.Cgroups;

/// <summary>
/// cgroup v2 against fixture trees of cgroupfs files: these machines run the hybrid v1 layout and cgroup v2 cannot
/// be enabled on them, so the v2 driver's writes and reads are checked here, not on a live unified hierarchy.
/// </summary>
public sealed class CgroupV2FixtureTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cgroup2-fixture-").FullName;

    public void Dispose() => Directory.Delete(_root, true);

    private CgroupV2Driver Driver(string controllers = "cpuset cpu io memory pids")
    {
        File.WriteAllText(Path.Join(_root, "cgroup.controllers"), controllers + "\n");
        File.WriteAllText(Path.Join(_root, "cgroup.subtree_control"), "");
        var layout = new CgroupLayout("v2", new Dictionary<string, string>(), _root, new Dictionary<string, string> { [""] = "/" });
        return new CgroupV2Driver(layout);
    }

    /// <summary>What the kernel would show in a new cgroup directory, as empty files the driver writes into.</summary>
    private string Child(string name)
    {
        var dir = Directory.CreateDirectory(Path.Join(_root, name)).FullName;
        foreach (var f in new[] { "cgroup.procs", "cgroup.kill", "memory.max", "memory.swap.max", "memory.low", "cpu.max", "cpu.weight", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight" })
        {
            File.WriteAllText(Path.Join(dir, f), "");
        }
        return dir;
    }

    [Fact]
    public void Pause_writes_cgroup_freeze_and_reads_frozen_from_cgroup_events()
    {
        var dir = Child("sandbox-p");
        File.WriteAllText(Path.Join(dir, "cgroup.freeze"), "0\n");
        File.WriteAllText(Path.Join(dir, "cgroup.events"), "populated 1\nfrozen 0\n");
        Assert.Equal(dir, CgroupFreezer.Find([dir]));
        Assert.False(CgroupFreezer.IsFrozen([dir]));
        // What the kernel reports once every task is frozen.
        File.WriteAllText(Path.Join(dir, "cgroup.events"), "populated 1\nfrozen 1\n");
        CgroupFreezer.Set(dir, frozen: true);
        Assert.Equal("1", File.ReadAllText(Path.Join(dir, "cgroup.freeze")).Trim());
        Assert.True(CgroupFreezer.IsFrozen([dir]));
        File.WriteAllText(Path.Join(dir, "cgroup.events"), "populated 1\nfrozen 0\n");
        CgroupFreezer.Set(dir, frozen: false);
        Assert.Equal("0", File.ReadAllText(Path.Join(dir, "cgroup.freeze")).Trim());
        // A directory with neither file (the container has no cgroup of its own there): nothing to freeze.
        Assert.Null(CgroupFreezer.Find([Directory.CreateDirectory(Path.Join(_root, "plain")).FullName]));
    }

    [Fact]
    public void Limits_are_written_in_v2_units_and_swap_is_closed()
    {
        var dir = Child("sandbox-a");
        var cg = Driver().Create("sandbox-a", new CgroupLimits
        {
            MemoryBytes = 32 << 20, MemoryReservationBytes = 16 << 20, CpuQuotaMicros = 50000, CpuPeriodMicros = 100000,
            CpuShares = 1024, CpusetCpus = "0", PidsLimit = 10, BlkioWeight = 500,
        }, false, out var unenforced);
        Assert.Empty(unenforced);
        string F(string f) => File.ReadAllText(Path.Join(dir, f));
        Assert.Equal("33554432", F("memory.max"));
        Assert.Equal("0", F("memory.swap.max"));
        Assert.Equal("16777216", F("memory.low"));
        Assert.Equal("50000 100000", F("cpu.max"));
        Assert.Equal("39", F("cpu.weight"));
        Assert.Equal("0", F("cpuset.cpus"));
        Assert.Equal("10", F("pids.max"));
        Assert.Equal("default 4950", F("io.weight"));
        Assert.StartsWith("+", File.ReadAllText(Path.Join(_root, "cgroup.subtree_control")), StringComparison.Ordinal);
        Assert.Equal([dir], cg.Paths);
    }

    [Fact]
    public void The_writes_come_in_a_fixed_order_memory_before_swap_and_quota_with_its_period()
    {
        var writes = new List<string>();
        var dir = Child("sandbox-order");
        CgroupV2Driver.Apply(dir, new CgroupLimits
        {
            MemoryBytes = 64 << 20, MemorySwapBytes = 96 << 20, CpuQuotaMicros = 25000, CpuShares = 2, PidsLimit = -1, BlkioWeight = 10,
        }, (_, file, value) => writes.Add($"{file}={value}"));
        // memory+swap 96 MiB over a 64 MiB limit: 32 MiB of swap.
        Assert.Equal(
        [
            "memory.max=67108864", "memory.swap.max=33554432", "cpu.max=25000 100000", "cpu.weight=1", "pids.max=max", "io.weight=default 1",
        ], writes);
    }

    [Fact]
    public void Block_io_throttles_are_one_io_max_line_a_device()
    {
        var writes = new List<string>();
        CgroupV2Driver.Apply(Child("sandbox-io"), new CgroupLimits
        {
            BlkioThrottles = [new("read_bps", 8, 0, 1048576), new("write_iops", 8, 0, 100), new("write_bps", 254, 16, 0)],
        }, (_, file, value) => writes.Add($"{file}={value}"));
        Assert.Equal(["io.max=8:0 rbps=1048576 wiops=100", "io.max=254:16 wbps=max"], writes);
    }

    [Theory]
    [InlineData("swappiness", "has no per-cgroup swappiness")]
    [InlineData("disableOOMKiller", "cannot turn the OOM killer off")]
    [InlineData("kernelTCP", "counts socket buffers in memory.max")]
    public void Memory_settings_of_v1_only_are_refused_with_the_reason_before_a_directory_exists(string field, string reason)
    {
        var limits = field switch
        {
            "swappiness" => new CgroupLimits { MemorySwappiness = 10 },
            "disableOOMKiller" => new CgroupLimits { MemoryOomKillDisabled = true },
            _ => new CgroupLimits { MemoryKernelTcpBytes = 1 << 20 },
        };
        var e = Assert.Throws<SandboxException>(() => Driver().Create("sandbox-v1only", limits, true, out _));
        Assert.Equal(ErrorCodes.Unsupported, e.Code);
        Assert.Contains($"memory.{field}: cgroup v2 {reason}", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Join(_root, "sandbox-v1only")));
    }

    [Fact]
    public void Unit_conversions_match_the_other_runtimes()
    {
        Assert.Equal(1ul, CgroupV2Driver.SharesToWeight(2));
        Assert.Equal(10000ul, CgroupV2Driver.SharesToWeight(262144));
        Assert.Equal(39ul, CgroupV2Driver.SharesToWeight(1024));
        Assert.Equal(1ul, CgroupV2Driver.BlkioToIoWeight(10));
        Assert.Equal(10000ul, CgroupV2Driver.BlkioToIoWeight(1000));
    }

    [Fact]
    public void A_limit_whose_controller_is_not_delegated_fails_loudly_unless_allowed()
    {
        Child("sandbox-b");
        var e = Assert.Throws<SandboxException>(() => Driver("cpu io").Create("sandbox-b", new CgroupLimits { MemoryBytes = 1 << 30, PidsLimit = 5 }, false, out _));
        Assert.Equal(ErrorCodes.ControllerMissing, e.Code);
        Assert.Contains("memory", e.Message, StringComparison.Ordinal);
        Assert.Contains("pids", e.Message, StringComparison.Ordinal);
        Assert.Contains("cgroup.subtree_control", e.Hint, StringComparison.Ordinal);
        Driver("cpu io").Create("sandbox-b", new CgroupLimits { MemoryBytes = 1 << 30 }, true, out var unenforced);
        Assert.Single(unenforced);
    }

    [Fact]
    public void Stats_come_from_memory_peak_memory_events_cpu_stat_pids_peak_and_io_stat()
    {
        var dir = Child("sandbox-c");
        var cg = Driver().Create("sandbox-c", new CgroupLimits(), false, out _);
        File.WriteAllText(Path.Join(dir, "memory.peak"), "33550336\n");
        File.WriteAllText(Path.Join(dir, "memory.events"), "low 0\nhigh 0\nmax 40\noom 2\noom_kill 1\n");
        File.WriteAllText(Path.Join(dir, "cpu.stat"), "usage_usec 750000\nuser_usec 500000\nsystem_usec 250000\n");
        File.WriteAllText(Path.Join(dir, "pids.peak"), "9\n");
        File.WriteAllText(Path.Join(dir, "pids.current"), "0\n");
        File.WriteAllText(Path.Join(dir, "io.stat"), "8:0 rbytes=4096 wbytes=1024 rios=1 wios=1\n");
        var s = cg.ReadStats();
        Assert.Equal(33550336, s.PeakMemoryBytes);
        Assert.Equal("cgroup v2 memory.peak", s.PeakMemorySource);
        Assert.True(s.OomKilled);
        Assert.Equal(500000, s.CpuUserMicros);
        Assert.Equal(250000, s.CpuSystemMicros);
        Assert.Equal(9, s.PidsPeak);
        Assert.Equal(4096, s.IoReadBytes);
        Assert.Equal(1024, s.IoWriteBytes);
    }

    [Fact]
    public void Killing_writes_cgroup_kill_and_waits_for_an_empty_cgroup()
    {
        var dir = Child("sandbox-d");
        var cg = Driver().Create("sandbox-d", new CgroupLimits(), false, out _);
        cg.KillAll();
        Assert.Equal("1", File.ReadAllText(Path.Join(dir, "cgroup.kill")));
        cg.AddProcess(4242);
        Assert.Equal("4242", File.ReadAllText(Path.Join(dir, "cgroup.procs")));
    }
}
