using System.Globalization;

namespace Sandbox.Runtime.Cgroups;

/// <summary>
/// cgroup v2 (unified): one directory. A controller is usable when the parent's cgroup.subtree_control enables
/// it (or can be made to). Killing uses cgroup.kill. Tested against fixture trees: these machines run v1.
/// </summary>
internal sealed class CgroupV2Driver(CgroupLayout layout) : ICgroupDriver
{
    public string Version => "v2";

    public IReadOnlyList<string> Controllers =>
        (CgroupFiles.Read(layout.OwnDirectory("")!, "cgroup.controllers") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public ICgroup Create(string relativePath, CgroupLimits limits, bool allowUnenforced, out IReadOnlyList<string> unenforced)
    {
        var own = layout.OwnDirectory("")!;
        var dir = CgroupPaths.Resolve(layout.V2Mount!, own, relativePath);
        var parent = Path.GetDirectoryName(dir)!;
        var available = (CgroupFiles.Read(parent, "cgroup.controllers") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var (needed, missing) = CgroupPaths.Controllers(limits, available.Contains, "io", $", not delegated to {parent}");
        CgroupPaths.ThrowOrList(missing, allowUnenforced, $"enable it with `echo +CONTROLLER > {parent}/cgroup.subtree_control` (a systemd unit's Delegate=yes does this)", out unenforced);

        // Usage figures want memory, cpu, pids and io wherever they are available, limits or not.
        var enabled = (CgroupFiles.Read(parent, "cgroup.subtree_control") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        foreach (var c in needed.Concat(new[] { "memory", "cpu", "pids", "io" }.Where(available.Contains)).Distinct(StringComparer.Ordinal))
        {
            if (!enabled.Contains(c))
            {
                CgroupFiles.Write(parent, "cgroup.subtree_control", "+" + c);
            }
        }
        CgroupFiles.MakeDirectory(dir, "unified");
        var cgroup = new V2Cgroup(dir);
        try
        {
            Apply(dir, limits);
            return cgroup;
        }
        catch
        {
            cgroup.Remove();
            throw;
        }
    }

    /// <summary>The writes, in order; v1 units (shares, blkio weight) converted as runc and crun convert them.</summary>
    internal static void Apply(string dir, CgroupLimits l, Action<string, string, string>? write = null)
    {
        write ??= CgroupFiles.Write;
        string S(long v) => v.ToString(CultureInfo.InvariantCulture);
        if (l.MemoryBytes is long limit)
        {
            write(dir, "memory.max", limit > 0 ? S(limit) : "max");
            // v2 counts swap separately: memory+swap equal to memory means no swap at all.
            var swap = l.MemorySwapBytes is long memsw && memsw > 0 && limit > 0 ? memsw - limit : 0;
            if (File.Exists(Path.Join(dir, "memory.swap.max")))
            {
                write(dir, "memory.swap.max", l.MemorySwapBytes == -1 ? "max" : S(swap));
            }
        }
        if (l.MemoryReservationBytes is long low)
        {
            write(dir, "memory.low", low > 0 ? S(low) : "0");
        }
        if (l.CpuQuotaMicros is not null || l.CpuPeriodMicros is not null)
        {
            var quota = l.CpuQuotaMicros is long q && q > 0 ? S(q) : "max";
            write(dir, "cpu.max", $"{quota} {(l.CpuPeriodMicros ?? 100000).ToString(CultureInfo.InvariantCulture)}");
        }
        if (l.CpuShares is ulong shares)
        {
            write(dir, "cpu.weight", SharesToWeight(shares).ToString(CultureInfo.InvariantCulture));
        }
        if (l.CpusetCpus is { } cpus)
        {
            write(dir, "cpuset.cpus", cpus);
        }
        if (l.CpusetMems is { } mems)
        {
            write(dir, "cpuset.mems", mems);
        }
        if (l.PidsLimit is long pids)
        {
            write(dir, "pids.max", pids > 0 ? S(pids) : "max");
        }
        if (l.BlkioWeight is ushort weight)
        {
            write(dir, "io.weight", $"default {BlkioToIoWeight(weight).ToString(CultureInfo.InvariantCulture)}");
        }
    }

    /// <summary>cpu.shares 2..262144 onto cpu.weight 1..10000, linearly.</summary>
    internal static ulong SharesToWeight(ulong shares) => 1 + ((Math.Clamp(shares, 2, 262144) - 2) * 9999 / 262142);

    /// <summary>blkio.weight 10..1000 onto io.weight 1..10000, linearly.</summary>
    internal static ulong BlkioToIoWeight(ushort weight) => 1 + ((ulong)(Math.Clamp(weight, (ushort)10, (ushort)1000) - 10) * 9999 / 990);

    internal sealed class V2Cgroup(string dir) : ICgroup
    {
        public IReadOnlyList<string> Paths => [dir];

        public unsafe int OpenForClone()
        {
            fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(dir + "\0"))
            {
                return Interop.Libc.Open(p, Interop.Libc.O_PATH | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC, 0);
            }
        }

        public void AddProcess(int pid) => CgroupFiles.Write(dir, "cgroup.procs", pid.ToString(CultureInfo.InvariantCulture));

        public CgroupStats ReadOom() => new()
        {
            OomKilled = CgroupFiles.ParseFlatKeyed(CgroupFiles.Read(dir, "memory.events")).GetValueOrDefault("oom_kill") > 0,
            OomSource = "cgroup v2 memory.events oom_kill",
        };

        public CgroupStats ReadStats()
        {
            var events = CgroupFiles.ParseFlatKeyed(CgroupFiles.Read(dir, "memory.events"));
            var cpu = CgroupFiles.ParseFlatKeyed(CgroupFiles.Read(dir, "cpu.stat"));
            var (r, w) = CgroupFiles.ParseIoStat(CgroupFiles.Read(dir, "io.stat"));
            return new CgroupStats
            {
                PeakMemoryBytes = CgroupFiles.ParseSingle(CgroupFiles.Read(dir, "memory.peak")),
                PeakMemorySource = "cgroup v2 memory.peak",
                OomKilled = events.GetValueOrDefault("oom_kill") > 0,
                OomSource = "cgroup v2 memory.events oom_kill",
                CpuUserMicros = cpu.TryGetValue("user_usec", out var u) ? u : null,
                CpuSystemMicros = cpu.TryGetValue("system_usec", out var s) ? s : null,
                CpuSource = "cgroup v2 cpu.stat",
                PidsPeak = CgroupFiles.ParseSingle(CgroupFiles.Read(dir, "pids.peak")),
                PidsCurrent = CgroupFiles.ParseSingle(CgroupFiles.Read(dir, "pids.current")),
                PidsSource = "cgroup v2 pids.peak",
                IoReadBytes = r,
                IoWriteBytes = w,
                IoSource = "cgroup v2 io.stat",
            };
        }

        /// <summary>cgroup.kill kills every task at once, forks in flight included; then wait for it to empty.</summary>
        public void KillAll()
        {
            if (!File.Exists(Path.Join(dir, "cgroup.kill")))
            {
                throw new SandboxException(ErrorCodes.ControllerMissing, $"{dir}/cgroup.kill is missing (kernel older than 5.14)",
                    "upgrade the kernel; sandbox relies on cgroup.kill to leave no process behind on cgroup v2");
            }
            CgroupFiles.Write(dir, "cgroup.kill", "1");
            for (var i = 0; i < 2000 && CgroupFiles.ReadProcs(dir).Count > 0; i++)
            {
                Thread.Sleep(1);
            }
        }

        public void Remove() => CgroupFiles.RemoveDirectory(dir);
    }
}
