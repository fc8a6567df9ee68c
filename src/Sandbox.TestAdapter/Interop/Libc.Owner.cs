// statx(2) for the owner and type of a path, never following a final symlink, and geteuid(2): the adapter removes only
// run directories of its own user (SandboxRun.CollectLeftovers), and maps the output directory's owner to the sandbox's
// user; the MTP launcher binds the Unix sockets a test host must reach into its sandbox. statx rather than stat: one
// layout on every architecture.
using System.Runtime.InteropServices;

namespace Sandbox.TestAdapter.Interop;

internal static partial class Libc
{
    private const int AtFdcwd = -100, AtSymlinkNofollow = 0x100;
    private const uint StatxType = 1, StatxUid = 8, StatxGid = 16;
    private const ushort SIfmt = 0xf000, SIfsock = 0xc000;

    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, out StatxBuffer buf);

    public static bool IsRoot => Geteuid() == 0;

    /// <summary>True when <paramref name="path"/> itself (a symlink is not followed) belongs to this process's user.</summary>
    public static bool IsOwnedByMe(string path) =>
        statx(AtFdcwd, path, AtSymlinkNofollow, StatxUid, out var buf) == 0 && buf.Uid == Geteuid();

    /// <summary>True when <paramref name="path"/> itself (a symlink is not followed) is a Unix domain socket.</summary>
    public static bool IsSocket(string path) =>
        statx(AtFdcwd, path, AtSymlinkNofollow, StatxType, out var buf) == 0 && (buf.Mode & SIfmt) == SIfsock;

    /// <summary>The owning user and group of <paramref name="path"/> (a symlink is not followed); null if it cannot be read.</summary>
    public static (uint Uid, uint Gid)? Owner(string path) =>
        statx(AtFdcwd, path, AtSymlinkNofollow, StatxUid | StatxGid, out var buf) == 0 ? (buf.Uid, buf.Gid) : null;
}
