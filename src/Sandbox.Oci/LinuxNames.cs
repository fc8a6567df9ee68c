namespace Sandbox.Oci;

/// <summary>
/// Names the runtime-spec uses for kernel objects, indexed by their kernel numbers
/// (linux/capability.h, asm-generic/resource.h). tests/Sandbox.Runtime.Tests checks them against the headers.
/// </summary>
public static class LinuxNames
{
    public static readonly string[] Capabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    public static readonly string[] Rlimits =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    public static readonly string[] NamespaceTypes = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"];

    public static readonly string[] Propagations =
        ["private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"];

    public static int CapabilityNumber(string name) => Array.IndexOf(Capabilities, name);

    public static int RlimitNumber(string name) => Array.IndexOf(Rlimits, name);

    /// <summary>The persona personality(2) takes for a runtime-spec execution domain (PER_LINUX, PER_LINUX32 in
    /// linux/personality.h), or null for one the spec does not name.</summary>
    public static uint? PersonalityNumber(string? domain) => domain switch
    {
        "LINUX" => 0x0000,
        "LINUX32" => 0x0008,
        _ => null,
    };
}
