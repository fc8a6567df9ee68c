using System.Text;
using Sandbox.Runtime.Interop;

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
            fd = Libc.Open(b, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        }
        if (fd < 0)
        {
            errno = Libc.Errno;
            return null;
        }
        try
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
                    n = Libc.Read(fd, b + len, buf.Length - len);
                }
                if (n < 0 && Libc.Errno == Libc.EINTR)
                {
                    continue;
                }
                if (n < 0)
                {
                    errno = Libc.Errno;
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
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Writes the bytes with one write(2) (as /proc files need); returns 0 or the errno.</summary>
    public static int Write(string path, ReadOnlySpan<byte> bytes, bool create)
    {
        var p = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* b = p)
        {
            fd = Libc.Open(b, Libc.O_WRONLY | Libc.O_CLOEXEC | (create ? Libc.O_CREAT | Libc.O_TRUNC : 0), 0x1a4);
        }
        if (fd < 0)
        {
            return Libc.Errno;
        }
        var err = 0;
        fixed (byte* b = bytes)
        {
            var done = 0;
            while (done < bytes.Length)
            {
                var n = Libc.Write(fd, b + done, bytes.Length - done);
                if (n < 0 && Libc.Errno == Libc.EINTR)
                {
                    continue;
                }
                if (n <= 0)
                {
                    err = n < 0 ? Libc.Errno : Libc.EIO;
                    break;
                }
                done += (int)n;
            }
        }
        if (Libc.Close(fd) != 0 && err == 0)
        {
            err = Libc.Errno;
        }
        return err;
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
