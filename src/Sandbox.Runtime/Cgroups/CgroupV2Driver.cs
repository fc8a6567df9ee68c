using System.Globalization;
using Tmds.Linux;

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

    public ICgroup Create(string relativePath, CgroupLimits limits, bool allowUnenforced, out IReadOnlyList<string> unenforced,
        Action<IReadOnlyList<string>>? beforeCreate = null)
    {
        RefuseV1Only(limits);
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
        beforeCreate?.Invoke([dir]);
        CgroupFiles.Claim(dir, "unified");
        var cgroup = new V2Cgroup(dir);
        try
        {
            Apply(dir, limits);
            if (limits.Devices is { } rules)
            {
                AttachDeviceFilter(dir, rules);
            }
            return cgroup;
        }
        catch
        {
            cgroup.Remove();
            throw;
        }
    }

    /// <summary>Memory settings that exist only in cgroup v1: refused, with the reason, before anything is created.</summary>
    internal static void RefuseV1Only(CgroupLimits l)
    {
        foreach (var (asked, field, why) in new[]
                 {
                     (l.MemorySwappiness is not null, "swappiness", "cgroup v2 has no per-cgroup swappiness"),
                     (l.MemoryOomKillDisabled, "disableOOMKiller", "cgroup v2 cannot turn the OOM killer off for a cgroup"),
                     (l.MemoryKernelTcpBytes is not null, "kernelTCP", "cgroup v2 counts socket buffers in memory.max and has no separate limit"),
                 })
        {
            if (asked)
            {
                throw new SandboxException(ErrorCodes.Unsupported, $"$.linux.resources.memory.{field}: {why}",
                    $"remove {field} on this host (it uses cgroup v2), or run where cgroup v1 holds the memory controller");
            }
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
        // One line a device with the keys the config sets for it; a rate of 0 lifts that limit ("max"), as on v1.
        foreach (var device in (l.BlkioThrottles ?? []).GroupBy(t => (t.Major, t.Minor)))
        {
            write(dir, "io.max", $"{S(device.Key.Major)}:{S(device.Key.Minor)} "
                + string.Join(' ', device.Select(t => $"{t.V2Key}={(t.Rate > 0 ? t.Rate.ToString(CultureInfo.InvariantCulture) : "max")}")));
        }
    }

    /// <summary>
    /// cgroup v2 confines devices with an eBPF program attached to the cgroup (BPF_CGROUP_DEVICE), which the kernel
    /// runs on every open and mknod of a device node by a process inside; ALLOW_MULTI keeps the parents' programs.
    /// The program lives as long as the cgroup: its descriptor is closed once attached.
    /// </summary>
    private static unsafe void AttachDeviceFilter(string dir, IReadOnlyList<DeviceRule> rules)
    {
        var prog = LoadDeviceFilter(DeviceRules.CompileBpf(rules), out var error);
        if (prog < 0)
        {
            throw new SandboxException(ErrorCodes.CgroupFailed, $"load the device filter for {dir}: {error}",
                error.StartsWith("EPERM", StringComparison.Ordinal) ? "loading a cgroup device program needs root (CAP_BPF and CAP_SYS_ADMIN)"
                : "check that the kernel has CONFIG_CGROUP_BPF");
        }
        var sys = Interop.SyscallNumbers.ForCurrentArchitecture();
        try
        {
            fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(dir + "\0"))
            {
                var target = LibC.open(p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
                if (target < 0)
                {
                    throw new SandboxException(ErrorCodes.CgroupFailed, $"open {dir}: {Interop.Libc.Describe(LibC.errno)}", "check the cgroup's permissions");
                }
                var attach = new Interop.BpfProgAttachAttr
                {
                    TargetFd = (uint)target,
                    AttachBpfFd = (uint)prog,
                    AttachType = Interop.Libc.BPF_CGROUP_DEVICE,
                    AttachFlags = Interop.Libc.BPF_F_ALLOW_MULTI,
                };
                var rc = Interop.Libc.Syscall(sys.Bpf, Interop.Libc.BPF_PROG_ATTACH, (nint)(&attach), sizeof(Interop.BpfProgAttachAttr), 0, 0);
                var err = Interop.Libc.Errno;
                LibC.close(target);
                if (rc != 0)
                {
                    throw new SandboxException(ErrorCodes.CgroupFailed, $"attach the device filter to {dir}: {Interop.Libc.Describe(err)}",
                        "check that the kernel has CONFIG_CGROUP_BPF");
                }
            }
        }
        finally
        {
            LibC.close(prog);
        }
    }

    /// <summary>BPF_PROG_LOAD of a device program: its descriptor, or -1 with the errno and the verifier's last words.</summary>
    internal static unsafe int LoadDeviceFilter(ulong[] program, out string error)
    {
        var sys = Interop.SyscallNumbers.ForCurrentArchitecture();
        var log = new byte[4096];
        fixed (ulong* insns = program)
        fixed (byte* lic = "MIT\0"u8)
        fixed (byte* logBuf = log)
        {
            var load = new Interop.BpfProgLoadAttr
            {
                ProgType = Interop.Libc.BPF_PROG_TYPE_CGROUP_DEVICE,
                InsnCnt = (uint)program.Length,
                Insns = (ulong)insns,
                License = (ulong)lic,
            };
            var prog = (int)Interop.Libc.Syscall(sys.Bpf, Interop.Libc.BPF_PROG_LOAD, (nint)(&load), sizeof(Interop.BpfProgLoadAttr), 0, 0);
            if (prog >= 0 || Interop.Libc.Errno != Interop.Libc.EINVAL)
            {
                error = prog >= 0 ? "" : Interop.Libc.Describe(Interop.Libc.Errno);
                return prog;
            }
            // Refused by the verifier: load again with its log, to say why.
            load.LogLevel = 1;
            load.LogSize = (uint)log.Length;
            load.LogBuf = (ulong)logBuf;
            Interop.Libc.Syscall(sys.Bpf, Interop.Libc.BPF_PROG_LOAD, (nint)(&load), sizeof(Interop.BpfProgLoadAttr), 0, 0);
            var text = System.Text.Encoding.UTF8.GetString(log).TrimEnd('\0').Trim();
            error = "EINVAL (the verifier refused it: " + string.Join(" / ", text.Split('\n').TakeLast(3)) + ")";
            return -1;
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
                return LibC.open(p, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
            }
        }

        public void AddProcess(int pid) => CgroupFiles.Write(dir, "cgroup.procs", pid.ToString(CultureInfo.InvariantCulture));

        public CgroupStats ReadOom() => new()
        {
            OomKilled = CgroupFiles.ParseFlatKeyed(CgroupFiles.Read(dir, "memory.events")).GetValueOrDefault("oom_kill") > 0,
            OomSource = "cgroup v2 memory.events oom_kill",
        };

        public long? ReadPidsCurrent() => CgroupFiles.ParseSingle(CgroupFiles.Read(dir, "pids.current"));

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
                PidsCurrent = ReadPidsCurrent(),
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
