// statx(2): the owner of a path without following a final symlink (struct statx has one layout on every
// architecture, unlike struct stat).
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    private const uint STATX_UID = 0x8;

    [DllImport("libc", EntryPoint = "statx", ExactSpelling = true)]
    private static extern int Statx(int dirfd, byte* path, int flags, uint mask, byte* buffer);

    /// <summary>The uid that owns <paramref name="path"/> (the link itself if it is one), or null when it cannot be read.</summary>
    public static uint? OwnerOf(string path)
    {
        var buffer = stackalloc byte[256];
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
        {
            // struct statx: stx_mask, stx_blksize (u32 each), stx_attributes (u64), stx_nlink, stx_uid (u32 each).
            return Statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_UID, buffer) == 0 ? *(uint*)(buffer + 20) : null;
        }
    }
}
