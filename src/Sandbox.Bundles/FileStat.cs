using Microsoft.Win32.SafeHandles;
using static Sandbox.Bundles.Interop.Libc;

namespace Sandbox.Bundles;

internal enum FileKind
{
    Missing,
    Regular,
    Directory,
    Symlink,
    Other, // FIFO, socket, character or block device: never opened by the builder
}

/// <summary>
/// What statx says about one path, never following a final symlink. Size, mtime and ctime together tell whether
/// a file may have changed: ctime moves on every write, chmod, link and unlink, and no caller can set it back.
/// </summary>
/// <param name="Mode">st_mode with the file type bits.</param>
internal readonly record struct FileStat(FileKind Kind, uint Mode, ulong Dev, ulong Ino, long Size, long MtimeNs, long CtimeNs, uint Nlink)
{
    public static FileStat Of(string path) => Call(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW);

    public static FileStat At(int dirfd, string name) => Call(dirfd, name, AT_SYMLINK_NOFOLLOW);

    public static FileStat Of(SafeFileHandle handle) => Call((int)handle.DangerousGetHandle(), "", AT_EMPTY_PATH);

    /// <summary>The fields that change when content does, as a line for a record file.</summary>
    public string Fingerprint(bool withCtime) => withCtime
        ? $"{Dev}:{Ino}:{Size}:{MtimeNs}:{CtimeNs}:{Convert.ToString(Mode, 8)}"
        : $"{Dev}:{Ino}:{Size}:{MtimeNs}:{Convert.ToString(Mode, 8)}";

    private static FileStat Call(int dirfd, string path, int flags)
    {
        if (StatxCall(dirfd, path, flags, STATX_BASIC_STATS, out var s) != 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno is ENOENT or ENOTDIR or ELOOP) // nothing there to stat, or a symlink loop on the way
            {
                return default;
            }
            throw new SandboxException(ErrorCodes.Io, $"stat {path}: {Interop.Libc.Describe(errno)}", "check the path and its permissions");
        }
        var kind = (s.Mode & S_IFMT) switch
        {
            S_IFREG => FileKind.Regular,
            S_IFDIR => FileKind.Directory,
            S_IFLNK => FileKind.Symlink,
            _ => FileKind.Other,
        };
        return new FileStat(kind, s.Mode, ((ulong)s.DevMajor << 32) | s.DevMinor, s.Ino, (long)s.Size,
            s.MtimeSec * 1_000_000_000 + s.MtimeNsec, s.CtimeSec * 1_000_000_000 + s.CtimeNsec, s.Nlink);
    }

    public uint Permissions => Mode & 0xfffu;

    /// <summary>How an input that is none of file, directory and symlink is named in errors.</summary>
    public string KindName => (Mode & S_IFMT) switch
    {
        S_IFIFO => "a FIFO",
        S_IFSOCK => "a socket",
        S_IFCHR => "a character device",
        S_IFBLK => "a block device",
        S_IFDIR => "a directory",
        S_IFLNK => "a symlink",
        S_IFREG => "a regular file",
        _ => "missing",
    };
}
