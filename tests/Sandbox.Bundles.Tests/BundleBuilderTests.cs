using Sandbox.Oci;
using Sandbox.Spec;

namespace Sandbox.Bundles.Tests;

public sealed class BundleBuilderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bundle-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Cache => Path.Join(_dir, "cache");

    /// <summary>A spec in its own directory with one copied file, as a user would write it.</summary>
    private SandboxSpec SpecIn(string name, string content = "payload\n")
    {
        var specDir = Directory.CreateDirectory(Path.Join(_dir, name)).FullName;
        File.WriteAllText(Path.Join(specDir, "app.txt"), content);
        Directory.CreateDirectory(Path.Join(specDir, "data"));
        return new SandboxSpec
        {
            SourcePath = Path.Join(specDir, "sandbox.yaml"),
            Seccomp = "unconfined",
            Command = ["/bin/true"],
            Files = [new CopiedPath(Path.Join(specDir, "app.txt"), "/app/app.txt", default)],
            Mounts = [new HostMount(Path.Join(specDir, "data"), "/data", false, default)],
        };
    }

    [Fact]
    public void The_same_spec_in_two_directories_gives_the_same_digest_and_one_byte_changes_it()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var a = builder.Build(SpecIn("a"), Path.Join(_dir, "out-a"));
        var b = builder.Build(SpecIn("b"), Path.Join(_dir, "out-b"));
        var c = builder.Build(SpecIn("c", "payloaD\n"), Path.Join(_dir, "out-c"));
        Assert.StartsWith("sha256:", a.Digest, StringComparison.Ordinal);
        Assert.Equal(a.Digest, b.Digest);
        Assert.NotEqual(a.Digest, c.Digest);
        Assert.Equal("payload\n", File.ReadAllText(Path.Join(a.Directory, "rootfs/app/app.txt")));
        Assert.Equal(a.Digest, File.ReadAllText(Path.Join(a.Directory, "digest")).Trim());
    }

    [Fact]
    public void An_output_named_with_a_trailing_slash_is_built_and_rebuilt_in_place()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var spec = SpecIn("s");
        var outDir = Path.Join(_dir, "out") + "/";
        Assert.Equal(Path.Join(_dir, "out"), builder.Build(spec, outDir).Directory);
        File.WriteAllText(Path.Join(_dir, "s", "app.txt"), "new\n");
        Assert.False(builder.Build(spec, outDir).Reused);
        Assert.Equal("new\n", File.ReadAllText(Path.Join(outDir, "rootfs/app/app.txt")));
        Assert.Equal(["config.json", "digest", "rootfs", "rootfs.manifest"], Directory.GetFileSystemEntries(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_unchanged_spec_reuses_the_bundle_and_a_changed_one_replaces_it_whole()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var spec = SpecIn("s");
        var outDir = Path.Join(_dir, "out");
        Assert.False(builder.Build(spec, outDir).Reused);
        Assert.True(builder.Build(spec, outDir).Reused);
        File.WriteAllText(Path.Join(_dir, "s", "app.txt"), "new\n");
        var rebuilt = builder.Build(spec, outDir);
        Assert.False(rebuilt.Reused);
        Assert.Equal("new\n", File.ReadAllText(Path.Join(outDir, "rootfs/app/app.txt")));
        Assert.Empty(Directory.GetDirectories(_dir, ".out.*"));
    }

    [Fact]
    public void The_config_carries_the_hermetic_defaults_and_the_declared_mounts()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var spec = SpecIn("cfg") with { Environment = new Dictionary<string, string> { ["X"] = "1" }, PassEnvironment = ["HOME"] };
        var built = builder.Build(spec, Path.Join(_dir, "out"));
        var config = OciConfigLoader.LoadBundle(built.Directory);
        Assert.True(config.Root!.Readonly);
        Assert.Equal("sandbox", config.Hostname);
        Assert.Contains(config.Linux!.Namespaces!, n => n.Type == "network");
        Assert.Equal(1000u, config.Process!.User!.Uid);
        Assert.Contains("TZ=UTC", config.Process.Env!);
        Assert.Contains("LANG=C.UTF-8", config.Process.Env!);
        Assert.Contains("X=1", config.Process.Env!);
        Assert.DoesNotContain(config.Process.Env!, e => e.StartsWith("HOME=/root", StringComparison.Ordinal));
        Assert.Equal("HOME", config.Annotations![BundleConfig.PassEnvAnnotation]);
        var data = config.Mounts!.Single(m => m.Destination == "/data");
        Assert.Contains("ro", data.Options!);
        Assert.Contains(config.Mounts!, m => m.Destination == "/tmp" && m.Type == "tmpfs");
        Assert.True(File.Exists(Path.Join(built.Directory, "rootfs/etc/passwd")));
        Assert.Contains("sandbox:x:1000:1000", File.ReadAllText(Path.Join(built.Directory, "rootfs/etc/passwd")), StringComparison.Ordinal);
    }

    [Fact]
    public void The_dotnet_base_holds_the_native_closure_and_binds_the_installation()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var spec = SpecIn("dn") with { Base = BaseImage.Dotnet, Command = null };
        var built = builder.Build(spec, Path.Join(_dir, "out"));
        var rootfs = Path.Join(built.Directory, "rootfs");
        var libs = Directory.EnumerateFiles(rootfs, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToHashSet();
        Assert.Contains("libc.so.6", libs);
        Assert.Contains("libstdc++.so.6", libs);
        Assert.Contains(libs, l => l!.StartsWith("libicuuc.so.", StringComparison.Ordinal));
        Assert.Contains(libs, l => l!.StartsWith("libssl.so.", StringComparison.Ordinal));
        var dotnet = DotnetInstallation.Locate()!;
        Assert.False(File.Exists(Path.Join(rootfs, dotnet.Root, "dotnet")), "the installation is bind-mounted, not copied");
        var config = OciConfigLoader.LoadBundle(built.Directory);
        Assert.Contains(config.Mounts!, m => m.Destination == dotnet.Root && m.Source == dotnet.Root && m.Options!.Contains("ro"));
        Assert.Equal(["dotnet", "--info"], config.Process!.Args!);
        Assert.Contains($"DOTNET_ROOT={dotnet.Root}", config.Process.Env!);
    }

    [Fact]
    public void The_installation_is_not_mounted_again_under_a_mount_that_shows_it_at_its_own_path()
    {
        // SandboxExec's default base mounts /usr from /usr: a mount of /usr/share/dotnet before it would only be covered.
        var dotnet = DotnetInstallation.Locate()!;
        var parent = Path.GetDirectoryName(dotnet.Root)!;
        var loc = new SourceLocation("sandbox.yaml", 1, 1);
        var builder = new BundleBuilder(Cache, 0, 0);
        var covered = builder.Build(SpecIn("cov") with { Base = BaseImage.Dotnet, Mounts = [new HostMount(parent, parent, false, loc)] }, Path.Join(_dir, "cov-out"));
        var mounts = OciConfigLoader.LoadBundle(covered.Directory).Mounts!;
        Assert.DoesNotContain(mounts, m => m.Destination == dotnet.Root);
        Assert.Contains(mounts, m => m.Destination == parent && m.Source == parent);
        // Elsewhere, or from another host directory, the installation keeps its own mount.
        var elsewhere = builder.Build(SpecIn("else") with { Base = BaseImage.Dotnet, Mounts = [new HostMount(_dir, parent, false, loc)] }, Path.Join(_dir, "else-out"));
        Assert.Contains(OciConfigLoader.LoadBundle(elsewhere.Directory).Mounts!, m => m.Destination == dotnet.Root && m.Source == dotnet.Root);
        Assert.True(BundleConfig.ShowsAtItsOwnPath(new HostMount("/", "/", false, loc), dotnet.Root));
        Assert.False(BundleConfig.ShowsAtItsOwnPath(new HostMount(dotnet.Root + "-not", dotnet.Root + "-not", false, loc), dotnet.Root));
    }

    [Fact]
    public void A_time_limit_becomes_an_annotation_and_changes_the_digest()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var a = builder.Build(SpecIn("t1") with { Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(30) } }, Path.Join(_dir, "t1-out"));
        var b = builder.Build(SpecIn("t2") with { Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(31) } }, Path.Join(_dir, "t2-out"));
        Assert.NotEqual(a.Digest, b.Digest);
        Assert.Equal("30000", OciConfigLoader.LoadBundle(a.Directory).Annotations![SandboxAnnotations.TimeoutMs]);
    }

    [Fact]
    public void Limits_become_resources()
    {
        var built = new BundleBuilder(Cache, 0, 0).Build(SpecIn("lim") with { Limits = new ResourceLimits { MemoryBytes = 1 << 30, Cpus = 1.5, Pids = 64 } }, Path.Join(_dir, "lim-out"));
        var r = OciConfigLoader.LoadBundle(built.Directory).Linux!.Resources!;
        Assert.Equal(1L << 30, r.Memory!.Limit);
        Assert.Equal(150000, r.Cpu!.Quota);
        Assert.Equal(100000ul, r.Cpu.Period);
        Assert.Equal(64, r.Pids!.Limit);
    }

    [Fact]
    public void The_spec_seccomp_profile_lands_in_the_config()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var hermetic = OciConfigLoader.LoadBundle(builder.Build(SpecIn("h") with { Seccomp = "hermetic" }, Path.Join(_dir, "h-out")).Directory);
        Assert.Equal("SCMP_ACT_ERRNO", hermetic.Linux!.Seccomp!.DefaultAction);
        Assert.Contains(hermetic.Linux.Seccomp.Syscalls!, r => r.Names!.Contains("socket") && r.Args is { Count: 1 });
        var unconfined = OciConfigLoader.LoadBundle(builder.Build(SpecIn("u"), Path.Join(_dir, "u-out")).Directory);
        Assert.Null(unconfined.Linux!.Seccomp);
    }

    [Fact]
    public void An_existing_directory_that_is_not_a_bundle_is_never_replaced()
    {
        var outDir = Directory.CreateDirectory(Path.Join(_dir, "precious")).FullName;
        File.WriteAllText(Path.Join(outDir, "keep.txt"), "mine");
        var e = Assert.Throws<SandboxException>(() => new BundleBuilder(Cache, 0, 0).Build(SpecIn("x"), outDir));
        Assert.Equal(ErrorCodes.ContainerExists, e.Code);
        Assert.Equal("mine", File.ReadAllText(Path.Join(outDir, "keep.txt")));
        Assert.Empty(Directory.GetDirectories(_dir, ".precious.*"));
    }

    [Fact]
    public void Concurrent_builds_of_the_same_and_different_specs_are_safe()
    {
        var builder = new BundleBuilder(Cache, 0, 0);
        var specs = new[] { SpecIn("c1"), SpecIn("c2", "other\n") };
        var results = Enumerable.Range(0, 8).AsParallel().WithDegreeOfParallelism(8)
            .Select(i => builder.Build(specs[i % 2], Path.Join(_dir, $"par-{i % 2}"))).ToList();
        Assert.Equal(2, results.Select(r => r.Digest).Distinct().Count());
        Assert.Equal("payload\n", File.ReadAllText(Path.Join(_dir, "par-0/rootfs/app/app.txt")));
        Assert.Equal("other\n", File.ReadAllText(Path.Join(_dir, "par-1/rootfs/app/app.txt")));
        Assert.Empty(Directory.GetDirectories(_dir, ".par-*"));
    }
}
