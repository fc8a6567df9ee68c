using Microsoft.Win32.SafeHandles;
using static Sandbox.Bundles.Interop.Libc;

namespace Sandbox.Bundles;

/// <summary>
/// Writes a rootfs through a descriptor of its top directory. Every parent is resolved by openat2 beneath that
/// descriptor with RESOLVE_NO_SYMLINKS, and the last component is created with *at calls that do not follow it,
/// so a symlink the bundle holds (copied from a source tree, pointing anywhere) is never written through, whatever
/// the plan says. <see cref="LayerStack"/> refuses such plans first, with an error that names the spec's entries.
/// </summary>
internal sealed class RootfsWriter : IDisposable
{
    private const ulong Beneath = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    private readonly SafeFileHandle _root;

    public RootfsWriter(string rootfs)
    {
        _root = Check(Openat(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0), "open", rootfs);
    }

    public void Dispose() => _root.Dispose();

    public void Directory(string path, uint mode)
    {
        if (path.Trim('/').Length == 0)
        {
            return; // the rootfs itself: its mode is the builder's
        }
        var (parent, name) = OpenParent(path);
        using (parent)
        {
            if (Mkdirat(Fd(parent), name, 0x1c0) != 0 && LastError != EEXIST)
            {
                Fail(LastError, "mkdir", path);
            }
            var fd = Openat2(Fd(parent), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, Beneath);
            if (fd < 0)
            {
                // A symlink there fails with ENOTDIR or ELOOP depending on the flags' order of checks: name it as one.
                var errno = LastError;
                Fail(FileStat.At(Fd(parent), name).Kind == FileKind.Symlink ? ELOOP : errno, "open", path);
            }
            using var dir = new SafeFileHandle(fd, ownsHandle: true);
            if (Fchmod(Fd(dir), mode) != 0)
            {
                Fail(LastError, "chmod", path);
            }
        }
    }

    public void Symlink(string path, string target)
    {
        var (parent, name) = OpenParent(path);
        using (parent)
        {
            if (Symlinkat(target, Fd(parent), name) != 0)
            {
                Fail(LastError, "symlink", path);
            }
        }
    }

    /// <summary>A hardlink to <paramref name="blob"/>; false when the cache is on another filesystem.</summary>
    public bool TryLink(string path, string blob)
    {
        var (parent, name) = OpenParent(path);
        using (parent)
        {
            if (Linkat(AT_FDCWD, blob, Fd(parent), name, 0) == 0)
            {
                return true;
            }
            var errno = LastError;
            if (errno is EXDEV or EPERM)
            {
                return false; // EPERM: protected_hardlinks refuses linking a file this user does not own
            }
            Fail(errno, "link", path);
            return false;
        }
    }

    /// <summary>A copy of <paramref name="blob"/> that shares no inode with it: a reflink where supported, else bytes.</summary>
    public void Copy(string path, string blob, uint mode)
    {
        var (parent, name) = OpenParent(path);
        using (parent)
        {
            using var source = Check(Openat(AT_FDCWD, blob, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0), "open", blob);
            using var target = Check(Openat(Fd(parent), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0x180), "create", path);
            if (Fchmod(Fd(target), mode) != 0)
            {
                Fail(LastError, "chmod", path);
            }
            if (Ioctl(Fd(target), FICLONE, Fd(source)) != 0)
            {
                FileData.Copy(source, target, long.MaxValue, path);
            }
        }
    }

    /// <summary>The parent directory of <paramref name="path"/> (a handle the caller disposes) and the last name.</summary>
    private (SafeFileHandle Parent, string Name) OpenParent(string path)
    {
        var rel = path.Trim('/');
        var slash = rel.LastIndexOf('/');
        var parentRel = slash < 0 ? "." : rel[..slash];
        var parent = Check(Openat2(Fd(_root), parentRel, O_PATH | O_DIRECTORY | O_CLOEXEC, Beneath), "open the parent of", path);
        return (parent, rel[(slash + 1)..]);
    }

    private static int Fd(SafeFileHandle h) => (int)h.DangerousGetHandle();

    private static SafeFileHandle Check(int fd, string what, string path)
    {
        if (fd < 0)
        {
            Fail(LastError, what, path);
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private static void Fail(int errno, string what, string path) => throw errno switch
    {
        ELOOP => new SandboxException(ErrorCodes.BuildThroughSymlink,
            $"{what} {path}: a symlink in the bundle lies on the way, and the builder never writes through one",
            "make that path a directory in the source tree, or leave out what the bundle puts under it"),
        ENOTDIR or EEXIST => new SandboxException(ErrorCodes.BuildPathConflict,
            $"{what} {path}: something else is already there in the bundle",
            "two sources give this path; keep one"),
        _ => new SandboxException(ErrorCodes.Io, $"{what} {path}: {Describe(errno)}", "check the output and cache directories' permissions and free space"),
    };
}
