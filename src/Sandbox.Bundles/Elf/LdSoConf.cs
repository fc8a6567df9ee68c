namespace Sandbox.Bundles.Elf;

/// <summary>
/// The directories the dynamic loader searches, as ld.so.conf (with its `include` globs) and the built-in
/// defaults give them. Reads from a root directory so tests can feed a fixture tree.
/// </summary>
internal static class LdSoConf
{
    public static IReadOnlyList<string> SearchDirectories(string root, ushort machine)
    {
        var dirs = new List<string>();
        Read(root, "/etc/ld.so.conf", dirs, depth: 0);
        var triplet = machine == ElfFile.MachineAarch64 ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        // The loader's built-in trusted directories come last, multiarch first as Debian builds it.
        foreach (var d in new[] { $"/lib/{triplet}", $"/usr/lib/{triplet}", "/lib64", "/usr/lib64", "/lib", "/usr/lib" })
        {
            dirs.Add(d);
        }
        return dirs.Distinct(StringComparer.Ordinal).ToList();
    }

    private static void Read(string root, string file, List<string> dirs, int depth)
    {
        var path = Path.Join(root, file);
        if (depth > 8 || !File.Exists(path))
        {
            return;
        }
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Split('#', 2)[0].Trim();
            if (line.Length == 0)
            {
                continue;
            }
            if (line.StartsWith("include ", StringComparison.Ordinal) || line.StartsWith("include\t", StringComparison.Ordinal))
            {
                foreach (var pattern in line[8..].Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries))
                {
                    var abs = pattern.StartsWith('/') ? pattern : Path.Join(Path.GetDirectoryName(file), pattern);
                    foreach (var included in Glob(root, abs))
                    {
                        Read(root, included, dirs, depth + 1);
                    }
                }
                continue;
            }
            if (line.StartsWith("hwcap ", StringComparison.Ordinal))
            {
                continue;
            }
            foreach (var d in line.Split([' ', '\t', ',', ':'], StringSplitOptions.RemoveEmptyEntries))
            {
                if (d.StartsWith('/'))
                {
                    dirs.Add(d.TrimEnd('/'));
                }
            }
        }
    }

    /// <summary>Expands a glob whose wildcards are in the last component only (all ld.so.conf uses).</summary>
    private static IEnumerable<string> Glob(string root, string pattern)
    {
        var dir = Path.GetDirectoryName(pattern) ?? "/";
        var name = Path.GetFileName(pattern);
        var hostDir = Path.Join(root, dir);
        if (!Directory.Exists(hostDir))
        {
            return [];
        }
        return Directory.GetFiles(hostDir, name).Select(f => Path.Join(dir, Path.GetFileName(f))).Order(StringComparer.Ordinal);
    }
}
