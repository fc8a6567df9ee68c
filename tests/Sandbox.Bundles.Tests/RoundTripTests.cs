using Sandbox.Oci;
using Sandbox.Spec;

namespace Sandbox.Bundles.Tests;

/// <summary>sandbox.yaml text → SandboxSpec → config.json, checked field by field.</summary>
public sealed class RoundTripTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("roundtrip-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Every_declared_key_lands_in_the_config()
    {
        Directory.CreateDirectory(Path.Join(_dir, "data"));
        Directory.CreateDirectory(Path.Join(_dir, "out"));
        File.WriteAllText(Path.Join(_dir, "app.json"), "{}");
        var yaml = """
            version: 1
            hostname: rt
            user: { uid: 1234, gid: 4321 }
            workdir: /work
            readOnlyRoot: false
            network: host
            env:
              set: { A: "1", B: two }
              pass: [ CI ]
            mounts:
              - source: ./data
                target: /data
              - source: ./out
                target: /out
                writable: true
            tmpfs:
              - target: /work
                size: 16Mi
                mode: "0700"
            files:
              - source: ./app.json
                target: /etc/app.json
            etc:
              extraHosts: { db.local: 10.0.0.5 }
            seccomp: unconfined
            capabilities: [ CAP_NET_BIND_SERVICE ]
            command: [ /bin/app, --flag ]
            """;
        var path = Path.Join(_dir, "sandbox.yaml");
        File.WriteAllText(path, yaml);
        var spec = SpecParser.Load(path);
        var built = new BundleBuilder(Path.Join(_dir, "cache"), 0, 0).Build(spec, Path.Join(_dir, "bundle"));
        var c = OciConfigLoader.LoadBundle(built.Directory);

        Assert.Equal("rt", c.Hostname);
        Assert.Equal(1234u, c.Process!.User!.Uid);
        Assert.Equal(4321u, c.Process.User.Gid);
        Assert.Equal("/work", c.Process.Cwd);
        Assert.False(c.Root!.Readonly);
        Assert.DoesNotContain(c.Linux!.Namespaces!, n => n.Type == "network");
        Assert.Contains("A=1", c.Process.Env!);
        Assert.Contains("B=two", c.Process.Env!);
        Assert.Equal("CI", c.Annotations![SandboxAnnotations.PassEnvironment]);
        Assert.Equal(path, c.Annotations[SandboxAnnotations.Spec]);
        var data = c.Mounts!.Single(m => m.Destination == "/data");
        Assert.Equal(Path.Join(_dir, "data"), data.Source);
        Assert.Contains("ro", data.Options!);
        Assert.DoesNotContain("ro", c.Mounts!.Single(m => m.Destination == "/out").Options!);
        var work = c.Mounts!.Single(m => m.Destination == "/work");
        Assert.Equal("tmpfs", work.Type);
        Assert.Contains("mode=700", work.Options!);
        Assert.Contains($"size={16 * 1024 * 1024}", work.Options!);
        Assert.Equal(["CAP_NET_BIND_SERVICE"], c.Process.Capabilities!.Bounding!);
        Assert.Equal(["/bin/app", "--flag"], c.Process.Args!);
        Assert.Equal("{}", File.ReadAllText(Path.Join(built.Directory, "rootfs/etc/app.json")));
        Assert.Contains("10.0.0.5\tdb.local", File.ReadAllText(Path.Join(built.Directory, "rootfs/etc/hosts")), StringComparison.Ordinal);
        Assert.Contains("sandbox:x:1234:4321", File.ReadAllText(Path.Join(built.Directory, "rootfs/etc/passwd")), StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Join(built.Directory, "rootfs/work")));
    }
}
