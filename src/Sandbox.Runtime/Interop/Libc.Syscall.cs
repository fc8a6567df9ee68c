// Raw syscalls that glibc does not wrap (clone without a stack, clone3, pivot_root, openat2, close_range, capset,
// pidfd_open, mount_setattr, open_tree, move_mount, the Landlock calls, keyctl, bpf, seccomp) or whose wrapper the
// post-clone path may not use (getcwd, the set*id calls). Ours: Tmds.LibC lacks all but openat2, and its syscall and
// openat2 are lazily bound with their numbers as properties, which the post-clone path may not call; the numbers
// here are handed to the child as data (SyscallNumbers), and KernelHeaderTests checks them for both architectures.
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    [DllImport("libc", EntryPoint = "syscall", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern nint Syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5);
}

/// <summary>struct clone_args (linux/sched.h), up to the cgroup field (CLONE_ARGS_SIZE_VER2).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CloneArgs
{
    public const ulong CLONE_INTO_CGROUP = 0x200000000;
    public ulong Flags, PidFd, ChildTid, ParentTid, ExitSignal, Stack, StackSize, Tls, SetTid, SetTidSize, Cgroup;
}

/// <summary>Syscall numbers for the running architecture, and the open flags whose values differ between
/// architectures, resolved in the parent and handed to the child as data.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SyscallNumbers
{
    public int Clone, PivotRoot, Openat2, CloseRange, Capset, Capget, PidfdOpen;

    // glibc's wrappers for these broadcast the change to every thread it knows of (setxid), and in a child of
    // clone it still knows the parent's threads: it would wait for them forever. The child makes the raw calls.
    public int Setresuid, Setresgid, Setgroups;
    public int Seccomp, Clone3;
    public int MountSetattr, OpenTree, MoveMount, LandlockCreateRuleset, LandlockAddRule, LandlockRestrictSelf, Keyctl, Getcwd, Bpf;

    /// <summary>O_DIRECTORY and O_NOFOLLOW.</summary>
    public int ODirectory, ONoFollow;

    public static SyscallNumbers ForCurrentArchitecture() => ForArchitecture(RuntimeInformation.ProcessArchitecture);

    public static SyscallNumbers ForArchitecture(Architecture architecture) => architecture switch
    {
        Architecture.X64 => new SyscallNumbers
        {
            Clone = 56, PivotRoot = 155, Openat2 = 437, CloseRange = 436, Capset = 126, Capget = 125, PidfdOpen = 434,
            Setresuid = 117, Setresgid = 119, Setgroups = 116, Seccomp = 317, Clone3 = 435,
            MountSetattr = 442, OpenTree = 428, MoveMount = 429, LandlockCreateRuleset = 444, LandlockAddRule = 445, LandlockRestrictSelf = 446, Keyctl = 250, Getcwd = 79, Bpf = 321,
            ODirectory = 0x10000, ONoFollow = 0x20000,
        },
        Architecture.Arm64 => new SyscallNumbers
        {
            Clone = 220, PivotRoot = 41, Openat2 = 437, CloseRange = 436, Capset = 91, Capget = 90, PidfdOpen = 434,
            Setresuid = 147, Setresgid = 149, Setgroups = 159, Seccomp = 277, Clone3 = 435,
            MountSetattr = 442, OpenTree = 428, MoveMount = 429, LandlockCreateRuleset = 444, LandlockAddRule = 445, LandlockRestrictSelf = 446, Keyctl = 219, Getcwd = 17, Bpf = 280,
            ODirectory = 0x4000, ONoFollow = 0x8000,
        },
        var a => throw new SandboxException(ErrorCodes.Unsupported, $"architecture {a} is not supported", "run on x86_64 or aarch64"),
    };
}
