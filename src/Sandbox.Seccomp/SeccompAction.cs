namespace Sandbox.Seccomp;

/// <summary>The values a seccomp filter returns (linux/seccomp.h), and the profile names for them.</summary>
public static class SeccompAction
{
    public const uint KillProcess = 0x80000000, KillThread = 0x00000000, Trap = 0x00030000, Errno = 0x00050000,
        UserNotif = 0x7fc00000, Trace = 0x7ff00000, Log = 0x7ffc0000, Allow = 0x7fff0000;

    public const uint EPERM = 1, ENOSYS = 38;

    /// <summary>The filter's return value for a profile action; null for a name the spec does not define.</summary>
    public static uint? Parse(string? name, uint errno) => name switch
    {
        "SCMP_ACT_ALLOW" => Allow,
        "SCMP_ACT_ERRNO" => Errno | (errno & 0xffff),
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => KillThread,
        "SCMP_ACT_KILL_PROCESS" => KillProcess,
        "SCMP_ACT_TRAP" => Trap,
        "SCMP_ACT_LOG" => Log,
        "SCMP_ACT_TRACE" => Trace | (errno & 0xffff),
        "SCMP_ACT_NOTIFY" => UserNotif,
        _ => null,
    };

    public static readonly string[] Names =
    [
        "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY",
    ];
}
