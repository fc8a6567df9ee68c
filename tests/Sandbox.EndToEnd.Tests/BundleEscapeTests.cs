using System.Security.Cryptography;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// Issue 9 through the published executables: a source tree whose symlinks lead out of the bundle, a container that
/// writes its root to change the shared cache, inputs that are not regular files, a lock file beside the output.
/// </summary>
public sealed class BundleEscapeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-escape-e2e-").FullName;

    public BundleEscapeTests() => File.SetUnixFileMode(_dir, (UnixFileMode)0x1ed);

    public void Dispose() => Directory.Delete(_dir, true);

    private Dictionary<string, string> Env => new() { ["SANDBOX_CACHE"] = Path.Combine(_dir, "cache") };

    private string WriteSpec(string name, string yaml)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void Build_refuses_symlinks_to_host_directories_at_tmp_and_etc_and_changes_nothing_outside()
    {
        var v1 = Directory.CreateDirectory(Path.Combine(_dir, "v1")).FullName;
        var v2 = Directory.CreateDirectory(Path.Combine(_dir, "v2")).FullName;
        File.SetUnixFileMode(v1, (UnixFileMode)0x1c0);
        var tree = Directory.CreateDirectory(Path.Combine(_dir, "tree")).FullName;
        File.CreateSymbolicLink(Path.Combine(tree, "tmp"), v1);
        File.CreateSymbolicLink(Path.Combine(tree, "etc"), v2);
        var spec = WriteSpec("sandbox.yaml", "version: 1\nfiles:\n  - source: ./tree\n    target: /\n");
        var outDir = Path.Combine(_dir, "out");

        var r = SandboxHost.Run(["build", spec, "-o", outDir], TimeSpan.FromSeconds(60), env: Env);

        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("SBX4025", r.Stderr, StringComparison.Ordinal);
        Assert.Equal((UnixFileMode)0x1c0, File.GetUnixFileMode(v1));
        Assert.Empty(Directory.GetFileSystemEntries(v2));
        Assert.False(Directory.Exists(outDir));
        Assert.False(File.Exists(outDir + ".lock"));
        Assert.Empty(Directory.GetFileSystemEntries(_dir, ".out.*"));
    }

    [Fact]
    public void Build_refuses_a_fifo_source_at_once_instead_of_hanging()
    {
        using (var p = System.Diagnostics.Process.Start("mkfifo", [Path.Combine(_dir, "pipe")])!)
        {
            p.WaitForExit();
        }
        var spec = WriteSpec("sandbox.yaml", "version: 1\nfiles:\n  - source: ./pipe\n    target: /pipe\n");

        var r = SandboxHost.Run(["build", spec, "-o", Path.Combine(_dir, "out")], TimeSpan.FromSeconds(60), env: Env);

        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("SBX4027", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }

    [Fact]
    public void Build_refuses_a_writable_mount_that_holds_the_cache()
    {
        var spec = WriteSpec("sandbox.yaml", "version: 1\nmounts:\n  - source: .\n    target: /src\n    writable: true\n");

        var r = SandboxHost.Run(["build", spec, "-o", Path.Combine(_dir, "out")], TimeSpan.FromSeconds(60), env: Env);

        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("SBX4029", r.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{spec}:3:", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }

    [Fact]
    public void Build_leaves_no_lock_file_beside_its_output()
    {
        File.WriteAllText(Path.Combine(_dir, "data.txt"), "1");
        var spec = WriteSpec("sandbox.yaml", "version: 1\nfiles:\n  - source: ./data.txt\n    target: /data.txt\n");
        var outDir = Path.Combine(_dir, "out");
        foreach (var content in new[] { "1", "2" })
        {
            File.WriteAllText(Path.Combine(_dir, "data.txt"), content);
            var r = SandboxHost.Run(["build", spec, "-o", outDir], TimeSpan.FromSeconds(60), env: Env);
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        Assert.Equal(["cache", "data.txt", "out", "sandbox.yaml"], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [PrivilegedFact]
    public void A_container_with_a_writable_root_cannot_change_the_cache_or_any_later_bundle()
    {
        File.WriteAllText(Path.Combine(_dir, "data.txt"), "original\n");
        var files = $"""
            files:
              - source: {Path.Combine(SandboxHost.Rootfs, "bin/busybox")}
                target: /bin/busybox
              - source: ./data.txt
                target: /app/data.txt
            """;
        var writable = WriteSpec("writable.yaml", $"""
            version: 1
            user:
              uid: 0
              gid: 0
            readOnlyRoot: false
            seccomp: unconfined
            {files}
            command: [/bin/busybox, sh, -c, "echo evil >> /etc/passwd && echo evil >> /app/data.txt && /bin/busybox cat /etc/passwd /app/data.txt"]
            """);
        var other = WriteSpec("other.yaml", $"version: 1\nhostname: other\n{files}\n");
        var state = Path.Combine(_dir, "state");

        var attack = SandboxHost.Run(["--root", state, "run", "--spec", writable, "attack"], TimeSpan.FromSeconds(60), env: Env);
        Assert.True(attack.ExitCode == 0, attack.ToString());
        Assert.Contains("evil", attack.Stdout, StringComparison.Ordinal); // the root was writable: the write itself worked

        var again = SandboxHost.Run(["--root", state, "run", "--spec", writable, "again", "--", "/bin/busybox", "cat", "/etc/passwd", "/app/data.txt"],
            TimeSpan.FromSeconds(60), env: Env);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.DoesNotContain("evil", again.Stdout, StringComparison.Ordinal);

        var outDir = Path.Combine(_dir, "other-bundle");
        var build = SandboxHost.Run(["build", other, "-o", outDir], TimeSpan.FromSeconds(60), env: Env);
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.DoesNotContain("evil", File.ReadAllText(Path.Combine(outDir, "rootfs/etc/passwd")), StringComparison.Ordinal);
        Assert.Equal("original\n", File.ReadAllText(Path.Combine(outDir, "rootfs/app/data.txt")));
        foreach (var blob in Directory.GetFiles(Path.Combine(_dir, "cache/blobs/sha256")))
        {
            var name = Path.GetFileName(blob);
            Assert.Equal(name[..name.IndexOf('.', StringComparison.Ordinal)], Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(blob))));
        }
    }

    [PrivilegedFact]
    public void A_run_with_a_read_only_root_leaves_its_bundle_as_built_so_the_next_run_reuses_it()
    {
        var spec = WriteSpec("ro.yaml", $"""
            version: 1
            seccomp: unconfined
            files:
              - source: {Path.Combine(SandboxHost.Rootfs, "bin/busybox")}
                target: /bin/busybox
            command: [/bin/busybox, "true"]
            """);
        var state = Path.Combine(_dir, "state");
        var first = SandboxHost.Run(["--root", state, "run", "--spec", spec, "ro1"], TimeSpan.FromSeconds(60), env: Env);
        Assert.True(first.ExitCode == 0, first.ToString());
        var bundle = Directory.GetDirectories(Path.Combine(_dir, "cache/bundles")).Single();
        var manifest = File.ReadAllText(Path.Combine(bundle, "rootfs.manifest"));

        var second = SandboxHost.Run(["--root", state, "run", "--spec", spec, "ro2"], TimeSpan.FromSeconds(60), env: Env);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(manifest, File.ReadAllText(Path.Combine(bundle, "rootfs.manifest"))); // not rebuilt: same inodes and times
    }
}
