using System.Runtime.InteropServices;

namespace Sandbox.Bundles.Interop;

// openat2 has no glibc wrapper; it is called through syscall(2), whose number is 437 on x86_64 and aarch64 alike.
internal static unsafe partial class Libc
{
    public const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_EXCL = 0x80, O_NONBLOCK = 0x800,
        O_CLOEXEC = 0x80000, O_PATH = 0x200000;

    /// <summary>0x10000 and 0x20000 on x86_64, 0x4000 and 0x8000 on arm64 (asm-generic), where the x86_64 values mean
    /// O_DIRECT and O_LARGEFILE.</summary>
    public static readonly int O_DIRECTORY = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x4000 : 0x10000,
        O_NOFOLLOW = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x8000 : 0x20000;

    public const int AT_FDCWD = -100;

    public const ulong RESOLVE_NO_MAGICLINKS = 2, RESOLVE_NO_SYMLINKS = 4, RESOLVE_BENEATH = 8;

    public const long SYS_openat2 = 437;

    [StructLayout(LayoutKind.Sequential)]
    public struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Openat(int dirfd, string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint dirfd, nint path, nint how, nint size);

    public static int Openat2(int dirfd, string path, int flags, ulong resolve)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        var how = new OpenHow { Flags = (ulong)flags, Mode = 0, Resolve = resolve };
        fixed (byte* p = bytes)
        {
            return (int)Syscall((nint)SYS_openat2, dirfd, (nint)p, (nint)(&how), sizeof(OpenHow));
        }
    }

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
