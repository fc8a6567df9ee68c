// Cgroups: one interface over the v1 (legacy and hybrid) and v2 (unified) hierarchies, chosen by reading
// /proc/self/mountinfo. Both drivers return the same CgroupStats. Every file they touch is under a root given
// to them, so tests drive them against fixture trees of cgroupfs files.
namespace Sandbox.Runtime.Cgroups;

/// <summary>The limits a container asks for, in the units the kernel files take (converted from linux.resources).</summary>
internal sealed record CgroupLimits
{
    public long? MemoryBytes { get; init; }

    /// <summary>Memory plus swap; null means "the same as <see cref="MemoryBytes"/>" (no escape into swap).</summary>
    public long? MemorySwapBytes { get; init; }
    public long? MemoryReservationBytes { get; init; }

    /// <summary>v1 memory.swappiness (0..100); cgroup v2 has none.</summary>
    public ulong? MemorySwappiness { get; init; }

    /// <summary>v1 memory.oom_control: at the limit, processes wait for memory instead of being killed; v2 has no switch.</summary>
    public bool MemoryOomKillDisabled { get; init; }

    /// <summary>v1 memory.kmem.tcp.limit_in_bytes (socket buffers); v2 counts them in memory.max.</summary>
    public long? MemoryKernelTcpBytes { get; init; }

    /// <summary>Any memory setting at all: the memory controller is needed.</summary>
    public bool AsksMemory => MemoryBytes is not null || MemoryReservationBytes is not null || MemorySwappiness is not null
        || MemoryOomKillDisabled || MemoryKernelTcpBytes is not null;

    /// <summary>CFS quota and period in microseconds (0.5 CPU = 50000 of 100000).</summary>
    public long? CpuQuotaMicros { get; init; }
    public ulong? CpuPeriodMicros { get; init; }

    /// <summary>v1 cpu.shares (2..262144); the v2 driver converts it to cpu.weight.</summary>
    public ulong? CpuShares { get; init; }
    public string? CpusetCpus { get; init; }
    public string? CpusetMems { get; init; }
    public long? PidsLimit { get; init; }

    /// <summary>v1 blkio.weight (10..1000); the v2 driver converts it to io.weight.</summary>
    public ushort? BlkioWeight { get; init; }

    /// <summary>Block I/O rate limits, per device, in linux.resources' order; null for none.</summary>
    public IReadOnlyList<BlkioThrottle>? BlkioThrottles { get; init; }

    /// <summary>The device rules (DeviceRules.For), in order; null for no device cgroup (rootless without rules).</summary>
    public IReadOnlyList<DeviceRule>? Devices { get; init; }

    /// <summary>Not a limit: usage figures are wanted (v1 then joins memory, cpuacct and blkio too, and pids unless <see cref="OwnPidNamespace"/>).</summary>
    public bool MeasureUsage { get; init; }

    /// <summary>
    /// Not a limit: the container has a pid namespace of its own, which the kernel empties before its first process's
    /// exit is reported. Then v1, which keeps no peak, has no pids figure to give (pids.current reads 0), and joins the
    /// pids hierarchy only for a pids limit.
    /// </summary>
    public bool OwnPidNamespace { get; init; }

    /// <summary>Not a limit: killing must catch processes that left the pid namespace's reach (v1 uses the freezer).</summary>
    public bool NeedFreezer { get; init; }

    /// <summary>Not a limit: the container has a cgroup mount, where it should see a cgroup of its own in every
    /// hierarchy (as runc makes one in each), named ones such as name=systemd too.</summary>
    public bool EveryHierarchy { get; init; }

    public bool IsEmpty => this with { MeasureUsage = false, OwnPidNamespace = false, NeedFreezer = false, EveryHierarchy = false } == new CgroupLimits();
}

/// <summary>
/// A block device's rate limit. <see cref="Kind"/> is read_bps, write_bps, read_iops or write_iops: v1 writes
/// "MAJOR:MINOR RATE" to blkio.throttle.KIND_device, v2 "MAJOR:MINOR KEY=RATE" to io.max.
/// </summary>
internal sealed record BlkioThrottle(string Kind, long Major, long Minor, ulong Rate)
{
    public string V1File => $"blkio.throttle.{Kind}_device";

    public string V2Key => Kind switch
    {
        "read_bps" => "rbps",
        "write_bps" => "wbps",
        "read_iops" => "riops",
        _ => "wiops",
    };

    /// <summary>
    /// linux.resources.blockIO's four throttle lists as one list, or null when they name no device. Plain loops: this
    /// runs in every `sandbox run`, and LINQ over tuples cost about 0.3 ms of its first use in a NativeAOT binary
    /// (measured with perf), for nothing when there is no blockIO at all.
    /// </summary>
    public static IReadOnlyList<BlkioThrottle>? From(Sandbox.Oci.OciBlockIo? b)
    {
        if (b is null)
        {
            return null;
        }
        var all = new List<BlkioThrottle>();
        Add(all, "read_bps", b.ThrottleReadBpsDevice);
        Add(all, "write_bps", b.ThrottleWriteBpsDevice);
        Add(all, "read_iops", b.ThrottleReadIOPSDevice);
        Add(all, "write_iops", b.ThrottleWriteIOPSDevice);
        return all.Count > 0 ? all : null;
    }

    private static void Add(List<BlkioThrottle> all, string kind, List<Sandbox.Oci.OciThrottleDevice>? devices)
    {
        foreach (var d in devices ?? [])
        {
            all.Add(new BlkioThrottle(kind, d.Major, d.Minor, d.Rate));
        }
    }
}

/// <summary>What a container used, from cgroup files; each figure null where this host's cgroups do not tell.</summary>
internal sealed record CgroupStats
{
    public long? PeakMemoryBytes { get; init; }
    public string? PeakMemorySource { get; init; }
    public long? CpuUserMicros { get; init; }
    public long? CpuSystemMicros { get; init; }
    public string? CpuSource { get; init; }
    public long? PidsPeak { get; init; }
    public long? PidsCurrent { get; init; }
    public string? PidsSource { get; init; }
    public long? IoReadBytes { get; init; }
    public long? IoWriteBytes { get; init; }
    public string? IoSource { get; init; }
    public bool OomKilled { get; init; }
    public string? OomSource { get; init; }
}

/// <summary>One container's cgroup (a directory per controller on v1, one directory on v2).</summary>
internal interface ICgroup
{
    /// <summary>The directories created, for messages and for the state file (so a later run can remove them).</summary>
    IReadOnlyList<string> Paths { get; }

    /// <summary>
    /// A descriptor of the cgroup directory for clone3's CLONE_INTO_CGROUP (v2), so the child starts inside it;
    /// -1 where that is not possible (v1). The caller closes it.
    /// </summary>
    int OpenForClone();

    /// <summary>Moves a process in (writes its pid to cgroup.procs everywhere).</summary>
    void AddProcess(int pid);

    CgroupStats ReadStats();

    /// <summary>pids.current alone: read when the first process ends, for a report where the kernel keeps no peak (v1).</summary>
    long? ReadPidsCurrent();

    /// <summary>Only whether the OOM killer struck: one file, for runs that report nothing else.</summary>
    CgroupStats ReadOom();

    /// <summary>Kills every process in the cgroup, including ones that double-forked or changed session, and waits until it is empty.</summary>
    void KillAll();

    /// <summary>Removes the directories (after KillAll). Safe to call twice.</summary>
    void Remove();
}

internal interface ICgroupDriver
{
    /// <summary>"v1" or "v2".</summary>
    string Version { get; }

    /// <summary>Controllers present and usable by this user (v1: mounted hierarchies; v2: enabled in the parent's subtree_control).</summary>
    IReadOnlyList<string> Controllers { get; }

    /// <summary>
    /// Creates the cgroup <paramref name="relativePath"/> (relative to the cgroup this process is in, unless
    /// absolute as the OCI cgroupsPath allows) and writes the limits. A limit whose controller is missing or not
    /// delegated throws SandboxException naming the controller, unless <paramref name="allowUnenforced"/> is set;
    /// then the names of the limits left unenforced are returned. <paramref name="beforeCreate"/> is given the
    /// directories before any exists, so a runtime killed half-way has them recorded for the next run to collect.
    /// Null when there is nothing this user may write at all (v1 without root and nothing delegated), which happens
    /// only when no limit is asked for or every one was allowed to go unenforced.
    /// </summary>
    ICgroup? Create(string relativePath, CgroupLimits limits, bool allowUnenforced, out IReadOnlyList<string> unenforced,
        Action<IReadOnlyList<string>>? beforeCreate = null);
}
