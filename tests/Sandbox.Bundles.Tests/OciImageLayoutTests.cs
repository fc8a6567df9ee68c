using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Sandbox.Oci;
using Sandbox.Spec;

namespace Sandbox.Bundles.Tests;

/// <summary>
/// `sandbox build --oci-layout`: the layout is checked as an engine would read it (every descriptor against its blob,
/// every diff_id against the uncompressed layer), its layers (read with System.Formats.Tar, not our writer) against the
/// bundle's rootfs and the mounted host directories, and its bytes against a second export of the same inputs.
/// </summary>
public sealed class OciImageLayoutTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("oci-layout-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>
    /// A spec in its own directory: copied files (an executable, a symlink, a name too long for a ustar header, a link
    /// target over 100 bytes), a read-only and a writable mount, a tmpfs, limits and host variables.
    /// </summary>
    private SandboxSpec SpecIn(string name, string content = "payload\n")
    {
        var specDir = Directory.CreateDirectory(Path.Join(_dir, name)).FullName;
        var app = Directory.CreateDirectory(Path.Join(specDir, "app")).FullName;
        File.WriteAllText(Path.Join(app, "app.txt"), content);
        File.WriteAllText(Path.Join(app, "run.sh"), "#!/bin/sh\necho run\n");
        File.SetUnixFileMode(Path.Join(app, "run.sh"), (UnixFileMode)0x1ed);
        File.CreateSymbolicLink(Path.Join(app, "link"), "app.txt");
        var deep = Path.Join(app, new string('d', 120), new string('e', 120));
        Directory.CreateDirectory(deep);
        File.WriteAllText(Path.Join(deep, new string('f', 90)), "deep\n");
        File.CreateSymbolicLink(Path.Join(app, "far"), "/" + new string('t', 150));
        Directory.CreateDirectory(Path.Join(specDir, "data", "sub"));
        File.WriteAllText(Path.Join(specDir, "data", "sub", "input.txt"), "input\n");
        Directory.CreateDirectory(Path.Join(specDir, "out"));
        return new SandboxSpec
        {
            SourcePath = Path.Join(specDir, "sandbox.yaml"),
            Uid = 1234,
            Gid = 5678,
            WorkingDirectory = "/work",
            Hostname = "exported",
            Command = ["/app/run.sh", "an argument"],
            Environment = new Dictionary<string, string> { ["GREETING"] = "hi" },
            PassEnvironment = ["TERM"],
            Files = [new CopiedPath(app, "/app", default)],
            Mounts = [new HostMount(Path.Join(specDir, "data"), "/data", false, default), new HostMount(Path.Join(specDir, "out"), "/out", true, default)],
            Tmpfs = [new TmpfsMount("/work", 16 << 20, 0x1ed, default)],
            Limits = new ResourceLimits { MemoryBytes = 64 << 20, Pids = 64, Cpus = 1.5 },
        };
    }

    private string Export(SandboxSpec spec, string dir, string cache = "cache", uint builderUid = 0) =>
        new BundleBuilder(Path.Join(_dir, cache), builderUid, builderUid).ExportOciLayout(spec, Path.Join(_dir, dir), "exported:1.0").ManifestDigest;

    [Fact]
    public void Every_blob_matches_its_descriptor_and_every_diff_id_its_uncompressed_layer()
    {
        var manifestDigest = Export(SpecIn("s"), "image");
        var layout = Path.Join(_dir, "image");

        Assert.Equal("""{"imageLayoutVersion":"1.0.0"}""", File.ReadAllText(Path.Join(layout, "oci-layout")));
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Join(layout, "index.json")));
        Assert.Equal(2, index.RootElement.GetProperty("schemaVersion").GetInt32());
        var entry = Assert.Single(index.RootElement.GetProperty("manifests").EnumerateArray());
        Assert.Equal("exported:1.0", entry.GetProperty("annotations").GetProperty("org.opencontainers.image.ref.name").GetString());
        Assert.Equal(manifestDigest, entry.GetProperty("digest").GetString());

        using var manifest = JsonDocument.Parse(Blob(layout, entry, "application/vnd.oci.image.manifest.v1+json"));
        using var config = JsonDocument.Parse(Blob(layout, manifest.RootElement.GetProperty("config"), "application/vnd.oci.image.config.v1+json"));
        var layers = manifest.RootElement.GetProperty("layers").EnumerateArray().ToList();
        var diffIds = config.RootElement.GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray().Select(d => d.GetString()).ToList();
        Assert.Equal("layers", config.RootElement.GetProperty("rootfs").GetProperty("type").GetString());
        // files:, generated, and the read-only mount's copy; the writable mount is a volume, not a layer.
        Assert.Equal(3, layers.Count);
        Assert.Equal(layers.Count, diffIds.Count);
        Assert.Equal(layers.Count, config.RootElement.GetProperty("history").GetArrayLength());
        for (var i = 0; i < layers.Count; i++)
        {
            var tar = Gunzip(Blob(layout, layers[i], "application/vnd.oci.image.layer.v1.tar+gzip"));
            Assert.Equal(diffIds[i], "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar)));
        }
        // Nothing in blobs/ that no descriptor names, and no temporary directory beside the layout.
        Assert.Equal(layers.Count + 2, Directory.GetFiles(Path.Join(layout, "blobs", "sha256")).Length);
        Assert.Equal(["cache", "image", "s"], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_layers_hold_the_bundle_rootfs_and_a_copy_of_the_read_only_mount()
    {
        var spec = SpecIn("s");
        Export(spec, "image");
        var bundle = new BundleBuilder(Path.Join(_dir, "cache"), 0, 0).Build(spec, Path.Join(_dir, "bundle"));
        var image = Flatten(Path.Join(_dir, "image"));

        // The bundle's rootfs, path by path: kind, mode, content or link target, all owned by 0:0 with mtime 0.
        var rootfs = Path.Join(bundle.Directory, "rootfs");
        var bundlePaths = Directory.EnumerateFileSystemEntries(rootfs, "*", SearchOption.AllDirectories)
            .Select(p => p[(rootfs.Length + 1)..]).ToHashSet(StringComparer.Ordinal);
        Assert.Empty(bundlePaths.Except(image.Keys));
        foreach (var path in bundlePaths)
        {
            var (e, content) = image[path];
            var host = Path.Join(rootfs, path);
            var info = new FileInfo(host);
            if (info.LinkTarget is { } target)
            {
                Assert.Equal(TarEntryType.SymbolicLink, e.EntryType);
                Assert.Equal(target, e.LinkName);
            }
            else if (Directory.Exists(host))
            {
                Assert.Equal(TarEntryType.Directory, e.EntryType);
            }
            else
            {
                Assert.Equal(TarEntryType.RegularFile, e.EntryType);
                Assert.Equal(File.ReadAllBytes(host), content);
                Assert.Equal(File.GetUnixFileMode(host), e.Mode);
            }
            var posix = Assert.IsAssignableFrom<PosixTarEntry>(e);
            Assert.Equal((0, 0, "", ""), (posix.Uid, posix.Gid, posix.UserName, posix.GroupName));
            Assert.Equal(DateTimeOffset.UnixEpoch, e.ModificationTime);
        }
        Assert.Equal("deep\n", System.Text.Encoding.UTF8.GetString(image[$"app/{new string('d', 120)}/{new string('e', 120)}/{new string('f', 90)}"].Content!));
        Assert.Equal("/" + new string('t', 150), image["app/far"].Entry.LinkName);

        // The read-only mount, which the bundle only bind-mounts, is in the image; the writable one is not.
        Assert.Equal("input\n", System.Text.Encoding.UTF8.GetString(image["data/sub/input.txt"].Content!));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Join(rootfs, "data")));
        Assert.DoesNotContain(image.Keys, k => k.StartsWith("out/", StringComparison.Ordinal));
    }

    [Fact]
    public void The_config_carries_the_process_and_names_what_podman_must_add()
    {
        Export(SpecIn("s"), "image");
        var config = ImageConfig(Path.Join(_dir, "image"));
        var c = config.GetProperty("config");
        Assert.Equal("1234:5678", c.GetProperty("User").GetString());
        Assert.Equal(["/app/run.sh", "an argument"], c.GetProperty("Cmd").EnumerateArray().Select(a => a.GetString()));
        Assert.False(c.TryGetProperty("Entrypoint", out _));
        Assert.Equal("/work", c.GetProperty("WorkingDir").GetString());
        Assert.Contains("GREETING=hi", c.GetProperty("Env").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(["/out"], c.GetProperty("Volumes").EnumerateObject().Select(v => v.Name));
        var labels = c.GetProperty("Labels");
        var seccomp = JsonSerializer.Deserialize(labels.GetProperty("io.containers.seccomp.profile").GetString()!, OciSeccompJsonContext.Default.OciSeccomp)!;
        Assert.Equal("SCMP_ACT_ERRNO", seccomp.DefaultAction);
        Assert.Equal(
            "--read-only --tmpfs /tmp:rw,notmpcopyup,nosuid,nodev,mode=1777,size=268435456 --tmpfs /work:rw,notmpcopyup,nosuid,nodev,mode=755,size=16777216 --network=none " +
            "--hostname=exported --memory=67108864 --cpus=1.5 --pids-limit=64 --cap-drop=all --security-opt=no-new-privileges --seccomp-policy=image --env=TERM",
            labels.GetProperty("org.sandbox.podman-run-options").GetString());
        Assert.Contains(config.GetProperty("architecture").GetString(), new[] { "amd64", "arm64" });
        Assert.Equal("linux", config.GetProperty("os").GetString());
    }

    [Fact]
    public void The_same_inputs_give_the_same_bytes_anywhere_and_one_changed_byte_changes_them()
    {
        var a = Export(SpecIn("a"), "image-a");
        // Another directory, another cache, inputs written later (other mtimes and inodes), and a builder without root,
        // whose bundle would map ids in a user namespace and bind /sys: the same image.
        Thread.Sleep(20);
        var b = Export(SpecIn("b"), "image-b", cache: "cache-b", builderUid: 1000);
        var c = Export(SpecIn("c", "payloaD\n"), "image-c");

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        var blobsA = Blobs(Path.Join(_dir, "image-a"));
        Assert.Equal(blobsA, Blobs(Path.Join(_dir, "image-b")));
        Assert.Equal(File.ReadAllBytes(Path.Join(_dir, "image-a", "index.json")), File.ReadAllBytes(Path.Join(_dir, "image-b", "index.json")));
        // Only the files: layer (and so the config and manifest) differ.
        Assert.Equal(3, Blobs(Path.Join(_dir, "image-c")).Except(blobsA).Count());
    }

    [Fact]
    public void An_earlier_layout_is_replaced_whole_and_any_other_directory_is_refused_untouched()
    {
        var spec = SpecIn("s");
        Export(spec, "image");
        File.WriteAllText(Path.Join(_dir, "s", "app", "app.txt"), "changed\n");
        Export(spec, "image/");
        Assert.Equal(5, Directory.GetFiles(Path.Join(_dir, "image", "blobs", "sha256")).Length);
        Assert.Equal(["blobs", "index.json", "oci-layout"], Directory.GetFileSystemEntries(Path.Join(_dir, "image")).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var other = Directory.CreateDirectory(Path.Join(_dir, "other")).FullName;
        File.WriteAllText(Path.Join(other, "keep.txt"), "mine");
        var e = Assert.Throws<SandboxException>(() => Export(spec, "other"));
        Assert.Equal(ErrorCodes.OciLayoutExists, e.Code);
        Assert.Contains("not an OCI image layout", e.Message, StringComparison.Ordinal);
        Assert.Equal(["keep.txt"], Directory.GetFileSystemEntries(other).Select(Path.GetFileName));

        File.WriteAllText(Path.Join(_dir, "file"), "x");
        Assert.Equal(ErrorCodes.OciLayoutExists, Assert.Throws<SandboxException>(() => Export(spec, "file")).Code);
        Assert.Empty(Directory.GetFileSystemEntries(_dir, ".*"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("UPPER:lower-ok")]
    [InlineData("a/b.c_d:e@f+g--h")]
    [InlineData("-leading")]
    [InlineData("two..dots-are-separators")]
    [InlineData("trailing/")]
    [InlineData("with space")]
    public void A_tag_follows_the_ref_name_grammar(string tag)
    {
        var valid = tag is "UPPER:lower-ok" or "a/b.c_d:e@f+g--h";
        Assert.Equal(valid, OciImageLayout.ValidTag(tag));
        if (!valid)
        {
            var e = Assert.Throws<SandboxException>(() => new BundleBuilder(Path.Join(_dir, "cache"), 0, 0).ExportOciLayout(SpecIn("s"), Path.Join(_dir, "image"), tag));
            Assert.Equal(ErrorCodes.Usage, e.Code);
            Assert.False(Directory.Exists(Path.Join(_dir, "image")));
        }
    }

    [Fact]
    public void The_new_code_is_documented() =>
        Assert.Contains($"| {ErrorCodes.OciLayoutExists} |", File.ReadAllText(Path.Join(RepoRoot(), "docs/errors.md")), StringComparison.Ordinal);

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Join(dir!.FullName, "Sandbox.sln")))
        {
            dir = dir.Parent;
        }
        return dir.FullName;
    }

    /// <summary>The blob a descriptor names, checked against its digest, size and media type.</summary>
    private static byte[] Blob(string layout, JsonElement descriptor, string mediaType)
    {
        var digest = descriptor.GetProperty("digest").GetString()!;
        Assert.StartsWith("sha256:", digest, StringComparison.Ordinal);
        Assert.Equal(mediaType, descriptor.GetProperty("mediaType").GetString());
        var bytes = File.ReadAllBytes(Path.Join(layout, "blobs", "sha256", digest["sha256:".Length..]));
        Assert.Equal(digest, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(descriptor.GetProperty("size").GetInt64(), bytes.Length);
        return bytes;
    }

    private static byte[] Gunzip(byte[] gz)
    {
        using var input = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }

    private static JsonElement ImageConfig(string layout)
    {
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Join(layout, "index.json")));
        var manifest = JsonDocument.Parse(Blob(layout, index.RootElement.GetProperty("manifests")[0], "application/vnd.oci.image.manifest.v1+json"));
        return JsonDocument.Parse(Blob(layout, manifest.RootElement.GetProperty("config"), "application/vnd.oci.image.config.v1+json")).RootElement;
    }

    /// <summary>The image's file system as an engine unpacks it: the layers in order, a later entry replacing an earlier one.</summary>
    private static Dictionary<string, (TarEntry Entry, byte[]? Content)> Flatten(string layout)
    {
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Join(layout, "index.json")));
        using var manifest = JsonDocument.Parse(Blob(layout, index.RootElement.GetProperty("manifests")[0], "application/vnd.oci.image.manifest.v1+json"));
        var tree = new Dictionary<string, (TarEntry, byte[]?)>(StringComparer.Ordinal);
        foreach (var layer in manifest.RootElement.GetProperty("layers").EnumerateArray())
        {
            using var reader = new TarReader(new MemoryStream(Gunzip(Blob(layout, layer, "application/vnd.oci.image.layer.v1.tar+gzip"))));
            var names = new List<string>();
            while (reader.GetNextEntry(copyData: true) is { } e)
            {
                names.Add(e.Name.TrimEnd('/'));
                byte[]? content = null;
                if (e.DataStream is { } data)
                {
                    using var copy = new MemoryStream();
                    data.CopyTo(copy);
                    content = copy.ToArray();
                }
                tree[e.Name.TrimEnd('/')] = (e, content);
            }
            Assert.Equal(names.Order(StringComparer.Ordinal), names);
        }
        return tree;
    }

    private static HashSet<string> Blobs(string layout) =>
        Directory.GetFiles(Path.Join(layout, "blobs", "sha256")).Select(f => Path.GetFileName(f) + ":" + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f)))).ToHashSet();
}
