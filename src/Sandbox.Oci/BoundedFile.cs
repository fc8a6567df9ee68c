using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Sandbox.Oci;

/// <summary>
/// Reads an input file (config.json, a seccomp profile, sandbox.yaml) whole, if it is a regular file no larger than a
/// limit. A path naming /dev/zero would otherwise be read until memory runs out, and a FIFO would block open(2)
/// forever; both are refused with <see cref="ErrorCodes.InputNotRegular"/>.
/// </summary>
public static unsafe class BoundedFile
{
    /// <summary>The most an input file may hold: far above any real config.json, profile or sandbox.yaml (tens of KiB).</summary>
    public const int DefaultLimit = 4 * 1024 * 1024;

    /// <summary>
    /// The file's bytes (symlinks followed), or null with the errno when it cannot be opened or read. Throws
    /// SandboxException when it is not a regular file or holds more than <paramref name="limit"/> bytes.
    /// </summary>
    public static byte[]? Read(string path, out int errno, int limit = DefaultLimit)
    {
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            errno = EINVAL;
            return null;
        }
        var p = Encoding.UTF8.GetBytes(path + "\0");
        statx st;
        // Checked twice. By path first, so that a device is refused without being opened (opening one runs its
        // driver: a watchdog starts counting, a tape rewinds). Then on the descriptor itself, because the path may be
        // swapped for something else in between; O_NONBLOCK makes that open return at once even for a FIFO, which a
        // plain open(2) would wait on for a writer forever. O_NOCTTY keeps a terminal from becoming ours.
        fixed (byte* b = p)
        {
            if (statx(AT_FDCWD, b, 0, STATX_TYPE | STATX_SIZE, &st) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                return null;
            }
            CheckKind(path, st, limit);
            var fd = open(b, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
            if (fd < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                return null;
            }
            try
            {
                byte empty = 0;
                if (statx(fd, &empty, AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, &st) != 0)
                {
                    errno = Marshal.GetLastPInvokeError();
                    return null;
                }
                CheckKind(path, st, limit);
                return ReadAll(fd, path, (int)st.stx_size, limit, out errno);
            }
            finally
            {
                close(fd);
            }
        }
    }

    /// <summary>
    /// What the path (symlinks followed) is when it is not a regular file ("a character device", "a FIFO"), without
    /// opening it; null for a regular file or a path that cannot be looked at (its reader reports that).
    /// </summary>
    public static string? NotRegular(string path)
    {
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            return null;
        }
        statx st;
        fixed (byte* b = Encoding.UTF8.GetBytes(path + "\0"))
        {
            return statx(AT_FDCWD, b, 0, STATX_TYPE, &st) != 0 ? null : Kind(st);
        }
    }

    // Tmds.LibC's constants are properties, not case labels.
    private static string? Kind(statx st) => (st.stx_mode & S_IFMT) switch
    {
        var t when t == S_IFREG => null,
        var t when t == S_IFDIR => "a directory",
        var t when t == S_IFCHR => "a character device",
        var t when t == S_IFBLK => "a block device",
        var t when t == S_IFIFO => "a FIFO",
        var t when t == S_IFSOCK => "a socket",
        _ => "not a file",
    };

    /// <summary>What the errno says, for messages: "No such file or directory".</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    private static void CheckKind(string path, statx st, int limit)
    {
        if (Kind(st) is { } kind)
        {
            throw new SandboxException(ErrorCodes.InputNotRegular, $"{path}: is {kind}, not a regular file",
                "give the path of a regular file; a device or FIFO has no end or blocks the reader");
        }
        if (st.stx_size > (ulong)limit)
        {
            throw TooLarge(path, limit);
        }
    }

    private static byte[]? ReadAll(int fd, string path, int sizeHint, int limit, out int errno)
    {
        // One byte more than the limit is asked for, so that a file that grew since statx is still caught.
        var buf = new byte[Math.Min(Math.Max(sizeHint, 4096), limit) + 1];
        var len = 0;
        while (true)
        {
            if (len == buf.Length)
            {
                Array.Resize(ref buf, Math.Min(buf.Length * 2, limit + 1));
            }
            nint n;
            fixed (byte* b = buf)
            {
                n = (nint)read(fd, b + len, buf.Length - len);
            }
            if (n < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }
                return null;
            }
            if (n == 0)
            {
                errno = 0;
                return len == buf.Length ? buf : buf.AsSpan(0, len).ToArray();
            }
            len += (int)n;
            if (len > limit)
            {
                throw TooLarge(path, limit);
            }
        }
    }

    private static SandboxException TooLarge(string path, int limit) =>
        new(ErrorCodes.InputNotRegular, $"{path}: holds more than {limit / (1024 * 1024)} MiB, the most an input file may have",
            "check the path: no config.json, seccomp profile or sandbox.yaml is that large");
}
