using System.Security.Cryptography;
using System.Text;

namespace Sandbox.Bundles;

internal enum EntryKind
{
    Directory,
    File,
    Symlink,
}

/// <summary>One path of a layer. Files carry the digest of their content; where it comes from is not part of it.</summary>
internal sealed record LayerEntry(string Path, EntryKind Kind, uint Mode, string? Digest = null, string? LinkTarget = null);

/// <summary>
/// A set of paths for the rootfs, identified by the sha256 of a normalized listing: paths sorted byte-wise, each
/// with its kind, mode and content digest or link target. Timestamps and owners are not recorded (every file is
/// materialized with the same ones), so equal inputs give equal digests on any machine.
/// </summary>
internal sealed class Layer
{
    private readonly SortedDictionary<string, LayerEntry> _entries = new(StringComparer.Ordinal);

    public Layer(string name) => Name = name;

    public string Name { get; }

    public IEnumerable<LayerEntry> Entries => _entries.Values;

    public int Count => _entries.Count;

    public void Add(LayerEntry entry)
    {
        AddParents(entry.Path);
        _entries[entry.Path] = entry;
    }

    private void AddParents(string path)
    {
        var dir = System.IO.Path.GetDirectoryName(path);
        while (!string.IsNullOrEmpty(dir) && dir != "/" && !_entries.ContainsKey(dir))
        {
            _entries[dir] = new LayerEntry(dir, EntryKind.Directory, 0x1ed);
            dir = System.IO.Path.GetDirectoryName(dir);
        }
    }

    public bool Contains(string path) => _entries.ContainsKey(path);

    public string Digest()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var e in _entries.Values)
        {
            var line = $"{e.Kind switch { EntryKind.Directory => 'd', EntryKind.File => 'f', _ => 'l' }} {Convert.ToString(e.Mode, 8)} {e.Path}\0{e.Digest ?? e.LinkTarget}\n";
            sha.AppendData(Encoding.UTF8.GetBytes(line));
        }
        return "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
