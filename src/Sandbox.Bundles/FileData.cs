using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
using static Sandbox.Bundles.Interop.Libc;

namespace Sandbox.Bundles;

/// <summary>Copies bytes between descriptors: in the kernel where it can, through a buffer where it cannot.</summary>
internal static class FileData
{
    /// <summary>Copies at most <paramref name="max"/> bytes from the source's offset to the target's; returns how many.</summary>
    public static long Copy(SafeFileHandle from, SafeFileHandle to, long max, string what)
    {
        long total = 0;
        while (total < max)
        {
            var n = CopyFileRange((int)from.DangerousGetHandle(), 0, (int)to.DangerousGetHandle(), 0, (nuint)Math.Min(max - total, 1L << 30), 0);
            if (n > 0)
            {
                total += n;
                continue;
            }
            if (n == 0)
            {
                return total;
            }
            var errno = LibC.errno;
            if (errno == LibC.EINTR)
            {
                continue;
            }
            if (total == 0 && (errno == LibC.EXDEV || errno == LibC.EINVAL || errno == LibC.ENOSYS || errno == LibC.EOPNOTSUPP || errno == LibC.EPERM))
            {
                return Buffered(from, to, max); // not between these files or filesystems: nothing was copied yet
            }
            throw new SandboxException(ErrorCodes.Io, $"copy {what}: {Describe(errno)}", "check free space and permissions");
        }
        return total;
    }

    private static long Buffered(SafeFileHandle from, SafeFileHandle to, long max)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(256 << 10);
        try
        {
            long total = 0;
            int n;
            while (total < max && (n = RandomAccess.Read(from, buffer.AsSpan(0, (int)Math.Min(buffer.Length, max - total)), total)) > 0)
            {
                RandomAccess.Write(to, buffer.AsSpan(0, n), total);
                total += n;
            }
            return total;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
