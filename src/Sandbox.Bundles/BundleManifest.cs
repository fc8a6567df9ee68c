namespace Sandbox.Bundles;

/// <summary>
/// What a bundle's rootfs looked like when it was built, so that reusing it is safe: a file hardlinked to a blob
/// must still be that blob's inode (a blob found changed is replaced, and the bundle with it); every other path
/// (directories, symlinks, copied files of a writable root) must have the stat it had, ctime included, which no
/// write, chmod, rename or new entry leaves unchanged. A container that wrote its writable root therefore gets a
/// fresh bundle on the next build instead of its own leftovers. Lines follow the plan's paths in ordinal order
/// (the root first), so no path, whatever characters it holds, is written into the file.
/// </summary>
internal static class BundleManifest
{
    public const string FileName = "rootfs.manifest";

    /// <summary>`L dev:ino` for a file hardlinked to its blob, `S fingerprint` for anything else.</summary>
    public static void Write(string bundleDir, IReadOnlyDictionary<string, LayerEntry> entries, ContentStore store)
    {
        var lines = Paths(bundleDir, entries).Select(p =>
        {
            var stat = FileStat.Of(p.HostPath);
            return p.Entry is { Kind: EntryKind.File } e && FileStat.Of(store.BlobPath(e.Digest!, e.Mode)) is var blob && (blob.Dev, blob.Ino) == (stat.Dev, stat.Ino)
                ? $"L {stat.Dev}:{stat.Ino}"
                : $"S {stat.Fingerprint(withCtime: true)}";
        });
        File.WriteAllText(Path.Combine(bundleDir, FileName), string.Join('\n', lines) + "\n");
    }

    /// <summary>
    /// True when every path is as it was built (and each hardlinked file is still its blob's inode); with
    /// <paramref name="copiesOnly"/>, also when no file is a hardlink, as a bundle the sandbox may write must be.
    /// </summary>
    public static bool Intact(string bundleDir, IReadOnlyDictionary<string, LayerEntry> entries, ContentStore store, bool copiesOnly)
    {
        var manifest = Path.Combine(bundleDir, FileName);
        if (!File.Exists(manifest))
        {
            return false;
        }
        var lines = File.ReadAllLines(manifest);
        var paths = Paths(bundleDir, entries).ToList();
        if (lines.Length != paths.Count)
        {
            return false;
        }
        for (var i = 0; i < lines.Length; i++)
        {
            var stat = FileStat.Of(paths[i].HostPath);
            var ok = lines[i] switch
            {
                ['L', ' ', .. var inode] => !copiesOnly && paths[i].Entry is { Kind: EntryKind.File } e && stat.Kind == FileKind.Regular && $"{stat.Dev}:{stat.Ino}" == inode
                    && FileStat.Of(store.BlobPath(e.Digest!, e.Mode)) is var blob && $"{blob.Dev}:{blob.Ino}" == inode,
                ['S', ' ', .. var fingerprint] => stat.Kind != FileKind.Missing && stat.Fingerprint(withCtime: true) == fingerprint,
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }
        return true;
    }

    private static IEnumerable<(string HostPath, LayerEntry? Entry)> Paths(string bundleDir, IReadOnlyDictionary<string, LayerEntry> entries)
    {
        var rootfs = Path.Combine(bundleDir, "rootfs");
        yield return (rootfs, null);
        foreach (var (path, e) in entries.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            yield return (rootfs + path, e);
        }
    }
}
