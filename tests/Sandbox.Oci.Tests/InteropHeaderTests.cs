using System.Runtime.InteropServices;
using Sandbox.Oci.Interop;
using static Sandbox.Oci.Interop.Libc;

namespace Sandbox.Oci.Tests;

/// <summary>The constants and the struct statx layout of Interop/, checked against the C headers.</summary>
public class InteropHeaderTests
{
    [Fact]
    public void Constants_and_statx_match_the_headers()
    {
        var ours = new Dictionary<string, long>
        {
            ["O_RDONLY"] = O_RDONLY, ["O_NOCTTY"] = O_NOCTTY, ["O_NONBLOCK"] = O_NONBLOCK, ["O_CLOEXEC"] = O_CLOEXEC,
            ["AT_FDCWD"] = AT_FDCWD, ["AT_EMPTY_PATH"] = AT_EMPTY_PATH, ["STATX_TYPE"] = STATX_TYPE, ["STATX_SIZE"] = STATX_SIZE,
            ["S_IFMT"] = S_IFMT, ["S_IFREG"] = S_IFREG, ["S_IFDIR"] = S_IFDIR, ["S_IFCHR"] = S_IFCHR, ["S_IFBLK"] = S_IFBLK,
            ["S_IFIFO"] = S_IFIFO, ["S_IFSOCK"] = S_IFSOCK, ["EINTR"] = EINTR, ["EINVAL"] = EINVAL,
            ["sizeof(struct statx)"] = Marshal.SizeOf<StatxBuffer>(),
            ["offsetof(struct statx, stx_mask)"] = (long)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Mask)),
            ["offsetof(struct statx, stx_mode)"] = (long)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Mode)),
            ["offsetof(struct statx, stx_size)"] = (long)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Size)),
        };
        var lines = CProgram.Output("#define _GNU_SOURCE\n#include <fcntl.h>\n#include <errno.h>\n#include <stddef.h>\n#include <stdio.h>\n#include <sys/stat.h>",
            ours.Keys.Select(k => $"  printf(\"%s=%lld\\n\", \"{k}\", (long long)({k}));"));
        var theirs = lines.Select(l => l.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(ours.OrderBy(p => p.Key), theirs.OrderBy(p => p.Key));
    }
}
