using System.Globalization;
using Tmds.Linux;

namespace Sandbox.Runtime.Cgroups;

/// <summary>
/// cgroup v1 (legacy and hybrid layouts): a directory in each controller hierarchy a run needs: those of its limits,
/// those of a report (memory, cpuacct, blkio, and pids outside a pid namespace of the container's own), the freezer
/// (killing everything) and devices (device rules).
/// </summary>
internal sealed class CgroupV1Driver(CgroupLayout layout) : ICgroupDriver
{
    public string Version => "v1";

    public IReadOnlyList<string> Controllers => [.. layout.V1Mounts.Keys.Order(StringComparer.Ordinal)];

    public ICgroup? Create(string relativePath, CgroupLimits limits, bool allowUnenforced, out IReadOnlyList<string> unenforced,
        Action<IReadOnlyList<string>>? beforeCreate = null) =>
        Plan(relativePath, limits, allowUnenforced, out unenforced) is { } planned ? Make(planned, beforeCreate) : null;

    /// <summary>The hierarchies Create joins and the container's directory in each, with the limits to write there.</summary>
    /// <param name="Dirs">Per hierarchy: its controller (or name=) and the container's directory.</param>
    internal sealed record Planned(List<(string Controller, string Dir)> Dirs, CgroupLimits Limits);

    /// <summary>
    /// Create's first half, which touches nothing: which hierarchies, which directories, which limits (a missing
    /// controller throws here, or is listed in <paramref name="unenforced"/>). Null when no hierarchy may be written.
    /// </summary>
    public Planned? Plan(string relativePath, CgroupLimits limits, bool allowUnenforced, out IReadOnlyList<string> unenforced)
    {
        // blkio.weight exists only under a proportional I/O scheduler (BFQ): without it the weight cannot be had (the
        // throttles can). A hierarchy whose directory this user cannot write (rootless, nothing delegated) is as
        // good as missing.
        bool Available(string c) => Usable(c)
            && (c != "blkio" || limits.BlkioWeight is null || File.Exists(Path.Join(layout.OwnDirectory("blkio")!, "blkio.weight")));
        var (needed, missing) = CgroupPaths.Controllers(limits, Available, "blkio", "");
        if (limits.Devices is not null)
        {
            (Available("devices") ? needed : missing).Add(Available("devices") ? "devices" : "device rules (needs the devices controller)");
        }
        // Each hierarchy joined costs a mkdir and an rmdir (the memory one an RCU grace period): only what the run
        // needs. Usage figures want memory, cpuacct, blkio and, outside a pid namespace of the container's own, pids;
        // a kill without a new pid namespace, the freezer.
        var wanted = new List<string>(needed);
        if (limits.MeasureUsage)
        {
            wanted.AddRange(["memory", "cpuacct", "blkio"]);
            if (!limits.OwnPidNamespace)
            {
                wanted.Add("pids");
            }
        }
        if (limits.NeedFreezer)
        {
            wanted.Add("freezer");
        }
        if (limits.EveryHierarchy)
        {
            wanted.AddRange(layout.V1Mounts.Keys.Order(StringComparer.Ordinal));
        }
        CgroupPaths.ThrowOrList(missing, allowUnenforced,
            "mount the controller's cgroup v1 hierarchy under /sys/fs/cgroup (for blkio.weight, select the bfq I/O scheduler)", out unenforced);
        if (missing.Count > 0)
        {
            limits = Unenforced(limits, needed);
        }

        // Loops rather than LINQ, which cost every run's first use of it about 0.1 ms (measured with perf).
        var planned = new List<(string Controller, string Dir)>();
        foreach (var c in wanted)
        {
            if (Usable(c) && !planned.Exists(p => p.Controller == c))
            {
                planned.Add((c, CgroupPaths.Resolve(layout.V1Mounts[c], layout.OwnDirectory(c)!, relativePath)));
            }
        }
        if (limits.EveryHierarchy)
        {
            // Named hierarchies carry no controller; a directory there is only a place in the tree.
            planned.AddRange(layout.Hierarchies.Where(h => h.Key.StartsWith("name=", StringComparison.Ordinal) && Writable(h.OwnDirectory))
                .Select(h => (Controller: h.Key, Dir: CgroupPaths.Resolve(h.MountPoint, h.OwnDirectory, relativePath))));
        }
        // No hierarchy this user may write (the needed ones are among the usable): no cgroup, as with none mounted.
        return planned.Count == 0 ? null : new Planned(planned, limits);
    }

    /// <summary>Create's second half: records the directories (<paramref name="beforeCreate"/>), makes them, writes the limits.</summary>
    public ICgroup Make(Planned plan, Action<IReadOnlyList<string>>? beforeCreate = null)
    {
        var planned = plan.Dirs;
        var plannedDirs = new string[planned.Count];
        for (var i = 0; i < planned.Count; i++)
        {
            plannedDirs[i] = planned[i].Dir;
        }
        beforeCreate?.Invoke(plannedDirs);
        var dirs = new Dictionary<string, string>(StringComparer.Ordinal);
        var cgroup = new V1Cgroup(dirs);
        try
        {
            foreach (var (controller, dir) in planned)
            {
                var created = CgroupFiles.Claim(dir, controller);
                dirs[controller] = dir;
                if (created && controller == "cpuset")
                {
                    CgroupFiles.InheritCpuset(dir);
                }
            }
            Apply(dirs, plan.Limits);
            return cgroup;
        }
        catch
        {
            cgroup.Remove();
            throw;
        }
    }

    /// <summary>A mounted hierarchy whose directory for this process this user may create cgroups in.</summary>
    private bool Usable(string controller) =>
        layout.V1Mounts.ContainsKey(controller) && layout.OwnDirectory(controller) is { } dir && Writable(dir);

    private static unsafe bool Writable(string dir)
    {
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(dir + "\0"))
        {
            return LibC.access(p, LibC.W_OK) == 0;
        }
    }

    /// <summary>The limits without those whose controller is missing (allowed to run unenforced).</summary>
    private static CgroupLimits Unenforced(CgroupLimits l, List<string> available) => l with
    {
        MemoryBytes = available.Contains("memory") ? l.MemoryBytes : null,
        MemoryReservationBytes = available.Contains("memory") ? l.MemoryReservationBytes : null,
        MemorySwappiness = available.Contains("memory") ? l.MemorySwappiness : null,
        MemoryOomKillDisabled = available.Contains("memory") && l.MemoryOomKillDisabled,
        MemoryKernelTcpBytes = available.Contains("memory") ? l.MemoryKernelTcpBytes : null,
        CpuQuotaMicros = available.Contains("cpu") ? l.CpuQuotaMicros : null,
        CpuShares = available.Contains("cpu") ? l.CpuShares : null,
        CpusetCpus = available.Contains("cpuset") ? l.CpusetCpus : null,
        CpusetMems = available.Contains("cpuset") ? l.CpusetMems : null,
        PidsLimit = available.Contains("pids") ? l.PidsLimit : null,
        BlkioWeight = available.Contains("blkio") ? l.BlkioWeight : null,
        BlkioThrottles = available.Contains("blkio") ? l.BlkioThrottles : null,
    };

    internal static void Apply(Dictionary<string, string> dirs, CgroupLimits l)
    {
        string S(long v) => v.ToString(CultureInfo.InvariantCulture);
        if (dirs.TryGetValue("memory", out var mem))
        {
            if (l.MemoryBytes is long limit)
            {
                CgroupFiles.Write(mem, "memory.limit_in_bytes", S(limit));
                // Memory plus swap gets the same value: a limited process cannot escape into swap.
                var memsw = l.MemorySwapBytes ?? limit;
                if (File.Exists(Path.Join(mem, "memory.memsw.limit_in_bytes")))
                {
                    CgroupFiles.Write(mem, "memory.memsw.limit_in_bytes", S(memsw));
                }
                else if (HostHasSwap())
                {
                    throw new SandboxException(ErrorCodes.ControllerMissing,
                        "the memory limit cannot cover swap: this kernel has no swap accounting (memory.memsw.*) and the host has swap",
                        "boot with swapaccount=1, or turn swap off");
                }
            }
            if (l.MemoryReservationBytes is long reservation)
            {
                CgroupFiles.Write(mem, "memory.soft_limit_in_bytes", S(reservation));
            }
            if (l.MemorySwappiness is ulong swappiness)
            {
                CgroupFiles.Write(mem, "memory.swappiness", swappiness.ToString(CultureInfo.InvariantCulture));
            }
            if (l.MemoryOomKillDisabled)
            {
                CgroupFiles.Write(mem, "memory.oom_control", "1");
            }
            if (l.MemoryKernelTcpBytes is long tcp)
            {
                if (!File.Exists(Path.Join(mem, "memory.kmem.tcp.limit_in_bytes")))
                {
                    throw new SandboxException(ErrorCodes.ControllerMissing,
                        "linux.resources.memory.kernelTCP: this kernel's memory cgroup has no memory.kmem.tcp.limit_in_bytes",
                        "remove kernelTCP (socket buffers then count in the memory limit only where the kernel accounts them)");
                }
                CgroupFiles.Write(mem, "memory.kmem.tcp.limit_in_bytes", S(tcp));
            }
        }
        if (dirs.TryGetValue("cpu", out var cpu))
        {
            if (l.CpuPeriodMicros is ulong period)
            {
                CgroupFiles.Write(cpu, "cpu.cfs_period_us", period.ToString(CultureInfo.InvariantCulture));
            }
            if (l.CpuQuotaMicros is long quota)
            {
                CgroupFiles.Write(cpu, "cpu.cfs_quota_us", S(quota));
            }
            if (l.CpuShares is ulong shares)
            {
                CgroupFiles.Write(cpu, "cpu.shares", shares.ToString(CultureInfo.InvariantCulture));
            }
        }
        if (dirs.TryGetValue("cpuset", out var cpuset))
        {
            if (l.CpusetCpus is { } cpus)
            {
                CgroupFiles.Write(cpuset, "cpuset.cpus", cpus);
            }
            if (l.CpusetMems is { } mems)
            {
                CgroupFiles.Write(cpuset, "cpuset.mems", mems);
            }
        }
        if (l.PidsLimit is long pids && dirs.TryGetValue("pids", out var pidsDir))
        {
            CgroupFiles.Write(pidsDir, "pids.max", pids > 0 ? S(pids) : "max");
        }
        if (dirs.TryGetValue("blkio", out var blkio))
        {
            if (l.BlkioWeight is ushort weight)
            {
                CgroupFiles.Write(blkio, "blkio.weight", weight.ToString(CultureInfo.InvariantCulture));
            }
            // One device a write; a rate of 0 lifts that device's limit.
            foreach (var t in l.BlkioThrottles ?? [])
            {
                CgroupFiles.Write(blkio, t.V1File, $"{S(t.Major)}:{S(t.Minor)} {t.Rate.ToString(CultureInfo.InvariantCulture)}");
            }
        }
        if (l.Devices is { } rules && dirs.TryGetValue("devices", out var devices))
        {
            // In order: the first rule denies everything ("a" on devices.deny), later ones open what they name.
            var lines = new List<(string, string)>(rules.Count);
            foreach (var rule in rules)
            {
                lines.Add((rule.Allow ? "devices.allow" : "devices.deny", rule.V1Line));
            }
            CgroupFiles.WriteEach(devices, lines);
        }
    }

    private static bool HostHasSwap() =>
        File.ReadLines("/proc/meminfo").FirstOrDefault(x => x.StartsWith("SwapTotal:", StringComparison.Ordinal)) is { } line
        && !line.Contains(" 0 kB", StringComparison.Ordinal);

    /// <summary>Reopens a container's cgroup from the directories recorded in its state (for `events --stats`).</summary>
    public ICgroup Open(IEnumerable<string> paths)
    {
        var dirs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            foreach (var (controller, mount) in layout.V1Mounts)
            {
                if (path.StartsWith(mount + "/", StringComparison.Ordinal))
                {
                    dirs[controller] = path;
                }
            }
        }
        return new V1Cgroup(dirs);
    }

    private sealed class V1Cgroup(Dictionary<string, string> dirs) : ICgroup
    {
        public IReadOnlyList<string> Paths => [.. dirs.Values];

        public int OpenForClone() => -1; // CLONE_INTO_CGROUP exists for cgroup v2 only


        public void AddProcess(int pid)
        {
            var text = pid.ToString(CultureInfo.InvariantCulture);
            foreach (var dir in dirs.Values)
            {
                CgroupFiles.Write(dir, "cgroup.procs", text);
            }
        }

        public CgroupStats ReadOom() => dirs.TryGetValue("memory", out var mem)
            ? new CgroupStats
            {
                OomKilled = CgroupFiles.ParseFlatKeyed(CgroupFiles.Read(mem, "memory.oom_control")).GetValueOrDefault("oom_kill") > 0,
                OomSource = "cgroup v1 memory.oom_control oom_kill",
            }
            : new CgroupStats();

        public long? ReadPidsCurrent() =>
            dirs.TryGetValue("pids", out var pids) ? CgroupFiles.ParseSingle(CgroupFiles.Read(pids, "pids.current")) : null;

        public CgroupStats ReadStats()
        {
            var stats = new CgroupStats();
            if (dirs.TryGetValue("memory", out var mem))
            {
                var oom = CgroupFiles.ParseFlatKeyed(CgroupFiles.Read(mem, "memory.oom_control"));
                stats = stats with
                {
                    PeakMemoryBytes = CgroupFiles.ParseSingle(CgroupFiles.Read(mem, "memory.max_usage_in_bytes")),
                    PeakMemorySource = "cgroup v1 memory.max_usage_in_bytes",
                    OomKilled = oom.GetValueOrDefault("oom_kill") > 0,
                    OomSource = "cgroup v1 memory.oom_control oom_kill",
                };
            }
            if (dirs.TryGetValue("cpuacct", out var acct))
            {
                // usage_user and usage_sys are sampled at the timer tick (and count interrupt time as system);
                // cpuacct.usage is exact. The exact total is split by the ticks' ratio, as cgroup v2's cpu.stat does.
                var (user, sys) = CgroupFiles.SplitCpuUsage(
                    CgroupFiles.ParseSingle(CgroupFiles.Read(acct, "cpuacct.usage")),
                    CgroupFiles.ParseSingle(CgroupFiles.Read(acct, "cpuacct.usage_user")),
                    CgroupFiles.ParseSingle(CgroupFiles.Read(acct, "cpuacct.usage_sys")));
                stats = stats with
                {
                    CpuUserMicros = user / 1000,
                    CpuSystemMicros = sys / 1000,
                    CpuSource = "cgroup v1 cpuacct.usage, split by cpuacct.usage_user/usage_sys",
                };
            }
            if (dirs.ContainsKey("pids"))
            {
                stats = stats with
                {
                    PidsCurrent = ReadPidsCurrent(),
                    PidsSource = "cgroup v1 pids.current (v1 keeps no peak)",
                };
            }
            if (dirs.TryGetValue("blkio", out var blkio))
            {
                var (r, w) = CgroupFiles.ParseBlkioServiceBytes(CgroupFiles.Read(blkio, "blkio.throttle.io_service_bytes"));
                stats = stats with { IoReadBytes = r, IoWriteBytes = w, IoSource = "cgroup v1 blkio.throttle.io_service_bytes" };
            }
            return stats;
        }

        /// <summary>Freeze, so nothing can fork while it is being killed; SIGKILL every task; thaw; wait for empty.</summary>
        public void KillAll()
        {
            var freezer = dirs.GetValueOrDefault("freezer");
            var any = freezer ?? dirs.Values.FirstOrDefault();
            if (any is null)
            {
                return;
            }
            for (var round = 0; round < 50; round++)
            {
                var procs = CgroupFiles.ReadProcs(any);
                if (procs.Count == 0)
                {
                    return;
                }
                if (freezer is not null)
                {
                    CgroupFiles.Write(freezer, "freezer.state", "FROZEN");
                    for (var i = 0; i < 100 && CgroupFiles.Read(freezer, "freezer.state")?.Trim() == "FREEZING"; i++)
                    {
                        Thread.Sleep(1);
                    }
                    procs = CgroupFiles.ReadProcs(any);
                }
                foreach (var pid in procs)
                {
                    LibC.kill(pid, LibC.SIGKILL);
                }
                if (freezer is not null)
                {
                    CgroupFiles.Write(freezer, "freezer.state", "THAWED");
                }
                for (var i = 0; i < 100 && CgroupFiles.ReadProcs(any).Count > 0; i++)
                {
                    Thread.Sleep(1);
                }
            }
        }

        public void Remove()
        {
            foreach (var dir in dirs.Values)
            {
                CgroupFiles.RemoveDirectory(dir);
            }
        }
    }
}
