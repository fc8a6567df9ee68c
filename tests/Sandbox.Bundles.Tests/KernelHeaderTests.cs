using System.Globalization;
using System.Runtime.InteropServices;
using static Sandbox.Bundles.Interop.Libc;


namespace Sandbox.Bundles.Tests;

/// <summary>The constants and struct layouts declared by hand in Sandbox.Bundles' Interop/, checked against the C headers.</summary>
public class KernelHeaderTests
{
    private static Dictionary<string, ulong> Ours() => new()
    {
        ["O_RDONLY"] = O_RDONLY, ["O_WRONLY"] = O_WRONLY, ["O_CREAT"] = O_CREAT, ["O_EXCL"] = O_EXCL, ["O_NONBLOCK"] = O_NONBLOCK,
        ["O_DIRECTORY"] = (ulong)O_DIRECTORY, ["O_NOFOLLOW"] = (ulong)O_NOFOLLOW, ["O_CLOEXEC"] = O_CLOEXEC, ["O_PATH"] = O_PATH,
        ["AT_FDCWD"] = unchecked((ulong)AT_FDCWD), ["AT_SYMLINK_NOFOLLOW"] = AT_SYMLINK_NOFOLLOW, ["AT_EMPTY_PATH"] = AT_EMPTY_PATH,
        ["RESOLVE_NO_MAGICLINKS"] = RESOLVE_NO_MAGICLINKS, ["RESOLVE_NO_SYMLINKS"] = RESOLVE_NO_SYMLINKS, ["RESOLVE_BENEATH"] = RESOLVE_BENEATH,
        ["SYS_openat2"] = SYS_openat2, ["sizeof(struct open_how)"] = (ulong)Marshal.SizeOf<OpenHow>(),
        ["RENAME_NOREPLACE"] = RENAME_NOREPLACE, ["RENAME_EXCHANGE"] = RENAME_EXCHANGE,
        ["STATX_BASIC_STATS"] = STATX_BASIC_STATS, ["sizeof(struct statx)"] = (ulong)Marshal.SizeOf<Statx>(),
        ["offsetof(struct statx, stx_mask)"] = Offset(nameof(Statx.Mask)), ["offsetof(struct statx, stx_nlink)"] = Offset(nameof(Statx.Nlink)),
        ["offsetof(struct statx, stx_mode)"] = Offset(nameof(Statx.Mode)), ["offsetof(struct statx, stx_ino)"] = Offset(nameof(Statx.Ino)),
        ["offsetof(struct statx, stx_size)"] = Offset(nameof(Statx.Size)), ["offsetof(struct statx, stx_ctime.tv_sec)"] = Offset(nameof(Statx.CtimeSec)),
        ["offsetof(struct statx, stx_ctime.tv_nsec)"] = Offset(nameof(Statx.CtimeNsec)), ["offsetof(struct statx, stx_mtime.tv_sec)"] = Offset(nameof(Statx.MtimeSec)),
        ["offsetof(struct statx, stx_mtime.tv_nsec)"] = Offset(nameof(Statx.MtimeNsec)), ["offsetof(struct statx, stx_dev_major)"] = Offset(nameof(Statx.DevMajor)),
        ["offsetof(struct statx, stx_dev_minor)"] = Offset(nameof(Statx.DevMinor)),
        ["S_IFMT"] = S_IFMT, ["S_IFDIR"] = S_IFDIR, ["S_IFCHR"] = S_IFCHR, ["S_IFBLK"] = S_IFBLK, ["S_IFREG"] = S_IFREG,
        ["S_IFIFO"] = S_IFIFO, ["S_IFLNK"] = S_IFLNK, ["S_IFSOCK"] = S_IFSOCK, ["FICLONE"] = FICLONE,
        ["LOCK_SH"] = LOCK_SH, ["LOCK_EX"] = LOCK_EX, ["LOCK_UN"] = LOCK_UN,
        ["EPERM"] = EPERM, ["ENOENT"] = ENOENT, ["EINTR"] = EINTR, ["EXDEV"] = EXDEV, ["EEXIST"] = EEXIST, ["ENOTDIR"] = ENOTDIR,
        ["EINVAL"] = EINVAL, ["ENOSYS"] = ENOSYS, ["ENOTEMPTY"] = ENOTEMPTY, ["ELOOP"] = ELOOP, ["EOPNOTSUPP"] = EOPNOTSUPP,
    };

    private static ulong Offset(string field) => (ulong)Marshal.OffsetOf<Statx>(field);

    [Fact]
    public void Constants_and_layouts_match_the_c_headers()
    {
        var header = CompileAndRun(Ours().Keys);
        var mismatches = Ours()
            .Where(kv => !header.TryGetValue(kv.Key, out var v) || v != kv.Value.ToString(CultureInfo.InvariantCulture))
            .Select(kv => $"{kv.Key}: ours {kv.Value}, header {header.GetValueOrDefault(kv.Key, "missing")}")
            .ToList();
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    private static Dictionary<string, string> CompileAndRun(IEnumerable<string> names) =>
        CProgram.Values(["stdio.h", "stddef.h", "errno.h", "fcntl.h", "sys/stat.h", "sys/file.h", "sys/ioctl.h", "sys/syscall.h", "linux/fs.h", "linux/openat2.h"], names);
}
