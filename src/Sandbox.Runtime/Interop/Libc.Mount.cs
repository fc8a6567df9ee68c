// mount, umount2, chroot, statfs and the MS_/MNT_/ST_/MOUNT_ATTR_/OPEN_TREE_/MOVE_MOUNT_ constants. Ours: these
// calls are made only after clone, where the constants must be compile-time (MountOptions and the planner put them
// in the child's steps and in constant tables) and the imports bound at link time; Tmds.LibC's are properties and
// lazily bound. mount_setattr, open_tree and move_mount are raw syscalls Tmds.LibC lacks (SyscallNumbers).
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_SYNCHRONOUS = 16, MS_REMOUNT = 32,
        MS_MANDLOCK = 64, MS_DIRSYNC = 128, MS_NOSYMFOLLOW = 256, MS_NOATIME = 1024, MS_NODIRATIME = 2048, MS_BIND = 4096,
        MS_MOVE = 8192, MS_REC = 16384, MS_SILENT = 32768, MS_UNBINDABLE = 1 << 17, MS_PRIVATE = 1 << 18,
        MS_SLAVE = 1 << 19, MS_SHARED = 1 << 20, MS_RELATIME = 1 << 21, MS_STRICTATIME = 1 << 24;

    public const ulong PropagationFlags = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE;

    public const int MNT_DETACH = 2;

    /// <summary>mount_setattr(2): AT_RECURSIVE applies the change to every mount below too (Linux 5.12).</summary>
    public const int AT_RECURSIVE = 0x8000;
    public const ulong MOUNT_ATTR_RDONLY = 1, MOUNT_ATTR_IDMAP = 0x00100000;

    /// <summary>open_tree(2) and move_mount(2) (Linux 5.2): a detached copy of a mount tree, and attaching it.</summary>
    public const int OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = 0x80000, MOVE_MOUNT_F_EMPTY_PATH = 4, MOVE_MOUNT_T_EMPTY_PATH = 0x40;

    // statfs f_flags (ST_*), which differ from MS_* for the atime family.
    public const long ST_RDONLY = 1, ST_NOSUID = 2, ST_NODEV = 4, ST_NOEXEC = 8, ST_NOATIME = 1024,
        ST_NODIRATIME = 2048, ST_RELATIME = 4096;

    [DllImport("libc", EntryPoint = "mount", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Mount(byte* source, byte* target, byte* fstype, ulong flags, void* data);

    [DllImport("libc", EntryPoint = "umount2", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Umount2(byte* target, int flags);

    [DllImport("libc", EntryPoint = "chroot", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Chroot(byte* path);

    [DllImport("libc", EntryPoint = "statfs", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Statfs(byte* path, StatFs* buf);
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct StatFs
{
    public long Type, Bsize;
    public ulong Blocks, Bfree, Bavail, Files, Ffree;
    public long Fsid;
    public long Namelen, Frsize, Flags;
    public fixed long Spare[4];
}

/// <summary>struct mount_attr (linux/mount.h), for mount_setattr.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MountAttr
{
    public ulong AttrSet, AttrClr, Propagation, UsernsFd;
}
