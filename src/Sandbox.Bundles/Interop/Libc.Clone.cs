using System.Runtime.InteropServices;

namespace Sandbox.Bundles.Interop;

// Copying file data inside the kernel. FICLONE shares a file's extents with a new file (btrfs, XFS with reflink):
// a copy that costs no data until written. copy_file_range moves bytes without a trip through user space, and
// reflinks on its own where the filesystem can. Ours: Tmds.LibC declares neither FICLONE nor copy_file_range (the
// ioctl itself is its LibC.ioctl).
internal static partial class Libc
{
    public const int FICLONE = 0x40049409; // _IOW(0x94, 9, int)

    /// <summary>copy_file_range(2) from and to the descriptors' own offsets (both offset pointers NULL).</summary>
    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    public static partial nint CopyFileRange(int fdIn, nint offIn, int fdOut, nint offOut, nuint length, uint flags);
}
