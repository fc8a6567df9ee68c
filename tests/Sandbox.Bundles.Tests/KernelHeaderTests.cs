using System.Globalization;
using static Sandbox.Bundles.Interop.Libc;


namespace Sandbox.Bundles.Tests;

/// <summary>The constants declared by hand in Sandbox.Bundles' Interop/ (what Tmds.LibC lacks), checked against the C headers.</summary>
public class KernelHeaderTests
{
    private static Dictionary<string, ulong> Ours() => new()
    {
        ["RENAME_NOREPLACE"] = RENAME_NOREPLACE, ["RENAME_EXCHANGE"] = RENAME_EXCHANGE, ["FICLONE"] = FICLONE,
        ["LOCK_SH"] = LOCK_SH, ["LOCK_EX"] = LOCK_EX, ["LOCK_UN"] = LOCK_UN,
    };

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
        CProgram.Values(["stdio.h", "fcntl.h", "sys/file.h", "sys/ioctl.h", "linux/fs.h"], names);
}
