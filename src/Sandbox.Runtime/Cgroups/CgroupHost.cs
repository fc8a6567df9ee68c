using Sandbox.Oci;
using Tmds.Linux;

namespace Sandbox.Runtime.Cgroups;

internal static class CgroupHost
{
    /// <summary>The driver for this host, from /proc/self/mountinfo; null where no cgroup filesystem is mounted.</summary>
    public static ICgroupDriver? Driver(CgroupLayout? layout = null)
    {
        layout ??= CgroupLayout.Read();
        // SANDBOX_CGROUP_VERSION=v2 uses the cgroup2 mount of a hybrid host (no controllers there, but cgroup.procs,
        // cgroup.kill and CLONE_INTO_CGROUP work): how the v2 paths are exercised live on the v1 machines here.
        if (Environment.GetEnvironmentVariable("SANDBOX_CGROUP_VERSION") == "v2" && layout.V2Mount is not null)
        {
            return new CgroupV2Driver(layout);
        }
        return layout.Version switch
        {
            "v1" => new CgroupV1Driver(layout),
            "v2" => new CgroupV2Driver(layout),
            _ => null,
        };
    }

    /// <summary>
    /// Whether the hierarchies are likely cgroup v1's, without reading /proc/self/mountinfo: a tmpfs at /sys/fs/cgroup (v1
    /// and hybrid; cgroup2 on v2). A guess only, for a cgroup made after the clone: Driver decides then.
    /// </summary>
    public static unsafe bool LooksLikeV1()
    {
        if (Environment.GetEnvironmentVariable("SANDBOX_CGROUP_VERSION") == "v2")
        {
            return false;
        }
        Interop.StatFs st;
        fixed (byte* p = "/sys/fs/cgroup\0"u8)
        {
            return Interop.Libc.Statfs(p, &st) == 0 && st.Type == TmpfsMagic;
        }
    }

    private const long TmpfsMagic = 0x01021994;

    /// <summary>The cgroup of a running container, from the directories its state recorded; null if it has none.</summary>
    public static ICgroup? Open(IReadOnlyList<string> paths)
    {
        if (paths.Count == 0)
        {
            return null;
        }
        var layout = CgroupLayout.Read();
        return layout.V2Mount is { } v2 && paths[0].StartsWith(v2 + "/", StringComparison.Ordinal)
            ? new CgroupV2Driver.V2Cgroup(paths[0]) : new CgroupV1Driver(layout).Open(paths);
    }

    /// <summary>
    /// Kills whatever is left in cgroup directories recorded earlier (a deleted or crashed container) and removes
    /// them: cgroup.kill where the kernel has it, else SIGKILL to every listed process, round after round.
    /// </summary>
    public static void KillAndRemove(IEnumerable<string> dirs)
    {
        var existing = dirs.Where(Directory.Exists).ToList();
        // A paused container: kill what is frozen, then thaw it, or nothing dies.
        if (CgroupFreezer.Find(existing) is { } frozen && CgroupFreezer.IsFrozen(existing))
        {
            foreach (var pid in CgroupFiles.ReadProcs(frozen))
            {
                LibC.kill(pid, LibC.SIGKILL);
            }
            CgroupFreezer.ThawForKill(existing);
        }
        foreach (var dir in existing.OrderByDescending(d => d.Length))
        {
            if (File.Exists(Path.Join(dir, "cgroup.kill")))
            {
                CgroupFiles.Write(dir, "cgroup.kill", "1");
            }
            for (var round = 0; round < 200; round++)
            {
                var procs = CgroupFiles.ReadProcs(dir);
                if (procs.Count == 0)
                {
                    break;
                }
                foreach (var pid in procs)
                {
                    LibC.kill(pid, LibC.SIGKILL);
                }
                Thread.Sleep(2);
            }
            CgroupFiles.RemoveDirectory(dir);
        }
    }

    /// <summary>linux.resources in cgroup units. Memory+swap defaults to the memory limit: no escape into swap.</summary>
    /// <param name="deviceRules">Whether to confine devices: always as root (default deny, as runc does); without
    /// root only when the config lists rules, since an unprivileged user can neither create a v1 devices cgroup
    /// nor load a v2 device program, and its user namespace already refuses mknod.</param>
    public static CgroupLimits Limits(OciLinux? linux, bool deviceRules) => Limits(linux?.Resources) with
    {
        Devices = deviceRules || linux?.Resources?.Devices is { Count: > 0 } ? DeviceRules.For(linux) : null,
    };

    public static CgroupLimits Limits(OciResources? r) => new()
    {
        MemoryBytes = r?.Memory?.Limit,
        MemorySwapBytes = r?.Memory?.Swap,
        MemoryReservationBytes = r?.Memory?.Reservation,
        MemorySwappiness = r?.Memory?.Swappiness,
        MemoryOomKillDisabled = r?.Memory?.DisableOomKiller == true,
        MemoryKernelTcpBytes = r?.Memory?.KernelTcp,
        CpuQuotaMicros = r?.Cpu?.Quota,
        CpuPeriodMicros = r?.Cpu?.Period ?? (r?.Cpu?.Quota is not null ? 100000 : null),
        CpuShares = r?.Cpu?.Shares,
        CpusetCpus = string.IsNullOrEmpty(r?.Cpu?.Cpus) ? null : r.Cpu.Cpus,
        CpusetMems = string.IsNullOrEmpty(r?.Cpu?.Mems) ? null : r.Cpu.Mems,
        PidsLimit = r?.Pids?.Limit is long p && p != 0 ? p : null,
        BlkioWeight = r?.BlockIo?.Weight,
        BlkioThrottles = BlkioThrottle.From(r?.BlockIo),
    };
}
