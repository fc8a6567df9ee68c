using System.Security.Cryptography;
using Sandbox.Spec;

namespace Sandbox.Bundles.Tests;

/// <summary>
/// Attacks on the builder (issue 9): symlinks in a source tree that would lead writes out of the bundle, a container
/// that writes through a hardlink into the shared cache, inputs that are not regular files, and lock files left
/// beside the output. Each test fails without its defence.
/// </summary>
public sealed class BundleEscapeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bundle-escape-").FullName;

    public void Dispose()
    {
        foreach (var f in Directory.EnumerateFileSystemEntries(_dir, "*", SearchOption.AllDirectories))
        {
            if (!File.GetAttributes(f).HasFlag(FileAttributes.ReparsePoint) && Directory.Exists(f))
            {
                File.SetUnixFileMode(f, (UnixFileMode)0x1ed);
            }
        }
        Directory.Delete(_dir, true);
    }

    private string Cache => Path.Join(_dir, "cache");

    private SandboxSpec Spec(string name, params CopiedPath[] files)
    {
        var specDir = Directory.CreateDirectory(Path.Join(_dir, name)).FullName;
        return new SandboxSpec { SourcePath = Path.Join(specDir, "sandbox.yaml"), Seccomp = "unconfined", Command = ["/bin/true"], Files = files };
    }

    private static CopiedPath Copy(string source, string target) => new(source, target, default);

    private string Victim(string name)
    {
        var victim = Directory.CreateDirectory(Path.Join(_dir, name)).FullName;
        File.SetUnixFileMode(victim, (UnixFileMode)0x1c0);
        return victim;
    }

    private void AssertNothingLeftBeside(string outDir)
    {
        Assert.False(Directory.Exists(outDir), $"{outDir} was written");
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(outDir)!, "." + Path.GetFileName(outDir) + ".*"));
        Assert.False(File.Exists(outDir + ".lock"));
    }

    [Fact]
    public void Symlinks_named_tmp_and_etc_in_a_source_tree_make_the_build_fail_and_nothing_outside_changes()
    {
        var v1 = Victim("v1");
        var v2 = Victim("v2");
        var tree = Directory.CreateDirectory(Path.Join(_dir, "tree")).FullName;
        File.CreateSymbolicLink(Path.Join(tree, "tmp"), v1);
        File.CreateSymbolicLink(Path.Join(tree, "etc"), v2);
        var outDir = Path.Join(_dir, "out");

        var e = Assert.Throws<SandboxException>(() => new BundleBuilder(Cache, 0, 0).Build(Spec("s", Copy(tree, "/")), outDir));

        Assert.Equal(ErrorCodes.BuildThroughSymlink, e.Code);
        Assert.Contains("/etc", e.Message, StringComparison.Ordinal);
        Assert.Equal((UnixFileMode)0x1c0, File.GetUnixFileMode(v1));
        Assert.Equal((UnixFileMode)0x1c0, File.GetUnixFileMode(v2));
        Assert.Empty(Directory.GetFileSystemEntries(v2));
        AssertNothingLeftBeside(outDir);
    }

    [Fact]
    public void The_rootfs_writer_itself_never_writes_through_a_symlink_whatever_it_is_asked()
    {
        var victim = Victim("victim");
        var payload = Path.Join(_dir, "payload");
        File.WriteAllText(payload, "x");
        var rootfs = Directory.CreateDirectory(Path.Join(_dir, "rootfs")).FullName;
        using var writer = new RootfsWriter(rootfs);
        writer.Symlink("/etc", victim);
        writer.Symlink("/tmp", victim);

        var attempts = new Action[]
        {
            () => writer.Directory("/tmp", 0x3ff),
            () => writer.Directory("/etc/app", 0x1ed),
            () => writer.TryLink("/etc/passwd", payload),
            () => writer.Copy("/etc/group", payload, 0x1a4),
            () => writer.Symlink("/etc/link", "/"),
        };
        foreach (var attempt in attempts)
        {
            Assert.Equal(ErrorCodes.BuildThroughSymlink, Assert.Throws<SandboxException>(attempt).Code);
        }
        Assert.Equal((UnixFileMode)0x1c0, File.GetUnixFileMode(victim));
        Assert.Empty(Directory.GetFileSystemEntries(victim));
    }

    [Fact]
    public void A_later_files_entry_under_a_copied_symlink_is_refused()
    {
        var victim = Victim("victim");
        var tree = Directory.CreateDirectory(Path.Join(_dir, "tree")).FullName;
        File.CreateSymbolicLink(Path.Join(tree, "sub"), victim);
        var payload = Path.Join(_dir, "payload");
        File.WriteAllText(payload, "x");
        var spec = Spec("s", Copy(tree, "/opt/tree"), Copy(payload, "/opt/tree/sub/planted")) with { Etc = new EtcFiles { Passwd = false, Group = false, Hosts = false, ResolvConf = false, NsswitchConf = false } };

        var e = Assert.Throws<SandboxException>(() => new BundleBuilder(Cache, 0, 0).Build(spec, Path.Join(_dir, "out")));

        Assert.Equal(ErrorCodes.BuildThroughSymlink, e.Code);
        Assert.Contains("/opt/tree/sub", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(victim));
    }

    [Fact]
    public void A_mount_point_under_a_copied_symlink_is_refused()
    {
        var victim = Victim("victim");
        var tree = Directory.CreateDirectory(Path.Join(_dir, "tree")).FullName;
        File.CreateSymbolicLink(Path.Join(tree, "data"), victim);
        var spec = Spec("s", Copy(tree, "/srv")) with { Mounts = [new HostMount(_dir, "/srv/data/inner", false, default)] };

        var e = Assert.Throws<SandboxException>(() => new BundleBuilder(Cache, 0, 0).Build(spec, Path.Join(_dir, "out")));

        Assert.Equal(ErrorCodes.BuildThroughSymlink, e.Code);
        Assert.Empty(Directory.GetFileSystemEntries(victim));
    }

    [Fact]
    public void Symlinks_in_and_of_a_source_are_copied_as_symlinks_and_never_followed()
    {
        var secret = Directory.CreateDirectory(Path.Join(_dir, "secret")).FullName;
        File.WriteAllText(Path.Join(secret, "key"), "not listed");
        var tree = Directory.CreateDirectory(Path.Join(_dir, "tree")).FullName;
        File.WriteAllText(Path.Join(tree, "plain"), "listed");
        File.CreateSymbolicLink(Path.Join(tree, "dir-out"), secret);
        File.CreateSymbolicLink(Path.Join(tree, "file-out"), Path.Join(secret, "key"));
        File.CreateSymbolicLink(Path.Join(tree, "relative"), "plain");
        var linkSource = Path.Join(_dir, "link-source");
        File.CreateSymbolicLink(linkSource, secret);

        var built = new BundleBuilder(Cache, 0, 0).Build(Spec("s", Copy(tree, "/t"), Copy(linkSource, "/l")), Path.Join(_dir, "out"));

        var rootfs = Path.Join(built.Directory, "rootfs");
        Assert.Equal("listed", File.ReadAllText(Path.Join(rootfs, "t/plain")));
        Assert.Equal(secret, new FileInfo(Path.Join(rootfs, "t/dir-out")).LinkTarget);
        Assert.Equal(Path.Join(secret, "key"), new FileInfo(Path.Join(rootfs, "t/file-out")).LinkTarget);
        Assert.Equal("plain", new FileInfo(Path.Join(rootfs, "t/relative")).LinkTarget);
        Assert.Equal(secret, new FileInfo(Path.Join(rootfs, "l")).LinkTarget);
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Join(_dir, "cache"), "*", SearchOption.AllDirectories),
            f => !f.Contains("/index/", StringComparison.Ordinal) && File.ReadAllText(f) == "not listed");

        // Replacing the bundle removes the old one, links and all, without following a link out of it.
        File.WriteAllText(Path.Join(tree, "plain"), "changed");
        Assert.False(new BundleBuilder(Cache, 0, 0).Build(Spec("s", Copy(tree, "/t"), Copy(linkSource, "/l")), Path.Join(_dir, "out")).Reused);
        Assert.Equal("not listed", File.ReadAllText(Path.Join(secret, "key")));
    }

    [Fact]
    public void A_fifo_as_a_source_or_in_a_source_directory_is_refused_without_opening_it()
    {
        var fifo = Path.Join(_dir, "fifo");
        var tree = Directory.CreateDirectory(Path.Join(_dir, "tree")).FullName;
        Mkfifo(fifo);
        Mkfifo(Path.Join(tree, "pipe"));

        foreach (var (spec, named) in new[] { (Spec("a", Copy(fifo, "/f")), fifo), (Spec("b", Copy(tree, "/t")), Path.Join(tree, "pipe")) })
        {
            var e = BuildWithin(spec, Path.Join(_dir, "out"));
            Assert.Equal(ErrorCodes.InputRefused, e.Code);
            Assert.Contains(named, e.Message, StringComparison.Ordinal);
            AssertNothingLeftBeside(Path.Join(_dir, "out"));
        }
    }

    [Fact]
    public void A_device_as_a_source_is_refused()
    {
        var e = BuildWithin(Spec("a", Copy("/dev/zero", "/zero")), Path.Join(_dir, "out"));
        Assert.Equal(ErrorCodes.InputRefused, e.Code);
        Assert.Contains("/dev/zero", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Builds in a task so that a hang (a FIFO opened, /dev/zero read) fails the test instead of stalling it.</summary>
    private SandboxException BuildWithin(SandboxSpec spec, string outDir)
    {
        var build = Task.Run(() => new BundleBuilder(Cache, 0, 0).Build(spec, outDir));
        Assert.True(Task.WaitAny([build], TimeSpan.FromSeconds(20)) == 0, "the build hung on an input that is not a regular file");
        return Assert.IsType<SandboxException>(build.Exception?.InnerException, exactMatch: true);
    }

    [Fact]
    public void A_file_over_the_size_limit_is_refused_before_it_is_read()
    {
        var big = Path.Join(_dir, "big");
        using (var f = File.Create(big))
        {
            f.SetLength(1025); // sparse: the limit is checked from the stat, nothing is read
        }
        var outDir = Path.Join(_dir, "out");

        var e = Assert.Throws<SandboxException>(() => new BundleBuilder(Cache, 0, 0, maxFileBytes: 1024).Build(Spec("s", Copy(big, "/big")), outDir));

        Assert.Equal(ErrorCodes.InputRefused, e.Code);
        Assert.Contains(big, e.Message, StringComparison.Ordinal);
        AssertNothingLeftBeside(outDir);
    }

    [Fact]
    public void A_files_entry_where_the_builder_generates_a_file_is_refused_with_a_hint()
    {
        var passwd = Path.Join(_dir, "passwd");
        File.WriteAllText(passwd, "mine\n");
        var e = Assert.Throws<SandboxException>(() => new BundleBuilder(Cache, 0, 0).Build(Spec("s", Copy(passwd, "/etc/passwd")), Path.Join(_dir, "out")));
        Assert.Equal(ErrorCodes.BuildPathConflict, e.Code);
        Assert.Contains("etc:", e.Hint, StringComparison.Ordinal);

        var built = new BundleBuilder(Cache, 0, 0).Build(Spec("s", Copy(passwd, "/etc/passwd")) with { Etc = new EtcFiles { Passwd = false } }, Path.Join(_dir, "out"));
        Assert.Equal("mine\n", File.ReadAllText(Path.Join(built.Directory, "rootfs/etc/passwd")));
    }

    [Fact]
    public void A_symlink_to_a_file_outside_replacing_a_generated_file_is_refused()
    {
        var victim = Path.Join(_dir, "victim");
        File.WriteAllText(victim, "host\n");
        var tree = Directory.CreateDirectory(Path.Join(_dir, "tree")).FullName;
        Directory.CreateDirectory(Path.Join(tree, "etc"));
        File.CreateSymbolicLink(Path.Join(tree, "etc/hosts"), victim);

        var e = Assert.Throws<SandboxException>(() => new BundleBuilder(Cache, 0, 0).Build(Spec("s", Copy(tree, "/")), Path.Join(_dir, "out")));

        Assert.Equal(ErrorCodes.BuildThroughSymlink, e.Code);
        Assert.Contains("/etc/hosts", e.Message, StringComparison.Ordinal);
        Assert.Equal("host\n", File.ReadAllText(victim));
    }

    [Fact]
    public void An_output_directory_gets_no_lock_file_beside_it()
    {
        var payload = Path.Join(_dir, "payload");
        File.WriteAllText(payload, "x");
        var outDir = Path.Join(_dir, "out");
        var builder = new BundleBuilder(Cache, 0, 0);
        builder.Build(Spec("s", Copy(payload, "/p")), outDir);
        File.WriteAllText(payload, "y");
        builder.Build(Spec("s", Copy(payload, "/p")), outDir);
        Assert.Equal(new[] { "cache", "out", "payload", "s" }, Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_blob_changed_in_the_cache_is_detected_and_replaced_and_no_bundle_serves_it()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var payload = Path.Join(_dir, "payload");
        File.WriteAllText(payload, "original\n");
        var first = builder.Build(Spec("s", Copy(payload, "/app/p")), Path.Join(_dir, "out"));
        // What a container with a writable root did before the fix: write through a hardlink into the blob.
        File.AppendAllText(BlobOf(Path.Join(first.Directory, "rootfs/etc/passwd")), "evil:x:0:0::/:/bin/sh\n");
        File.AppendAllText(BlobOf(Path.Join(first.Directory, "rootfs/app/p")), "evil\n");

        var other = builder.Build(Spec("s", Copy(payload, "/app/p")) with { Hostname = "other" }, Path.Join(_dir, "other"));
        var again = builder.Build(Spec("s", Copy(payload, "/app/p")), Path.Join(_dir, "out"));

        foreach (var b in new[] { other, again })
        {
            Assert.DoesNotContain("evil", File.ReadAllText(Path.Join(b.Directory, "rootfs/etc/passwd")), StringComparison.Ordinal);
            Assert.Equal("original\n", File.ReadAllText(Path.Join(b.Directory, "rootfs/app/p")));
        }
        Assert.False(again.Reused, "a bundle whose files changed must be built again, not reused");
        AssertEveryBlobMatchesItsName();
    }

    [Fact]
    public void A_writable_root_gets_copies_so_writing_it_changes_no_blob_and_the_next_build_restores_it()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var payload = Path.Join(_dir, "payload");
        File.WriteAllText(payload, "original\n");
        var spec = Spec("s", Copy(payload, "/app/p")) with { ReadOnlyRoot = false };
        var outDir = Path.Join(_dir, "out");
        var built = builder.Build(spec, outDir);
        var rootfs = Path.Join(built.Directory, "rootfs");

        // What the container does: append to files of its root, add one.
        File.AppendAllText(Path.Join(rootfs, "etc/passwd"), "evil:x:0:0::/:/bin/sh\n");
        File.AppendAllText(Path.Join(rootfs, "app/p"), "evil\n");
        File.WriteAllText(Path.Join(rootfs, "etc/planted"), "evil\n");
        AssertEveryBlobMatchesItsName();

        var other = builder.Build(spec with { ReadOnlyRoot = true }, Path.Join(_dir, "other"));
        var again = builder.Build(spec, outDir);
        foreach (var b in new[] { other, again })
        {
            Assert.DoesNotContain("evil", File.ReadAllText(Path.Join(b.Directory, "rootfs/etc/passwd")), StringComparison.Ordinal);
            Assert.Equal("original\n", File.ReadAllText(Path.Join(b.Directory, "rootfs/app/p")));
        }
        Assert.False(again.Reused);
        Assert.False(File.Exists(Path.Join(outDir, "rootfs/etc/planted")));
        Assert.True(builder.Build(spec, outDir).Reused, "an untouched bundle is still reused");
    }

    [Fact]
    public void A_writable_mount_that_holds_the_cache_or_lies_in_it_is_refused_and_a_read_only_one_is_not()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        builder.Build(Spec("warm"), Path.Join(_dir, "warm-out")); // the cache exists, with blobs
        foreach (var source in new[] { _dir, Path.Join(Cache, "blobs") })
        {
            var e = Assert.Throws<SandboxException>(() => builder.Build(Spec("s") with { Mounts = [new HostMount(source, "/w", true, default)] }, Path.Join(_dir, "out")));
            Assert.Equal(ErrorCodes.MountExposesCache, e.Code);
            Assert.Contains(Cache, e.Message, StringComparison.Ordinal);
            AssertNothingLeftBeside(Path.Join(_dir, "out"));
        }
        builder.Build(Spec("s") with { Mounts = [new HostMount(_dir, "/w", false, default)] }, Path.Join(_dir, "out"));
    }

    [Fact]
    public void A_bundle_inside_a_writable_mount_gets_copies_and_one_outside_gets_hardlinks()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var project = Directory.CreateDirectory(Path.Join(_dir, "project")).FullName;
        var inside = builder.Build(Spec("s") with { Mounts = [new HostMount(project, "/src", true, default)] }, Path.Join(project, "bundle"));
        var outside = builder.Build(Spec("s") with { Mounts = [new HostMount(project, "/src", true, default)] }, Path.Join(_dir, "bundle"));
        var readOnly = builder.Build(Spec("s") with { Mounts = [new HostMount(project, "/src", false, default)] }, Path.Join(project, "ro-bundle"));

        Assert.Equal(1u, FileStat.Of(Path.Join(inside.Directory, "rootfs/etc/passwd")).Nlink);
        Assert.True(FileStat.Of(Path.Join(outside.Directory, "rootfs/etc/passwd")).Nlink > 1);
        Assert.True(FileStat.Of(Path.Join(readOnly.Directory, "rootfs/etc/passwd")).Nlink > 1);
        Assert.True(builder.Build(Spec("s") with { Mounts = [new HostMount(project, "/src", true, default)] }, Path.Join(project, "bundle")).Reused);
    }

    /// <summary>The blob a bundle file is a hardlink to (same inode), found by content in the cache.</summary>
    private string BlobOf(string bundleFile)
    {
        var content = File.ReadAllBytes(bundleFile);
        var hex = Convert.ToHexStringLower(SHA256.HashData(content));
        return Directory.GetFiles(Path.Join(Cache, "blobs/sha256"), hex + ".*").Single();
    }

    private void AssertEveryBlobMatchesItsName()
    {
        foreach (var blob in Directory.GetFiles(Path.Join(Cache, "blobs/sha256")))
        {
            var name = Path.GetFileName(blob);
            Assert.Equal(name[..name.IndexOf('.', StringComparison.Ordinal)], Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(blob))));
        }
    }

    private static void Mkfifo(string path)
    {
        using var p = System.Diagnostics.Process.Start("mkfifo", [path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
