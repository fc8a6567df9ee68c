using System.Runtime.InteropServices;

namespace Sandbox.Bundles.Interop;

// FICLONE shares a file's extents with a new file (btrfs, XFS with reflink): a copy that costs no data until written.
internal static partial class Libc
{
    public const ulong FICLONE = 0x40049409; // _IOW(0x94, 9, int)

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, nint arg);
}
