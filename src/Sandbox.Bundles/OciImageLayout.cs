using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.Bundles;

/// <param name="PodmanOptions">What `podman run` needs besides the image to run it as the bundle runs: the image's
/// <see cref="OciImageConfig.RunOptionsLabel"/> and a `--volume` for each writable mount's host directory.</param>
public sealed record ExportedImage(string Directory, string Tag, string ManifestDigest, string BundleDigest, IReadOnlyList<string> PodmanOptions);

/// <summary>
/// Writes an OCI image layout (image-spec v1.1): `oci-layout`, `index.json` naming one image manifest by its tag
/// (`org.opencontainers.image.ref.name`), and `blobs/sha256/` holding that manifest, the image config and one
/// gzip-compressed tar per layer. Equal layers and config give equal bytes: the tars are <see cref="LayerTar"/>'s and
/// gzip writes no timestamp or name. The layout is written in a temporary directory beside the destination and
/// swapped into place whole.
/// </summary>
internal static partial class OciImageLayout
{
    public const string LayoutFile = "oci-layout";
    public const string IndexFile = "index.json";
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";
    public const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
    public const string ConfigMediaType = "application/vnd.oci.image.config.v1+json";
    public const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";

    /// <summary>Compact, and "+" in media types left as it is (the default encoder writes \u002B).</summary>
    public static JsonWriterOptions JsonOptions => new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="bundleDigest">The bundle's, for the caller to print: not in the image, since it differs between a
    /// builder with root and one without (id maps, /sys), and the image does not.</param>
    public static ExportedImage Write(IReadOnlyList<Layer> layers, OciImageConfig image, ContentStore store, string dir, string tag, string bundleDigest)
    {
        var parent = Path.GetDirectoryName(dir)!;
        Directory.CreateDirectory(parent);
        var tmp = Path.Combine(parent, $".{Path.GetFileName(dir)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var blobs = Path.Combine(tmp, "blobs", "sha256");
            Directory.CreateDirectory(blobs);
            var written = new List<(string Name, string DiffId, Descriptor Blob)>();
            foreach (var layer in layers)
            {
                var (diffId, blob) = WriteLayer(layer, store, blobs);
                written.Add((layer.Name, diffId, blob));
            }
            var config = WriteBlob(blobs, ConfigMediaType, image.Serialize([.. written.Select(l => (l.Name, l.DiffId))]));
            var manifest = WriteBlob(blobs, ManifestMediaType, Json(w =>
            {
                w.WriteNumber("schemaVersion", 2);
                w.WriteString("mediaType", ManifestMediaType);
                w.WritePropertyName("config");
                config.Write(w);
                w.WriteStartArray("layers");
                foreach (var l in written)
                {
                    l.Blob.Write(w);
                }
                w.WriteEndArray();
            }));
            File.WriteAllBytes(Path.Combine(tmp, IndexFile), Json(w =>
            {
                w.WriteNumber("schemaVersion", 2);
                w.WriteString("mediaType", "application/vnd.oci.image.index.v1+json");
                w.WriteStartArray("manifests");
                manifest.Write(w, tag);
                w.WriteEndArray();
            }));
            File.WriteAllBytes(Path.Combine(tmp, LayoutFile), Json(w => w.WriteString("imageLayoutVersion", "1.0.0")));
            BundleBuilder.SwapIntoPlace(tmp, dir, CheckReplaceable, store);
            return new ExportedImage(dir, tag, manifest.Digest, bundleDigest,
                [.. image.PodmanOptions(), .. image.WritableBinds.Select(m => $"--volume={m.Source}:{m.Destination}")]);
        }
        finally
        {
            if (Directory.Exists(tmp))
            {
                Directory.Delete(tmp, recursive: true);
            }
        }
    }

    /// <summary>The grammar image-spec gives `org.opencontainers.image.ref.name`: components of letters and digits joined by separators.</summary>
    public static bool ValidTag(string tag) => RefName().IsMatch(tag);

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9]+((--|[-._:@+])[A-Za-z0-9]+)*(/[A-Za-z0-9]+((--|[-._:@+])[A-Za-z0-9]+)*)*$")]
    private static partial System.Text.RegularExpressions.Regex RefName();

    /// <summary>One layer's tar, gzip-compressed as it is written: its diff_id hashes the tar, its digest the gzip.</summary>
    private static (string DiffId, Descriptor Blob) WriteLayer(Layer layer, ContentStore store, string blobs)
    {
        var tmp = Path.Combine(blobs, $".{Guid.NewGuid():N}.tmp");
        string diffId;
        Descriptor blob;
        using (var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            using var compressed = new HashingStream(file);
            using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                using var tar = new HashingStream(gzip);
                LayerTar.Write(layer, store, tar);
                diffId = tar.Digest();
            }
            blob = new Descriptor(LayerMediaType, compressed.Digest(), compressed.Length);
        }
        File.Move(tmp, Path.Combine(blobs, blob.Digest["sha256:".Length..]), overwrite: true);
        return (diffId, blob);
    }

    private static Descriptor WriteBlob(string blobs, string mediaType, byte[] content)
    {
        var blob = new Descriptor(mediaType, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content)), content.Length);
        File.WriteAllBytes(Path.Combine(blobs, blob.Digest["sha256:".Length..]), content);
        return blob;
    }

    /// <summary>A JSON object, compact, with the properties <paramref name="body"/> writes in the order it writes them.</summary>
    public static byte[] Json(Action<Utf8JsonWriter> body) => JsonValue(w =>
    {
        w.WriteStartObject();
        body(w);
        w.WriteEndObject();
    });

    public static byte[] JsonValue(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions))
        {
            write(w);
        }
        return buffer.ToArray();
    }

    /// <summary>Only an OCI layout (or an empty directory) is ever replaced, whole.</summary>
    private static void CheckReplaceable(string dir)
    {
        var stat = FileStat.Of(dir);
        if (stat.Kind != FileKind.Directory
            || (Directory.EnumerateFileSystemEntries(dir).Any() && !File.Exists(Path.Combine(dir, LayoutFile))))
        {
            throw new SandboxException(ErrorCodes.OciLayoutExists,
                stat.Kind == FileKind.Directory
                    ? $"{dir} exists and is not an OCI image layout (it has no {LayoutFile} file)"
                    : $"{dir} exists and is {stat.KindName}, not an OCI image layout directory",
                "choose another directory for --oci-layout, or remove it");
        }
    }

    private sealed record Descriptor(string MediaType, string Digest, long Size)
    {
        public void Write(Utf8JsonWriter w, string? refName = null)
        {
            w.WriteStartObject();
            w.WriteString("mediaType", MediaType);
            w.WriteString("digest", Digest);
            w.WriteNumber("size", Size);
            if (refName is not null)
            {
                w.WriteStartObject("annotations");
                w.WriteString(RefNameAnnotation, refName);
                w.WriteEndObject();
                w.WriteStartObject("platform");
                w.WriteString("architecture", OciImageConfig.Architecture);
                w.WriteString("os", "linux");
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
    }

    /// <summary>A write-only stream that hashes and counts what passes through it to the next.</summary>
    private sealed class HashingStream(Stream next) : Stream
    {
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public string Digest() => "sha256:" + Convert.ToHexStringLower(_sha.GetCurrentHash());

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _sha.AppendData(buffer);
            _length += buffer.Length;
            next.Write(buffer);
        }

        public override void Flush() => next.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _sha.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
