using System.Security.Cryptography;
using System.Text;

namespace Sandbox.Bundles;

/// <summary>
/// The cache of copied content: blobs named by their sha256 (and mode, since hardlinks share it), plus an index
/// from a file's path, size and modification time to its digest, so an unchanged input is neither hashed nor
/// copied again. Every write is a temporary file renamed into place, so concurrent builds never see half a blob.
/// </summary>
internal sealed class ContentStore
{
    public ContentStore(string root)
    {
        Root = root;
        Directory.CreateDirectory(BlobDir);
        Directory.CreateDirectory(IndexDir);
        Directory.CreateDirectory(LayerDir);
    }

    public string Root { get; }

    private string BlobDir => Path.Combine(Root, "blobs", "sha256");

    private string IndexDir => Path.Combine(Root, "index");

    public string LayerDir => Path.Combine(Root, "layers");

    public string LockPath => Path.Combine(Root, "lock");

    /// <summary>$XDG_CACHE_HOME/sandbox, else ~/.cache/sandbox; SANDBOX_CACHE overrides both.</summary>
    public static string DefaultRoot()
    {
        if (Environment.GetEnvironmentVariable("SANDBOX_CACHE") is { Length: > 0 } explicitRoot)
        {
            return explicitRoot;
        }
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        return string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "sandbox")
            : Path.Combine(xdg, "sandbox");
    }

    public string BlobPath(string digest, uint mode) => Path.Combine(BlobDir, $"{digest["sha256:".Length..]}.{Convert.ToString(mode, 8)}");

    /// <summary>Adds a host file; returns its digest. Unchanged since last time: only a stat and an index read.</summary>
    public string Ingest(string hostPath, uint mode)
    {
        var info = new FileInfo(hostPath);
        var key = $"{info.FullName}\0{info.Length}\0{info.LastWriteTimeUtc.Ticks}\0{Convert.ToString(mode, 8)}";
        var indexPath = Path.Combine(IndexDir, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..40]);
        if (File.Exists(indexPath) && File.ReadAllText(indexPath) is { Length: 71 } known && File.Exists(BlobPath(known, mode)))
        {
            return known;
        }
        string digest;
        using (var stream = File.OpenRead(hostPath))
        {
            digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        StoreBlob(digest, mode, tmp => File.Copy(hostPath, tmp));
        WriteAtomically(indexPath, digest);
        return digest;
    }

    /// <summary>Adds generated content (an /etc file); returns its digest.</summary>
    public string Ingest(byte[] content, uint mode)
    {
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        StoreBlob(digest, mode, tmp => File.WriteAllBytes(tmp, content));
        return digest;
    }

    /// <summary>Writes a blob once: to a temporary name, then renamed, so a concurrent reader never sees it half.</summary>
    private void StoreBlob(string digest, uint mode, Action<string> write)
    {
        var blob = BlobPath(digest, mode);
        if (File.Exists(blob))
        {
            return;
        }
        var tmp = blob + "." + Guid.NewGuid().ToString("N") + ".tmp";
        write(tmp);
        File.SetUnixFileMode(tmp, (UnixFileMode)mode);
        File.Move(tmp, blob, overwrite: true);
    }

    /// <summary>Records that a layer was used now, with the blobs it needs, for `sandbox cache prune`.</summary>
    public void RecordLayer(Layer layer, string digest)
    {
        var blobs = layer.Entries.Where(e => e.Kind == EntryKind.File).Select(e => Path.GetFileName(BlobPath(e.Digest!, e.Mode)));
        WriteAtomically(Path.Combine(LayerDir, digest["sha256:".Length..]), string.Join('\n', blobs.Distinct(StringComparer.Ordinal)));
    }

    /// <summary>Puts the layer's paths under <paramref name="rootfs"/>: hardlinks to blobs, or copies across filesystems.</summary>
    public void Materialize(Layer layer, string rootfs)
    {
        foreach (var e in layer.Entries)
        {
            var dest = Path.Join(rootfs, e.Path);
            switch (e.Kind)
            {
                case EntryKind.Directory:
                    Directory.CreateDirectory(dest);
                    File.SetUnixFileMode(dest, (UnixFileMode)e.Mode);
                    break;
                case EntryKind.Symlink:
                    Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
                    File.CreateSymbolicLink(dest, e.LinkTarget!);
                    break;
                default:
                    Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
                    var blob = BlobPath(e.Digest!, e.Mode);
                    if (Interop.Libc.Link(blob, dest) != 0)
                    {
                        File.Copy(blob, dest);
                        File.SetUnixFileMode(dest, (UnixFileMode)e.Mode);
                    }
                    break;
            }
        }
    }

    /// <summary>
    /// Removes layers not used for <paramref name="unusedFor"/>, then blobs no remaining layer needs, then index
    /// entries whose blob is gone. Runs under the exclusive cache lock, so no build is reading meanwhile.
    /// </summary>
    public (int Layers, int Blobs, long Bytes) Prune(TimeSpan unusedFor)
    {
        var cutoff = DateTime.UtcNow - unusedFor;
        var layers = 0;
        var keep = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in Directory.EnumerateFiles(LayerDir))
        {
            if (File.GetLastWriteTimeUtc(f) < cutoff)
            {
                File.Delete(f);
                layers++;
                continue;
            }
            keep.UnionWith(File.ReadAllLines(f));
        }
        var blobs = 0;
        long bytes = 0;
        foreach (var f in Directory.EnumerateFiles(BlobDir))
        {
            if (!keep.Contains(Path.GetFileName(f)))
            {
                bytes += new FileInfo(f).Length;
                File.Delete(f);
                blobs++;
            }
        }
        foreach (var f in Directory.EnumerateFiles(IndexDir))
        {
            var digest = File.ReadAllText(f);
            if (digest.Length != 71 || !Directory.EnumerateFiles(BlobDir, digest["sha256:".Length..] + ".*").Any())
            {
                File.Delete(f);
            }
        }
        return (layers, blobs, bytes);
    }

    private static void WriteAtomically(string path, string text)
    {
        var tmp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
