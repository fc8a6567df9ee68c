using System.Text;
using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>
/// Whole-file reads and writes with plain open/read/write. On the start-up path of `sandbox run` these are
/// several times cheaper than FileStream's first use, and /proc files want single reads and writes anyway.
/// </summary>
internal static unsafe class RawFiles
{
    /// <summary>The file's bytes, or null with the errno when it cannot be read.</summary>
    public static byte[]? Read(string path, out int errno)
    {
        var p = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* b = p)
        {
            fd = LibC.open(b, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        }
        if (fd < 0)
        {
            errno = LibC.errno;
            return null;
        }
        try
        {
            return ReadAll(fd, out errno);
        }
        finally
        {
            LibC.close(fd);
        }
    }

    /// <summary>
    /// A small file's text (cgroup and /proc files of a few hundred bytes, /proc/self/mountinfo of one or two
    /// kilobytes), or null when it cannot be read: the name and the first 4 KiB go through the stack, so such a read
    /// allocates only its string. A run's teardown reads a dozen such files, and each 4 KiB buffer of <see cref="Read"/>
    /// was fresh memory the GC cleared and the kernel faulted in (mountinfo, over the first kilobyte, took three arrays).
    /// </summary>
    public static string? ReadText(string path)
    {
        const int Small = 4096;
        if (Encoding.UTF8.GetMaxByteCount(path.Length) >= 512)
        {
            return Read(path, out _) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;
        }
        Span<byte> name = stackalloc byte[512];
        name[Encoding.UTF8.GetBytes(path, name)] = 0;
        int fd;
        fixed (byte* n = name)
        {
            fd = LibC.open(n, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        }
        if (fd < 0)
        {
            return null;
        }
        try
        {
            var buf = stackalloc byte[Small];
            var len = 0;
            while (len < Small)
            {
                var got = ReadSome(fd, buf + len, Small - len, out _);
                if (got < 0)
                {
                    return null;
                }
                if (got == 0)
                {
                    return Encoding.UTF8.GetString(buf, len);
                }
                len += (int)got;
            }
            // Larger than the stack's share: the rest from the heap.
            var rest = ReadAll(fd, out _);
            if (rest is null)
            {
                return null;
            }
            var all = new byte[len + rest.Length];
            new ReadOnlySpan<byte>(buf, len).CopyTo(all);
            rest.CopyTo(all, len);
            return Encoding.UTF8.GetString(all);
        }
        finally
        {
            LibC.close(fd);
        }
    }

    /// <summary>
    /// What is left to read on <paramref name="fd"/> (a pipe, a terminal, a file), or null with the errno.
    /// <paramref name="expected"/>, a file's size from fstat, sizes the buffer: a file of that size is read into one array
    /// of its length, not grown 4 KiB at a time and copied (an 11 KiB compiled filter took four arrays).
    /// </summary>
    public static byte[]? ReadAll(int fd, out int errno, int expected = 0)
    {
        var buf = new byte[expected > 0 ? expected : 4096];
        var len = 0;
        while (true)
        {
            if (len == buf.Length)
            {
                // Full: the end of the file (a file of the expected size), or grow.
                byte more;
                var m = ReadSome(fd, &more, 1, out errno);
                if (m <= 0)
                {
                    return m < 0 ? null : buf;
                }
                Array.Resize(ref buf, Math.Max(buf.Length * 2, 4096));
                buf[len++] = more;
            }
            nint n;
            fixed (byte* b = buf)
            {
                n = ReadSome(fd, b + len, buf.Length - len, out errno);
            }
            if (n < 0)
            {
                return null;
            }
            if (n == 0)
            {
                return len == buf.Length ? buf : buf.AsSpan(0, len).ToArray();
            }
            len += (int)n;
        }
    }

    /// <summary>read(2) again after EINTR: the count, 0 at the end, or -1 with the errno.</summary>
    private static nint ReadSome(int fd, byte* into, int count, out int errno)
    {
        nint n;
        while ((n = (nint)LibC.read(fd, into, count)) < 0 && LibC.errno == LibC.EINTR)
        {
        }
        errno = n < 0 ? LibC.errno : 0;
        return n;
    }

    /// <summary>Writes the bytes with one write(2) (as /proc files need); returns 0 or the errno.</summary>
    public static int Write(string path, ReadOnlySpan<byte> bytes, bool create)
    {
        var p = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* b = p)
        {
            fd = LibC.open(b, LibC.O_WRONLY | LibC.O_CLOEXEC | (create ? LibC.O_CREAT | LibC.O_TRUNC : 0), 0x1a4);
        }
        if (fd < 0)
        {
            return LibC.errno;
        }
        var err = WriteAll(fd, bytes);
        if (LibC.close(fd) != 0 && err == 0)
        {
            err = LibC.errno;
        }
        return err;
    }

    /// <summary>Writes all of <paramref name="bytes"/> to <paramref name="fd"/> (retrying short writes); returns 0 or the errno.</summary>
    public static int WriteAll(int fd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* b = bytes)
        {
            var done = 0;
            while (done < bytes.Length)
            {
                var n = (nint)LibC.write(fd, b + done, bytes.Length - done);
                if (n < 0 && LibC.errno == LibC.EINTR)
                {
                    continue;
                }
                if (n <= 0)
                {
                    return n < 0 ? LibC.errno : LibC.EIO;
                }
                done += (int)n;
            }
        }
        return 0;
    }

    public static int Write(string path, string text, bool create) => Write(path, Encoding.UTF8.GetBytes(text), create);

    /// <summary>
    /// Write to a temporary name, then rename: readers see the old file or the new one, never half. An existing file
    /// is exchanged with the new one (renameat2 RENAME_EXCHANGE) and the old one unlinked under the temporary name:
    /// ext4 writes the data of a file renamed over another out at once (its auto_da_alloc), which made each rewrite of
    /// a container's state file cost about 0.1 ms more than a new file's (measured on ext4 with a 700-byte file:
    /// 120 µs a rename over the old one, 22 µs the exchange and unlink). Only with <paramref name="exchange"/>, for the
    /// files of this program's own directories: an exchange would as readily swap a directory in as a file, where a
    /// rename fails. Where there is no file yet, or the file system cannot exchange, a plain rename.
    /// </summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes, bool exchange = false)
    {
        var tmp = path + ".tmp";
        var err = Write(tmp, bytes, create: true);
        if (err == 0)
        {
            var from = Encoding.UTF8.GetBytes(tmp + "\0");
            var to = Encoding.UTF8.GetBytes(path + "\0");
            fixed (byte* f = from)
            fixed (byte* t = to)
            {
                if (exchange && Libc.Renameat2(Libc.AT_FDCWD, f, Libc.AT_FDCWD, t, Libc.RENAME_EXCHANGE) == 0)
                {
                    LibC.unlink(f);
                }
                else
                {
                    err = Libc.Rename(f, t) == 0 ? 0 : Libc.Errno;
                }
            }
        }
        if (err != 0)
        {
            throw new SandboxException(ErrorCodes.Io, $"write {path}: {Libc.Describe(err)}", "check that the state directory (--root) is writable");
        }
    }
}
