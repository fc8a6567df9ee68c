using System.Security.Cryptography;
using System.Text;
using Sandbox.Bundles.Elf;
using Sandbox.Oci;
using Sandbox.Spec;
using Tmds.Linux;

namespace Sandbox.Bundles;

public sealed record BuiltBundle(string Directory, string Digest, bool Reused);

/// <summary>A bundle before it is written: its layers, the rootfs they make (checked), its config and digest.</summary>
/// <param name="WritableSources">The writable mounts' sources with symlinks resolved: a bundle inside one gets copies.</param>
internal sealed record BundlePlan(List<Layer> Layers, IReadOnlyDictionary<string, LayerEntry> Tree, OciConfig Config, string Digest,
    IReadOnlyList<string> WritableSources);

/// <summary>
/// spec → layers → rootfs + config.json. The bundle is assembled in a temporary directory beside the
/// destination and renamed into place, so an error leaves nothing half-built; an unchanged spec whose bundle
/// is already there costs a digest computation and nothing else.
/// </summary>
public sealed class BundleBuilder
{
    private const string DigestFile = "digest";
    private readonly ContentStore _store;
    private readonly uint _uid;
    private readonly uint _gid;

    public BundleBuilder(string cacheRoot, uint uid, uint gid, long maxFileBytes = ContentStore.DefaultMaxFileBytes)
    {
        _store = new ContentStore(cacheRoot) { MaxFileBytes = maxFileBytes };
        _uid = uid;
        _gid = gid;
    }

    public static string DefaultCacheRoot() => ContentStore.DefaultRoot();

    /// <summary>Where `sandbox run --spec` keeps bundles: in the cache, by digest.</summary>
    public string CachedBundleDir(string digest) => Path.Combine(_store.Root, "bundles", digest["sha256:".Length..]);

    /// <summary>Computes the layers and config of a spec without writing the bundle.</summary>
    internal BundlePlan Plan(SandboxSpec spec)
    {
        var rootless = _uid != 0;
        DotnetInstallation? dotnet = null;
        var layers = new List<Layer>();
        if (spec.Base == BaseImage.Dotnet)
        {
            dotnet = DotnetInstallation.Locate() ?? throw new SandboxException(ErrorCodes.RootfsMissing,
                $"{spec.SourcePath}: base: dotnet, but no .NET installation was found (DOTNET_ROOT, dotnet on PATH, /etc/dotnet/install_location, /usr/share/dotnet, /usr/lib/dotnet)",
                "install the .NET runtime, or set DOTNET_ROOT");
            layers.Add(DotnetLibraries(dotnet));
        }
        if (spec.Files.Count > 0)
        {
            layers.Add(CopiedFiles(spec));
        }
        layers.Add(Generated(spec, dotnet));
        var tree = LayerStack.Check(layers);
        var config = BundleConfig.Create(spec, dotnet, rootless, _uid, _gid);
        return new BundlePlan(layers, tree, config, Digest(layers, config, spec), WritableSources(spec));
    }

    /// <summary>
    /// A writable mount that holds the cache (or lies in it) would let the sandbox rewrite the blobs every bundle is
    /// made of: refused. One that holds the bundle itself (`mounts: [{source: ., writable: true}]` beside `-o
    /// bundle`) is allowed, and that bundle gets copies instead of hardlinks.
    /// </summary>
    private List<string> WritableSources(SandboxSpec spec)
    {
        var cache = Resolve(_store.Root);
        var sources = new List<string>();
        foreach (var m in spec.Mounts.Where(m => m.Writable))
        {
            var source = Resolve(m.HostPath);
            if (Overlap(source, cache))
            {
                throw new SandboxException(ErrorCodes.MountExposesCache,
                    $"{(m.Location.Line > 0 ? $"{m.Location.File}:{m.Location.Line}:{m.Location.Column}" : spec.SourcePath)}: the writable mount of {m.HostPath} at {m.ContainerPath} {(cache.StartsWith(source, StringComparison.Ordinal) ? "holds" : "lies inside")} the sandbox cache {cache}, whose files every bundle is made of",
                    "mount a narrower directory or make it read-only, or move the cache elsewhere (SANDBOX_CACHE)");
            }
            sources.Add(source);
        }
        return sources;
    }

    /// <summary>The path with every symlink resolved; the part that does not exist yet is kept as written.</summary>
    private static string Resolve(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        var rest = "";
        for (var at = full; at.Length > 0; at = Path.GetDirectoryName(at) ?? "")
        {
            if (Interop.Libc.Realpath(at) is { } real)
            {
                return (real.TrimEnd('/') + rest) is { Length: > 0 } r ? r : "/";
            }
            rest = "/" + Path.GetFileName(at) + rest;
            if (at == "/")
            {
                break;
            }
        }
        return full.Length == 0 ? "/" : full;
    }

    private static bool Overlap(string a, string b) =>
        a == "/" || b == "/" || a == b || b.StartsWith(a + "/", StringComparison.Ordinal) || a.StartsWith(b + "/", StringComparison.Ordinal);

    /// <summary>Builds the bundle into <paramref name="outDir"/> (or reuses it when its digest already matches).</summary>
    public BuiltBundle Build(SandboxSpec spec, string outDir)
    {
        using var cacheLock = FileLock.Acquire(_store.LockPath, exclusive: false);
        return Build(Plan(spec), OutputPath(outDir), TestSettingsFile.Serialize(spec));
    }

    /// <summary>Builds into the cache, under the bundle's digest: what `sandbox run --spec` runs.</summary>
    public BuiltBundle BuildInCache(SandboxSpec spec)
    {
        using var cacheLock = FileLock.Acquire(_store.LockPath, exclusive: false);
        var plan = Plan(spec);
        // No test.json: specs that differ only in `test:` or where they live share this bundle, and `run` ignores it.
        return Build(plan, CachedBundleDir(plan.Digest), testSettings: null);
    }

    /// <summary>
    /// Exports the spec's bundle as an OCI image layout at <paramref name="dir"/>, its image named <paramref name="tag"/>:
    /// the bundle's layers, then one layer per read-only bind mount (the .NET installation of `base: dotnet`, each
    /// read-only `mounts:` entry) holding a copy of what the container would see there, so the image needs no host
    /// directory. What else config.json says is mapped by <see cref="OciImageConfig"/>.
    /// </summary>
    public ExportedImage ExportOciLayout(SandboxSpec spec, string dir, string tag)
    {
        if (!OciImageLayout.ValidTag(tag))
        {
            throw new SandboxException(ErrorCodes.Usage, $"--tag {tag}: not an image name an OCI layout can carry",
                "use letters, digits and the separators . _ - : @ + / between them, e.g. --tag hello or --tag tests:1.0");
        }
        using var cacheLock = FileLock.Acquire(_store.LockPath, exclusive: false);
        var plan = Plan(spec);
        var image = new OciImageConfig(plan.Config, $"{spec.Uid}:{spec.Gid}");
        var layers = new List<Layer>(plan.Layers);
        foreach (var m in image.ReadOnlyBinds)
        {
            var layer = new Layer($"copy of the mount at {m.Destination}");
            // What the bind mount shows: its source with symlinks resolved; symlinks inside it stay symlinks.
            AddTree(layer, Resolve(m.Source!), m.Destination!);
            layers.Add(layer);
        }
        foreach (var l in layers)
        {
            _store.RecordLayer(l, l.Digest());
        }
        return OciImageLayout.Write(layers, image, _store, OutputPath(dir), tag, plan.Digest);
    }

    /// <summary>The full path without a trailing slash: `-o bundle/` would otherwise put the temporary directory into
    /// the output instead of beside it, and the rename fail.</summary>
    private static string OutputPath(string dir) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));

    /// <summary>
    /// Removes cached bundles unused for <paramref name="unusedFor"/>, then the layers and blobs nothing uses,
    /// under the exclusive cache lock so no build runs meanwhile.
    /// </summary>
    public static (int Layers, int Blobs, long Bytes, int Bundles) Prune(string cacheRoot, TimeSpan unusedFor)
    {
        var store = new ContentStore(cacheRoot);
        using var cacheLock = FileLock.Acquire(store.LockPath, exclusive: true);
        var bundles = 0;
        var bundleDir = Path.Combine(cacheRoot, "bundles");
        if (Directory.Exists(bundleDir))
        {
            foreach (var dir in Directory.EnumerateDirectories(bundleDir))
            {
                var digest = Path.Combine(dir, DigestFile);
                if (!File.Exists(digest) || File.GetLastWriteTimeUtc(digest) < DateTime.UtcNow - unusedFor)
                {
                    Directory.Delete(dir, recursive: true);
                    File.Delete(dir + ".lock"); // left by earlier versions; no build holds it under the exclusive lock
                    bundles++;
                }
            }
        }
        var locks = Path.Combine(cacheRoot, "locks");
        if (Directory.Exists(locks))
        {
            // Builds take these only while holding the shared cache lock, so none is held or waited on now.
            Directory.Delete(locks, recursive: true);
        }
        var (layers, blobs, bytes) = store.Prune(unusedFor);
        return (layers, blobs, bytes, bundles);
    }

    /// <param name="testSettings">test.json's content, or null for none; not part of the digest, so written on reuse too.</param>
    private BuiltBundle Build(BundlePlan plan, string outDir, string? testSettings)
    {
        var (layers, tree, config, digest, writableSources) = plan;
        // A writable root gets copies: a write through a hardlink would change the blob every bundle links. So
        // does a bundle that a writable mount holds, which the sandbox could otherwise write through that mount.
        var resolvedOut = Resolve(outDir);
        var copies = config.Root?.Readonly != true || writableSources.Any(s => Overlap(s, resolvedOut));
        if (ReadDigest(outDir) == digest && BundleManifest.Intact(outDir, tree, _store, copies))
        {
            foreach (var l in layers)
            {
                _store.RecordLayer(l, l.Digest());
            }
            TestSettingsFile.Update(outDir, testSettings);
            File.SetLastWriteTimeUtc(Path.Combine(outDir, DigestFile), DateTime.UtcNow); // used: keep it from `cache prune`
            return new BuiltBundle(outDir, digest, Reused: true);
        }
        var parent = Path.GetDirectoryName(outDir)!;
        Directory.CreateDirectory(parent);
        var tmp = Path.Combine(parent, $".{Path.GetFileName(outDir)}.{Guid.NewGuid():N}.tmp");
        try
        {
            // mkdir, not CreateDirectory: fails rather than reuse whatever might already be at the name.
            MakeDirectory(tmp);
            var rootfs = Path.Combine(tmp, "rootfs");
            MakeDirectory(rootfs);
            using (var writer = new RootfsWriter(rootfs))
            {
                foreach (var layer in layers)
                {
                    _store.Materialize(layer, writer, copies);
                    _store.RecordLayer(layer, layer.Digest());
                }
            }
            BundleManifest.Write(tmp, tree, _store);
            File.WriteAllText(Path.Combine(tmp, OciConfigLoader.FileName), OciConfigLoader.Serialize(config) + "\n");
            File.WriteAllText(Path.Combine(tmp, DigestFile), digest + "\n");
            TestSettingsFile.Update(tmp, testSettings);
            SwapIntoPlace(tmp, outDir, CheckReplaceable, _store);
            return new BuiltBundle(outDir, digest, Reused: false);
        }
        finally
        {
            if (Directory.Exists(tmp))
            {
                Directory.Delete(tmp, recursive: true);
            }
        }
    }

    private static void MakeDirectory(string path)
    {
        int rc;
        unsafe
        {
            fixed (byte* p = Interop.Libc.CString(path))
            {
                rc = LibC.mkdirat(LibC.AT_FDCWD, p, 0x1ed);
            }
        }
        if (rc != 0)
        {
            throw new SandboxException(ErrorCodes.Io, $"mkdir {path}: {Interop.Libc.Describe(LibC.errno)}", "check the output directory's permissions");
        }
        File.SetUnixFileMode(path, (UnixFileMode)0x1ed); // the umask's bits out
    }

    /// <summary>
    /// Puts the new bundle (or image layout) at <paramref name="outDir"/> in one atomic step: renameat2 with
    /// RENAME_NOREPLACE when nothing is there, RENAME_EXCHANGE with an earlier one that
    /// <paramref name="checkReplaceable"/> accepts (which then sits at <paramref name="tmp"/> and is removed with it).
    /// No lock is needed, so no lock file is left beside the output, and concurrent builds of one output each swap in
    /// a whole bundle: the last one wins. Filesystems without these flags fall back to moving the old bundle aside
    /// under a lock kept in the cache.
    /// </summary>
    internal static void SwapIntoPlace(string tmp, string outDir, Action<string> checkReplaceable, ContentStore store)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (Interop.Libc.Renameat2(LibC.AT_FDCWD, tmp, LibC.AT_FDCWD, outDir, Interop.Libc.RENAME_NOREPLACE) == 0)
            {
                return;
            }
            var errno = LibC.errno;
            if (errno == LibC.EINVAL)
            {
                SwapUnderLock(tmp, outDir, checkReplaceable, store);
                return;
            }
            if (errno != LibC.EEXIST)
            {
                throw new SandboxException(ErrorCodes.Io, $"rename {tmp} to {outDir}: {Interop.Libc.Describe(errno)}", "check the output directory's permissions");
            }
            checkReplaceable(outDir);
            if (Interop.Libc.Renameat2(LibC.AT_FDCWD, tmp, LibC.AT_FDCWD, outDir, Interop.Libc.RENAME_EXCHANGE) == 0)
            {
                return; // the caller removes tmp, which now holds the old bundle
            }
            errno = LibC.errno;
            if (errno != LibC.ENOENT || attempt > 100)
            {
                throw new SandboxException(ErrorCodes.Io, $"rename {tmp} to {outDir}: {Interop.Libc.Describe(errno)}", "check the output directory's permissions");
            }
            // ENOENT: another build's swap emptied the name in between; try again.
        }
    }

    /// <summary>Only a bundle this builder wrote, or an empty directory, is ever replaced.</summary>
    private static void CheckReplaceable(string outDir)
    {
        var stat = FileStat.Of(outDir);
        if (stat.Kind != FileKind.Directory
            || (Directory.EnumerateFileSystemEntries(outDir).Any() && !File.Exists(Path.Combine(outDir, DigestFile))))
        {
            throw new SandboxException(ErrorCodes.ContainerExists,
                stat.Kind == FileKind.Directory ? $"{outDir} exists and is not a bundle sandbox built" : $"{outDir} exists and is {stat.KindName}, not a bundle directory",
                "choose another output directory (-o), or remove it");
        }
    }

    /// <summary>The fallback for filesystems without renameat2 flags: the old bundle moves aside, under a lock in the cache.</summary>
    private static void SwapUnderLock(string tmp, string outDir, Action<string> checkReplaceable, ContentStore store)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(outDir)))[..32];
        using var swap = FileLock.Acquire(Path.Combine(store.Root, "locks", key), exclusive: true);
        string? old = null;
        if (FileStat.Of(outDir).Kind != FileKind.Missing)
        {
            checkReplaceable(outDir);
            old = Path.Combine(Path.GetDirectoryName(outDir)!, $".{Path.GetFileName(outDir)}.{Guid.NewGuid():N}.old");
            Directory.Move(outDir, old);
        }
        Directory.Move(tmp, outDir);
        if (old is not null)
        {
            Directory.Delete(old, recursive: true);
        }
    }

    private static string? ReadDigest(string dir)
    {
        var path = Path.Combine(dir, DigestFile);
        return File.Exists(path) && File.Exists(Path.Combine(dir, OciConfigLoader.FileName)) ? File.ReadAllText(path).Trim() : null;
    }

    /// <summary>The ELF closure of .NET's native files, minus the installation itself, which is bind-mounted.</summary>
    private Layer DotnetLibraries(DotnetInstallation dotnet)
    {
        var closure = new LibraryClosure();
        foreach (var f in dotnet.NativeFiles())
        {
            closure.Add(f);
        }
        foreach (var pattern in DotnetInstallation.OnDemandLibraries)
        {
            // Every match: .NET opens these by soname ("libicuuc.so.72"), which is a link to the versioned file.
            foreach (var lib in FindAll(pattern, closure))
            {
                closure.Add(lib);
            }
        }
        var layer = new Layer(LayerStack.DotnetLayerName);
        var inside = dotnet.Root + "/";
        foreach (var path in closure.Files)
        {
            if (path.StartsWith(inside, StringComparison.Ordinal) || path == dotnet.Root)
            {
                continue;
            }
            AddHostPath(layer, path, path);
        }
        layer.Add(new LayerEntry(dotnet.Root, EntryKind.Directory, 0x1ed));
        // The loader's cache saves every library lookup a directory walk (measured: 3.7 ms of a .NET hello world).
        // Entries for libraries the bundle lacks just miss, and the loader falls back to its directories.
        if (File.Exists("/etc/ld.so.cache"))
        {
            AddHostPath(layer, "/etc/ld.so.cache", "/etc/ld.so.cache");
        }
        return layer;
    }

    /// <summary>The matches in the first loader directory that has any, as the loader would find them.</summary>
    private static IEnumerable<string> FindAll(string pattern, LibraryClosure closure)
    {
        var machine = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64
            ? ElfFile.MachineAarch64 : ElfFile.MachineX64;
        foreach (var dir in closure.SearchDirectories(machine))
        {
            var matches = closure.Names(dir).Where(n => System.IO.Enumeration.FileSystemName.MatchesSimpleExpression(pattern, n, ignoreCase: false)).ToList();
            if (matches.Count > 0)
            {
                return matches.Order(StringComparer.Ordinal).Select(n => dir + "/" + n);
            }
        }
        return [];
    }

    /// <summary>
    /// The `files:` entries, walked without following any symlink: a symlink (the source itself or one inside a
    /// source directory) is copied as a symlink with its target text unchanged, wherever it points, so nothing the
    /// spec does not list is read from the host. FIFOs, sockets and devices are refused, never opened.
    /// </summary>
    private Layer CopiedFiles(SandboxSpec spec)
    {
        var layer = new Layer(LayerStack.FilesLayerName);
        foreach (var f in spec.Files)
        {
            AddTree(layer, f.HostPath, f.ContainerPath);
        }
        return layer;
    }

    private void AddTree(Layer layer, string hostPath, string containerPath)
    {
        var stat = AddHostPath(layer, hostPath, containerPath);
        if (stat.Kind == FileKind.Directory)
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(hostPath).Order(StringComparer.Ordinal))
            {
                AddTree(layer, entry, containerPath.TrimEnd('/') + "/" + Path.GetFileName(entry));
            }
        }
    }

    private FileStat AddHostPath(Layer layer, string hostPath, string containerPath)
    {
        var stat = FileStat.Of(hostPath);
        switch (stat.Kind)
        {
            case FileKind.Symlink:
                layer.Add(new LayerEntry(containerPath, EntryKind.Symlink, 0x1ff, LinkTarget: new FileInfo(hostPath).LinkTarget));
                break;
            case FileKind.Directory:
                if (containerPath.Trim('/').Length > 0)
                {
                    layer.Add(new LayerEntry(containerPath.TrimEnd('/'), EntryKind.Directory, 0x1ed));
                }
                break;
            case FileKind.Regular:
                // Modes are normalized to 0755 or 0644: the owner's execute bit is the only one that matters.
                var mode = (stat.Permissions & 0x40) != 0 ? 0x1edu : 0x1a4u;
                layer.Add(new LayerEntry(containerPath, EntryKind.File, mode, _store.Ingest(hostPath, mode, stat)));
                break;
            case FileKind.Missing:
                throw new SandboxException(ErrorCodes.InputChanged, $"{hostPath} was removed while the bundle was being built", "build again");
            default:
                throw new SandboxException(ErrorCodes.InputRefused,
                    $"{hostPath} is {stat.KindName}: only regular files, directories and symlinks are copied into a bundle",
                    "remove it from the source directory or list narrower sources; to share it with the sandbox, use mounts:");
        }
        return stat;
    }

    private Layer Generated(SandboxSpec spec, DotnetInstallation? dotnet)
    {
        var layer = new Layer(LayerStack.GeneratedLayerName);
        foreach (var (path, content) in EtcFilesGenerator.Generate(spec, () => File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : null))
        {
            layer.Add(new LayerEntry(path, EntryKind.File, 0x1a4, _store.Ingest(Encoding.UTF8.GetBytes(content), 0x1a4)));
        }
        // Mount points and the working directory exist in the image, so a read-only root needs no changes at run time.
        // A tmpfs mount point has the tmpfs's mode: runc (1.1) gives a tmpfs the mode of the directory it covers, which
        // matters once the bundle is exported as an image.
        foreach (var dir in new[] { "/proc", "/dev", "/sys", "/tmp", spec.WorkingDirectory }
                     .Concat(spec.Tmpfs.Select(t => t.ContainerPath))
                     .Concat(spec.Mounts.Where(m => Directory.Exists(m.HostPath)).Select(m => m.ContainerPath))
                     .Concat(dotnet is null ? [] : [dotnet.Root]))
        {
            if (dir != "/" && !layer.Contains(dir))
            {
                var mode = spec.Tmpfs.FirstOrDefault(t => t.ContainerPath.TrimEnd('/') == dir.TrimEnd('/'))?.Mode ?? (dir == "/tmp" ? 0x3ffu : 0x1edu);
                layer.Add(new LayerEntry(dir.TrimEnd('/'), EntryKind.Directory, mode));
            }
        }
        foreach (var m in spec.Mounts.Where(m => File.Exists(m.HostPath)))
        {
            layer.Add(new LayerEntry(m.ContainerPath, EntryKind.File, 0x1a4, _store.Ingest([], 0x1a4)));
        }
        return layer;
    }

    /// <summary>
    /// The bundle's identity: its layers and its config, with paths under the spec's own directory written
    /// relative to it, so the same spec and inputs give the same digest wherever the checkout lives.
    /// </summary>
    private static string Digest(List<Layer> layers, OciConfig config, SandboxSpec spec)
    {
        var specDir = Path.GetDirectoryName(spec.SourcePath)!.TrimEnd('/') + "/";
        var normalized = config with
        {
            // The spec's own path is where it lives, not what it says; every other annotation is part of the bundle.
            Annotations = config.Annotations?.Where(a => a.Key != SandboxAnnotations.Spec).ToDictionary(a => a.Key, a => a.Value),
            Mounts = config.Mounts?.Select(m => m.Source is { } s && s.StartsWith(specDir, StringComparison.Ordinal)
                ? m with { Source = "${SPEC_DIR}/" + s[specDir.Length..] } : m).ToList(),
        };
        var text = new StringBuilder("sandbox-bundle v1\n");
        foreach (var l in layers)
        {
            text.Append(l.Name).Append(' ').Append(l.Digest()).Append('\n');
        }
        text.Append(OciConfigLoader.Serialize(normalized));
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
