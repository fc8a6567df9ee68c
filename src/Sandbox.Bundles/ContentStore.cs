using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
using static Sandbox.Bundles.Interop.Libc;

namespace Sandbox.Bundles;

/// <summary>
/// The cache of copied content: blobs named by their sha256 (and mode, since hardlinks share it), plus an index
/// from a file's path, size and modification time to its digest, so an unchanged input is neither hashed nor
/// copied again. Every write is a temporary file renamed into place, so concurrent builds never see half a blob.
/// Each blob has a record of its stat when it was last known good (inode, size, mtime, mode): a blob whose stat no
/// longer matches is hashed again, and replaced when its content no longer matches its name, so a blob changed
/// through a hardlink (by a user, or by an older Sandbox's writable root) is never served. The ctime is left out on
/// purpose: linking or unlinking a blob (building or removing any bundle) moves it, and every build after that would
/// re-hash the whole cache. A write moves the mtime; only a writer that sets it back on purpose goes unseen, and no
/// sandbox can reach a blob any more (read-only roots, copies for writable ones, no writable mount of the cache).
/// Caches written before these records existed are hashed once, on first use.
/// </summary>
internal sealed class ContentStore
{
    /// <summary>The largest input file copied; bigger ones belong in `mounts:`, which copy nothing.</summary>
    public const long DefaultMaxFileBytes = 4L << 30;

    public ContentStore(string root)
    {
        Root = root;
        Directory.CreateDirectory(BlobDir);
        Directory.CreateDirectory(IndexDir);
        Directory.CreateDirectory(LayerDir);
        Directory.CreateDirectory(RecordDir);
    }

    public string Root { get; }

    public long MaxFileBytes { get; init; } = DefaultMaxFileBytes;

    private string BlobDir => Path.Combine(Root, "blobs", "sha256");

    private string IndexDir => Path.Combine(Root, "index");

    private string RecordDir => Path.Combine(Root, "blobstat");

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

    private string RecordPath(string blob) => Path.Combine(RecordDir, Path.GetFileName(blob));

    /// <summary>
    /// Adds a regular host file, given its lstat; returns its digest. Unchanged since last time: a stat, an index
    /// read and the blob's check. Otherwise the file is read once, copied and hashed together, so the blob is
    /// exactly what was hashed even if the file changes meanwhile.
    /// </summary>
    public string Ingest(string hostPath, uint mode, FileStat stat)
    {
        var key = $"{Path.GetFullPath(hostPath)}\0{stat.Dev}:{stat.Ino}\0{stat.Size}\0{stat.MtimeNs}\0{Convert.ToString(mode, 8)}";
        var indexPath = Path.Combine(IndexDir, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..40]);
        if (File.Exists(indexPath) && File.ReadAllText(indexPath) is { Length: 71 } known && BlobIntact(known, mode))
        {
            return known;
        }
        if (stat.Size > MaxFileBytes)
        {
            throw new SandboxException(ErrorCodes.InputRefused,
                $"{hostPath} is {stat.Size} bytes, more than the {MaxFileBytes} a copied file may have",
                "mount it instead (mounts:), which copies nothing");
        }
        // O_NONBLOCK: should the path have become a FIFO since the lstat, the open does not wait for a writer.
        var fd = OpenNoFollow(hostPath);
        if (fd < 0)
        {
            var errno = LibC.errno;
            throw errno == LibC.ELOOP
                ? Changed(hostPath)
                : new SandboxException(ErrorCodes.Io, $"open {hostPath}: {Describe(errno)}", "check that the file is readable");
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var opened = FileStat.Of(handle);
        if (opened.Kind != FileKind.Regular || (opened.Dev, opened.Ino, opened.Size, opened.MtimeNs) != (stat.Dev, stat.Ino, stat.Size, stat.MtimeNs))
        {
            throw Changed(hostPath);
        }
        var digest = StoreBlob(mode, null, tmp => CopyHashing(handle, tmp, stat, hostPath));
        WriteAtomically(indexPath, digest);
        return digest;
    }

    /// <summary>Adds generated content (an /etc file); returns its digest.</summary>
    public string Ingest(byte[] content, uint mode)
    {
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        return StoreBlob(mode, digest, tmp =>
        {
            File.WriteAllBytes(tmp, content);
            return digest;
        });
    }

    private static SandboxException Changed(string hostPath) => new(ErrorCodes.InputChanged,
        $"{hostPath} changed while it was being copied", "build again once nothing writes to it");

    /// <summary>
    /// Copies at most <paramref name="stat"/>.Size bytes, plus one to tell that the file grew, then hashes the copy:
    /// the blob is named for exactly what it holds, however the input changes meanwhile, and the data crosses into
    /// user space once (the copy is in the kernel, the hash reads the page cache).
    /// </summary>
    private static string CopyHashing(SafeFileHandle source, string tmp, FileStat stat, string hostPath)
    {
        using var target = File.OpenHandle(tmp, FileMode.CreateNew, FileAccess.ReadWrite);
        var copied = FileData.Copy(source, target, stat.Size + 1, hostPath);
        var after = FileStat.Of(source);
        if (copied != stat.Size || after.Size != stat.Size || after.MtimeNs != stat.MtimeNs)
        {
            throw Changed(hostPath);
        }
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // A pooled buffer: a fresh one per file costs its page faults again (measured: 4 ms per MiB under load).
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(256 << 10);
        try
        {
            long offset = 0;
            int n;
            while ((n = RandomAccess.Read(target, buffer, offset)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                offset += n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
        return "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Writes a blob once: to a temporary name, then renamed, so a concurrent reader never sees it half. An
    /// existing blob is kept when it is intact and replaced when not.
    /// </summary>
    private string StoreBlob(uint mode, string? knownDigest, Func<string, string> write)
    {
        if (knownDigest is not null && BlobIntact(knownDigest, mode))
        {
            return knownDigest;
        }
        var tmp = Path.Combine(BlobDir, $".{Guid.NewGuid():N}.tmp");
        try
        {
            var digest = write(tmp);
            var blob = BlobPath(digest, mode);
            if (knownDigest is null && BlobIntact(digest, mode))
            {
                return digest;
            }
            File.SetUnixFileMode(tmp, (UnixFileMode)mode);
            File.Move(tmp, blob, overwrite: true);
            Record(blob, FileStat.Of(blob));
            return digest;
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <summary>
    /// True when the blob is there and holds what its name says. A stat equal to the record costs nothing more;
    /// any other stat means a re-hash, and a blob that fails it is removed (a caller then stores it again).
    /// </summary>
    private bool BlobIntact(string digest, uint mode)
    {
        var blob = BlobPath(digest, mode);
        var stat = FileStat.Of(blob);
        if (stat.Kind == FileKind.Missing)
        {
            return false;
        }
        if (stat.Kind == FileKind.Regular && stat.Permissions == mode)
        {
            var record = RecordPath(blob);
            if (File.Exists(record) && File.ReadAllText(record) == stat.Fingerprint(withCtime: false))
            {
                return true;
            }
            if (HashOf(blob) == digest && FileStat.Of(blob) == stat)
            {
                Record(blob, stat);
                return true;
            }
        }
        // Unlinked, not rewritten: bundles that still link the changed inode are told apart by it (BundleManifest).
        File.Delete(blob);
        File.Delete(RecordPath(blob));
        return false;
    }

    private static string HashOf(string blob)
    {
        using var stream = new FileStream(blob, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private void Record(string blob, FileStat stat) => WriteAtomically(RecordPath(blob), stat.Fingerprint(withCtime: false));

    /// <summary>Records that a layer was used now, with the blobs it needs, for `sandbox cache prune`.</summary>
    public void RecordLayer(Layer layer, string digest)
    {
        var blobs = layer.Entries.Where(e => e.Kind == EntryKind.File).Select(e => Path.GetFileName(BlobPath(e.Digest!, e.Mode)));
        WriteAtomically(Path.Combine(LayerDir, digest["sha256:".Length..]), string.Join('\n', blobs.Distinct(StringComparer.Ordinal)));
    }

    /// <summary>
    /// Puts the layer's paths into the rootfs: hardlinks to blobs, or copies when the container may write its root
    /// (a write through a hardlink would change the blob every other bundle links) or the cache is elsewhere.
    /// </summary>
    public void Materialize(Layer layer, RootfsWriter rootfs, bool copies)
    {
        foreach (var e in layer.Entries)
        {
            switch (e.Kind)
            {
                case EntryKind.Directory:
                    rootfs.Directory(e.Path, e.Mode);
                    break;
                case EntryKind.Symlink:
                    rootfs.Symlink(e.Path, e.LinkTarget!);
                    break;
                default:
                    var blob = BlobPath(e.Digest!, e.Mode);
                    if (copies || !rootfs.TryLink(e.Path, blob))
                    {
                        rootfs.Copy(e.Path, blob, e.Mode);
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
                File.Delete(RecordPath(f));
                blobs++;
            }
        }
        foreach (var f in Directory.EnumerateFiles(RecordDir))
        {
            if (!File.Exists(Path.Combine(BlobDir, Path.GetFileName(f))))
            {
                File.Delete(f);
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

    private static unsafe int OpenNoFollow(string hostPath)
    {
        fixed (byte* p = CString(hostPath))
        {
            return LibC.openat(LibC.AT_FDCWD, p, LibC.O_RDONLY | LibC.O_NOFOLLOW | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        }
    }
}
