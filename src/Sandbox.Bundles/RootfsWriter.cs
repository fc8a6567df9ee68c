using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
using static Sandbox.Bundles.Interop.Libc;

namespace Sandbox.Bundles;

/// <summary>
/// Writes a rootfs through a descriptor of its top directory. Every parent is resolved by openat2 beneath that
/// descriptor with RESOLVE_NO_SYMLINKS, and the last component is created with *at calls that do not follow it,
/// so a symlink the bundle holds (copied from a source tree, pointing anywhere) is never written through, whatever
/// the plan says. <see cref="LayerStack"/> refuses such plans first, with an error that names the spec's entries.
/// </summary>
internal sealed unsafe class RootfsWriter : IDisposable
{
    private static ulong Beneath => LibC.RESOLVE_BENEATH | LibC.RESOLVE_NO_SYMLINKS | LibC.RESOLVE_NO_MAGICLINKS;
    private readonly SafeFileHandle _root;

    public RootfsWriter(string rootfs)
    {
        _root = Check(Openat(LibC.AT_FDCWD, rootfs, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0), "open", rootfs);
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
            int rc;
            fixed (byte* n = CString(name))
            {
                rc = LibC.mkdirat(Fd(parent), n, 0x1c0);
            }
            if (rc != 0 && LibC.errno != LibC.EEXIST)
            {
                Fail(LibC.errno, "mkdir", path);
            }
            var fd = OpenBeneath(Fd(parent), name, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC);
            if (fd < 0)
            {
                // A symlink there fails with ENOTDIR or ELOOP depending on the flags' order of checks: name it as one.
                var errno = LibC.errno;
                Fail(FileStat.At(Fd(parent), name).Kind == FileKind.Symlink ? LibC.ELOOP : errno, "open", path);
            }
            using var dir = new SafeFileHandle(fd, ownsHandle: true);
            if (LibC.fchmod(Fd(dir), (ushort)mode) != 0)
            {
                Fail(LibC.errno, "chmod", path);
            }
        }
    }

    public void Symlink(string path, string target)
    {
        var (parent, name) = OpenParent(path);
        using (parent)
        {
            int rc;
            fixed (byte* t = CString(target), n = CString(name))
            {
                rc = LibC.symlinkat(t, Fd(parent), n);
            }
            if (rc != 0)
            {
                Fail(LibC.errno, "symlink", path);
            }
        }
    }

    /// <summary>A hardlink to <paramref name="blob"/>; false when the cache is on another filesystem.</summary>
    public bool TryLink(string path, string blob)
    {
        var (parent, name) = OpenParent(path);
        using (parent)
        {
            int rc;
            fixed (byte* b = CString(blob), n = CString(name))
            {
                rc = LibC.linkat(LibC.AT_FDCWD, b, Fd(parent), n, 0);
            }
            if (rc == 0)
            {
                return true;
            }
            var errno = LibC.errno;
            if (errno == LibC.EXDEV || errno == LibC.EPERM)
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
            using var source = Check(Openat(LibC.AT_FDCWD, blob, LibC.O_RDONLY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0), "open", blob);
            using var target = Check(Openat(Fd(parent), name, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0x180), "create", path);
            if (LibC.fchmod(Fd(target), (ushort)mode) != 0)
            {
                Fail(LibC.errno, "chmod", path);
            }
            if (LibC.ioctl(Fd(target), FICLONE, Fd(source)) != 0)
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
        var parent = Check(OpenBeneath(Fd(_root), parentRel, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC), "open the parent of", path);
        return (parent, rel[(slash + 1)..]);
    }

    private static int Openat(int dirfd, string path, int flags, ushort mode)
    {
        fixed (byte* p = CString(path))
        {
            return LibC.openat(dirfd, p, flags, mode);
        }
    }

    /// <summary>openat2 with <see cref="Beneath"/>: no symlink followed, nothing outside <paramref name="dirfd"/>.</summary>
    private static int OpenBeneath(int dirfd, string path, int flags)
    {
        var how = new open_how { flags = (ulong)flags, resolve = Beneath };
        fixed (byte* p = CString(path))
        {
            return LibC.openat2(dirfd, p, &how, sizeof(open_how));
        }
    }

    private static int Fd(SafeFileHandle h) => (int)h.DangerousGetHandle();

    private static SafeFileHandle Check(int fd, string what, string path)
    {
        if (fd < 0)
        {
            Fail(LibC.errno, what, path);
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private static void Fail(int errno, string what, string path) => throw errno switch
    {
        var e when e == LibC.ELOOP => new SandboxException(ErrorCodes.BuildThroughSymlink,
            $"{what} {path}: a symlink in the bundle lies on the way, and the builder never writes through one",
            "make that path a directory in the source tree, or leave out what the bundle puts under it"),
        var e when e == LibC.ENOTDIR || e == LibC.EEXIST => new SandboxException(ErrorCodes.BuildPathConflict,
            $"{what} {path}: something else is already there in the bundle",
            "two sources give this path; keep one"),
        _ => new SandboxException(ErrorCodes.Io, $"{what} {path}: {Describe(errno)}", "check the output and cache directories' permissions and free space"),
    };
}
