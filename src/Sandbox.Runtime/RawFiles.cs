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

    /// <summary>What is left to read on <paramref name="fd"/> (a pipe, a terminal, a file), or null with the errno.</summary>
    public static byte[]? ReadAll(int fd, out int errno)
    {
        var buf = new byte[4096];
        var len = 0;
        while (true)
        {
            if (len == buf.Length)
            {
                Array.Resize(ref buf, buf.Length * 2);
            }
            nint n;
            fixed (byte* b = buf)
            {
                n = (nint)LibC.read(fd, b + len, buf.Length - len);
            }
            if (n < 0 && LibC.errno == LibC.EINTR)
            {
                continue;
            }
            if (n < 0)
            {
                errno = LibC.errno;
                return null;
            }
            if (n == 0)
            {
                errno = 0;
                return buf.AsSpan(0, len).ToArray();
            }
            len += (int)n;
        }
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

    /// <summary>Write to a temporary name, then rename: readers see the old file or the new one, never half.</summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
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
                err = Libc.Rename(f, t) == 0 ? 0 : Libc.Errno;
            }
        }
        if (err != 0)
        {
            throw new SandboxException(ErrorCodes.Io, $"write {path}: {Libc.Describe(err)}", "check that the state directory (--root) is writable");
        }
    }
}
