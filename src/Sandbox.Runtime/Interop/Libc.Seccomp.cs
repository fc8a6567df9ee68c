// Seccomp user notification (linux/seccomp.h) and what the post-clone path and the supervisor need around it.
// Ours: Tmds.LibC has no seccomp declarations nor process_vm_readv. The socket calls, structs and constants here are
// only the post-clone path's (it sends the listener over SCM_RIGHTS): compile-time constants and [SuppressGCTransition]
// imports bound at link time, which Tmds.LibC's properties and lazily bound "libc.so.6" imports are not. The parent
// side (socketpair, connect, sendmsg/recvmsg with the CMSG_* helpers, poll) uses Tmds.LibC.
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const int SECCOMP_SET_MODE_FILTER = 1, SECCOMP_GET_ACTION_AVAIL = 2, SECCOMP_GET_NOTIF_SIZES = 3;
    public const uint SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
    public const uint SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;

    // _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp), _IOW('!', 2, __u64)
    public const nuint SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100, SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101, SECCOMP_IOCTL_NOTIF_ID_VALID = 0x40082102;

    // _IOW('!', 4, __u64) and its flag (Linux 6.6; newer than Debian 12's headers): wake the supervisor on the
    // notifying task's CPU, which saves a cross-CPU wakeup per notification.
    public const nuint SECCOMP_IOCTL_NOTIF_SET_FLAGS = 0x40082104;
    public const ulong SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1;

    public const int SOL_SOCKET = 1, SCM_RIGHTS = 1, MSG_NOSIGNAL = 0x4000;
    public const short POLLOUT = 4, POLLERR = 8;

    /// <summary>Used in the post-clone path (handing the listener over): bound at link time, no transition.</summary>
    [DllImport("libc", EntryPoint = "sendmsg", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern nint Sendmsg(int fd, MsgHdr* msg, int flags);

    [DllImport("libc", EntryPoint = "recvmsg", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern nint Recvmsg(int fd, MsgHdr* msg, int flags);

    [DllImport("libc", EntryPoint = "ioctl", ExactSpelling = true)]
    public static extern int IoctlBlocking(int fd, nuint request, void* arg);

    [DllImport("libc", EntryPoint = "process_vm_readv", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern nint ProcessVmReadv(int pid, IoVec* local, nuint liovcnt, IoVec* remote, nuint riovcnt, nuint flags);
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public void* Base;
    public nuint Length;
}

/// <summary>struct msghdr.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MsgHdr
{
    public void* Name;
    public uint NameLength;
    public IoVec* Iov;
    public nuint IovLength;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary>struct cmsghdr carrying one descriptor: CMSG_SPACE(sizeof(int)) is 24 bytes on 64-bit Linux.</summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
internal struct CmsgFd
{
    public nuint Length; // CMSG_LEN(sizeof(int)) = 20
    public int Level, Type;
    public int Fd;

    public const int Size = 24, LengthOfOne = 20;
}

/// <summary>struct seccomp_data.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SeccompDataNative
{
    public int Nr;
    public uint Arch;
    public ulong InstructionPointer;
    public fixed ulong Args[6];
}

/// <summary>struct seccomp_notif (80 bytes; the kernel's size is read with SECCOMP_GET_NOTIF_SIZES).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SeccompNotif
{
    public ulong Id;
    public uint Pid, Flags;
    public SeccompDataNative Data;
}

/// <summary>struct seccomp_notif_resp (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SeccompNotifResp
{
    public ulong Id;
    public long Val;
    public int Error;
    public uint Flags;
}

/// <summary>struct seccomp_notif_sizes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SeccompNotifSizes
{
    public ushort Notif, NotifResp, Data;
}
