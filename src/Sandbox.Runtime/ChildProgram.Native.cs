// The native data the post-clone path reads: steps prepared by the parent before clone, in unmanaged memory.
using System.Runtime.InteropServices;
using Sandbox.Runtime.Interop;

namespace Sandbox.Runtime;

internal enum ChildOp
{
    SetParentDeathSignal,
    WaitForParent,
    SetNs,
    Unshare,
    EnterTimeNamespace,
    SetSid,
    SetHostname,
    SetDomainname,
    LoopbackUp,
    SetRootPropagation,
    BindRootfs,
    Mount,
    MakeDevice,
    BindDevice,
    Symlink,
    PivotRoot,
    MoveRoot,
    SetRootfsPropagationAfterPivot,
    MaskPath,
    ReadonlyPath,
    WriteFile,
    RemountRootReadonly,
    SyncWithParent,
    RunHook,
    SetRlimit,
    Chdir,
    DropBoundingSet,
    SetUser,
    SetCapabilities,
    NoNewPrivileges,
    Umask,
    Seccomp,
    ReportReady,
    WaitForStart,
    Exec,
    Exit,
    SetDumpable,
    RestrictExecution,
    JoinSessionKeyring,
    AttachIdmapped,
    BecomeRoot,
    Chroot,
    EnterPidNamespace,
    SetupConsole,
    SetPersonality,
    JoinCgroup,
    JoinCgroupFromParent,
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ChildStep
{
    public ChildOp Op;
    public int I1, I2, I3;
    public ulong L1, L2, L3, L4;
    public byte* S1, S2, S3, S4;
    public byte** V1, V2, V3;
    public byte* Description;
}

/// <summary>struct sock_fprog: the filter's length and its instructions.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockFprog
{
    public ushort Length;
    public Sandbox.Seccomp.BpfInstruction* Filter;
}

/// <summary>What the child writes to the report pipe: an error, a request to sync, or "ready" (create mode).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ChildReport
{
    public const int KindError = 0, KindSync = 1, KindReady = 2;

    /// <summary>The child forked into a pid namespace it joined (EnterPidNamespaceStep): Detail is the new process's pid.</summary>
    public const int KindForked = 3;
    public int Kind, Step, Errno, Detail;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ChildContext
{
    public int SyncFd, ReportFd, RootFd, StartFd, PreserveFds;

    /// <summary>The go-ahead's byte, once the child has it: GoJoin, or GoWithoutCgroup (ChildProgram.CgroupTasksFiles empty).</summary>
    public int Go;
    public const int GoJoin = 1, GoWithoutCgroup = 2;

    /// <summary>The child's end of the socket pair for the seccomp listener (-1 without one).</summary>
    public int ListenerFd;
    public int StepCount;
    public ChildStep* Steps;
    public SyscallNumbers Sys;
    public byte* StateBuffer;
    public int StateCapacity, StateLength;

    /// <summary>Descriptors the child keeps beyond stdio and the preserved ones, ascending; it closes all others first.</summary>
    public int* KeepFds;
    public int KeepFdCount;

    /// <summary>Where the runtime's argv and environment strings lie (from /proc/self/stat), for the reaper to wipe.</summary>
    public nuint ArgStart, ArgEnd, EnvStart, EnvEnd;

    /// <summary>
    /// The directory consecutive MakeDevice and Symlink steps write into, kept open between them (PostClone.DeviceDir):
    /// DevDirRel is its rootfs-relative path, null when none is open (so a context left zeroed holds none).
    /// </summary>
    public byte* DevDirRel;
    public int DevDirFd;
}
