// Landlock (linux/landlock.h) and the session keyring (linux/keyctl.h): constants and structs for raw syscalls,
// declared here because Tmds.LibC has neither; checked against the headers by KernelHeaderTests.
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const ulong LANDLOCK_ACCESS_FS_EXECUTE = 1;
    public const int LANDLOCK_RULE_PATH_BENEATH = 1, LANDLOCK_CREATE_RULESET_VERSION = 1;

    public const int KEYCTL_JOIN_SESSION_KEYRING = 1;

    /// <summary>The Landlock ABI version, or 0 where the kernel lacks it or has it turned off.</summary>
    public static int LandlockAbi()
    {
        var sys = SyscallNumbers.ForCurrentArchitecture();
        var v = Syscall(sys.LandlockCreateRuleset, 0, 0, LANDLOCK_CREATE_RULESET_VERSION, 0, 0);
        return v > 0 ? (int)v : 0;
    }
}

/// <summary>struct landlock_ruleset_attr, first field only (the size passed says so; later fields are newer ABIs).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LandlockRulesetAttr
{
    public ulong HandledAccessFs;
}

/// <summary>struct landlock_path_beneath_attr, which the kernel declares packed.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct LandlockPathBeneathAttr
{
    public ulong AllowedAccess;
    public int ParentFd;
}
