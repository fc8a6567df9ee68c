namespace Sandbox.Oci;

/// <summary>The config.json `sandbox spec` writes: all namespaces, a read-only root, hermetic defaults.</summary>
public static class DefaultConfig
{
    public static readonly string[] MaskedPaths =
    [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ];

    public static readonly string[] ReadonlyPaths =
        ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    public static OciConfig Create(bool rootless, uint uid, uint gid)
    {
        List<string> caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
        var mounts = new List<OciMount>
        {
            new() { Destination = "/proc", Type = "proc", Source = "proc" },
            new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            new()
            {
                Destination = "/dev/pts", Type = "devpts", Source = "devpts",
                Options = rootless
                    ? ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
                    : ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
            },
            new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
            rootless
                ? new() { Destination = "/sys", Type = "none", Source = "/sys", Options = ["rbind", "nosuid", "noexec", "nodev", "ro"] }
                : new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] },
            new() { Destination = "/tmp", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "nodev", "mode=1777", "size=65536k"] },
        };
        var namespaces = new List<OciNamespace>
        {
            new() { Type = "pid" }, new() { Type = "network" }, new() { Type = "ipc" }, new() { Type = "uts" },
            new() { Type = "mount" }, new() { Type = "cgroup" },
        };
        if (rootless)
        {
            namespaces.Add(new() { Type = "user" });
        }
        return new OciConfig
        {
            OciVersion = OciVersions.Current,
            Process = new OciProcess
            {
                Args = ["sh"],
                Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "TZ=UTC", "LANG=C.UTF-8", "HOME=/root"],
                Cwd = "/",
                User = new OciUser { Uid = 0, Gid = 0 },
                Capabilities = new OciCapabilities { Bounding = caps, Effective = [.. caps], Permitted = [.. caps] },
                Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Soft = 1024, Hard = 1024 }],
                NoNewPrivileges = true,
            },
            Root = new OciRoot { Path = "rootfs", Readonly = true },
            Hostname = "sandbox",
            Mounts = mounts,
            Linux = new OciLinux
            {
                Namespaces = namespaces,
                UidMappings = rootless ? [new OciIdMapping { ContainerId = 0, HostId = uid, Size = 1 }] : null,
                GidMappings = rootless ? [new OciIdMapping { ContainerId = 0, HostId = gid, Size = 1 }] : null,
                MaskedPaths = [.. MaskedPaths],
                ReadonlyPaths = [.. ReadonlyPaths],
            },
        };
    }
}
