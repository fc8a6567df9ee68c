// Files and descriptors for the post-clone path: open/openat, getdents64, readlinkat, mkdirat, mknodat, symlinkat,
// fchownat, dup3, pipe2, read, write, close and the O_/AT_/RESOLVE_/S_IF constants. Ours because the post-clone path
// needs compile-time constants and [SuppressGCTransition] imports bound at link time (Tmds.LibC's constants are
// properties, its imports bind "libc.so.6" lazily with a GC transition). rename and renameat2 are ours for the parent as
// well: Tmds.LibC lacks them. The parent's RawFiles, state root and cgroup directories use Tmds.LibC.
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100,
        O_TRUNC = 0x200, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000,
        O_PATH = 0x200000;

    /// <summary>
    /// Two open flags whose values differ between architectures: 0x10000 and 0x20000 on x86_64, 0x4000 and 0x8000 on
    /// arm64 (asm-generic), where 0x10000 and 0x20000 mean O_DIRECT and O_LARGEFILE.
    /// The child after clone reads them from <see cref="SyscallNumbers"/> instead, handed over as data.
    /// </summary>
    public static readonly int O_DIRECTORY = SyscallNumbers.ForCurrentArchitecture().ODirectory,
        O_NOFOLLOW = SyscallNumbers.ForCurrentArchitecture().ONoFollow;

    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000;

    public const ulong RESOLVE_NO_XDEV = 1, RESOLVE_NO_MAGICLINKS = 2, RESOLVE_NO_SYMLINKS = 4, RESOLVE_BENEATH = 8,
        RESOLVE_IN_ROOT = 16;

    public const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFCHR = 0x2000, S_IFBLK = 0x6000, S_IFREG = 0x8000,
        S_IFIFO = 0x1000, S_IFLNK = 0xA000;

    public const uint CLOSE_RANGE_CLOEXEC = 4;

    [DllImport("libc", EntryPoint = "open", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Open(byte* path, int flags, uint mode);

    [DllImport("libc", EntryPoint = "openat", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Openat(int dirfd, byte* path, int flags, uint mode);

    [DllImport("libc", EntryPoint = "getdents64", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern nint Getdents64(int fd, void* buf, nuint count);

    [DllImport("libc", EntryPoint = "readlinkat", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern nint Readlinkat(int dirfd, byte* path, byte* buf, nuint size);

    [DllImport("libc", EntryPoint = "fchmod", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Fchmod(int fd, uint mode);

    [DllImport("libc", EntryPoint = "close", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Close(int fd);

    /// <summary>read(2) that may block: the child uses it to wait for its parent, with no GC transition.</summary>
    [DllImport("libc", EntryPoint = "read", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern nint Read(int fd, void* buf, nint count);

    [DllImport("libc", EntryPoint = "write", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern nint Write(int fd, void* buf, nint count);

    [DllImport("libc", EntryPoint = "pipe2", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Pipe2(int* fds, int flags);

    [DllImport("libc", EntryPoint = "dup3", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Dup3(int oldfd, int newfd, int flags);

    [DllImport("libc", EntryPoint = "mkdirat", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Mkdirat(int dirfd, byte* path, uint mode);

    [DllImport("libc", EntryPoint = "mknodat", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Mknodat(int dirfd, byte* path, uint mode, ulong dev);

    [DllImport("libc", EntryPoint = "symlinkat", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Symlinkat(byte* target, int dirfd, byte* linkpath);

    [DllImport("libc", EntryPoint = "fchownat", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Fchownat(int dirfd, byte* path, uint uid, uint gid, int flags);

    [DllImport("libc", EntryPoint = "fchdir", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Fchdir(int fd);

    [DllImport("libc", EntryPoint = "chdir", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Chdir(byte* path);

    public const int X_OK = 1;

    [DllImport("libc", EntryPoint = "access", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Access(byte* path, int mode);

    [DllImport("libc", EntryPoint = "rename", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Rename(byte* from, byte* to);

    public const uint RENAME_EXCHANGE = 2;

    [DllImport("libc", EntryPoint = "renameat2", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Renameat2(int oldDirfd, byte* from, int newDirfd, byte* to, uint flags);

}

[StructLayout(LayoutKind.Sequential)]
internal struct OpenHow
{
    public ulong Flags, Mode, Resolve;
}
