using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
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
    public static FileStat Of(string path) => Call(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW);

    public static FileStat At(int dirfd, string name) => Call(dirfd, name, LibC.AT_SYMLINK_NOFOLLOW);

    public static FileStat Of(SafeFileHandle handle) => Call((int)handle.DangerousGetHandle(), "", LibC.AT_EMPTY_PATH);

    /// <summary>The fields that change when content does, as a line for a record file.</summary>
    public string Fingerprint(bool withCtime) => withCtime
        ? $"{Dev}:{Ino}:{Size}:{MtimeNs}:{CtimeNs}:{Convert.ToString(Mode, 8)}"
        : $"{Dev}:{Ino}:{Size}:{MtimeNs}:{Convert.ToString(Mode, 8)}";

    private static unsafe FileStat Call(int dirfd, string path, int flags)
    {
        statx s;
        int rc;
        fixed (byte* p = CString(path))
        {
            rc = LibC.statx(dirfd, p, flags, LibC.STATX_BASIC_STATS, &s);
        }
        if (rc != 0)
        {
            var errno = LibC.errno;
            if (errno == LibC.ENOENT || errno == LibC.ENOTDIR || errno == LibC.ELOOP) // nothing there to stat, or a symlink loop on the way
            {
                return default;
            }
            throw new SandboxException(ErrorCodes.Io, $"stat {path}: {Describe(errno)}", "check the path and its permissions");
        }
        var type = s.stx_mode & LibC.S_IFMT;
        var kind = type == LibC.S_IFREG ? FileKind.Regular
            : type == LibC.S_IFDIR ? FileKind.Directory
            : type == LibC.S_IFLNK ? FileKind.Symlink
            : FileKind.Other;
        return new FileStat(kind, s.stx_mode, ((ulong)s.stx_dev_major << 32) | s.stx_dev_minor, s.stx_ino, (long)s.stx_size,
            s.stx_mtime.tv_sec * 1_000_000_000 + s.stx_mtime.tv_nsec, s.stx_ctime.tv_sec * 1_000_000_000 + s.stx_ctime.tv_nsec, s.stx_nlink);
    }

    public uint Permissions => Mode & 0xfffu;

    /// <summary>How an input that is none of file, directory and symlink is named in errors.</summary>
    public string KindName => ((mode_t)(ushort)Mode & LibC.S_IFMT) switch
    {
        var t when t == LibC.S_IFIFO => "a FIFO",
        var t when t == LibC.S_IFSOCK => "a socket",
        var t when t == LibC.S_IFCHR => "a character device",
        var t when t == LibC.S_IFBLK => "a block device",
        var t when t == LibC.S_IFDIR => "a directory",
        var t when t == LibC.S_IFLNK => "a symlink",
        var t when t == LibC.S_IFREG => "a regular file",
        _ => "missing",
    };
}
