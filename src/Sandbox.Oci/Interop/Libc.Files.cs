// What BoundedFile needs from libc: .NET's file APIs open a FIFO with a blocking open(2) and cannot tell a regular
// file from a device or a FIFO. tests/Sandbox.Oci.Tests/InteropHeaderTests checks these against the C headers.
using System.Runtime.InteropServices;

namespace Sandbox.Oci.Interop;

internal static unsafe class Libc
{
    public const int O_RDONLY = 0, O_NOCTTY = 0x100, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;

    public const int AT_FDCWD = -100, AT_EMPTY_PATH = 0x1000;

    public const uint STATX_TYPE = 0x1, STATX_SIZE = 0x200;

    public const ushort S_IFMT = 0xF000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFCHR = 0x2000, S_IFBLK = 0x6000,
        S_IFIFO = 0x1000, S_IFSOCK = 0xC000;

    public const int EINTR = 4, EINVAL = 22;

    [DllImport("libc", EntryPoint = "open", ExactSpelling = true, SetLastError = true)]
    public static extern int Open(byte* path, int flags, uint mode);

    [DllImport("libc", EntryPoint = "statx", ExactSpelling = true, SetLastError = true)]
    public static extern int Statx(int dirfd, byte* path, int flags, uint mask, StatxBuffer* buf);

    [DllImport("libc", EntryPoint = "read", ExactSpelling = true, SetLastError = true)]
    public static extern nint Read(int fd, byte* buf, nint count);

    [DllImport("libc", EntryPoint = "close", ExactSpelling = true)]
    public static extern int Close(int fd);
}

/// <summary>struct statx (linux/stat.h), the same on every architecture, unlike struct stat; only the fields read here.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct StatxBuffer
{
    [FieldOffset(0)]
    public uint Mask;

    [FieldOffset(28)]
    public ushort Mode;

    [FieldOffset(40)]
    public ulong Size;
}
