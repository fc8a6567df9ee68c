namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// `sandbox build --oci-layout`: the exported image runs under podman (Debian's, pulling it with the `oci:` transport)
/// as the bundle runs under `sandbox run --spec`, once with Debian's runc and once with sandbox as podman's runtime,
/// given the options the build prints (the same the image's `org.sandbox.podman-run-options` label holds).
/// </summary>
public sealed class OciLayoutTests(PodmanStore podman) : IClassFixture<PodmanStore>, IDisposable
{
    private readonly string _dir = MakeDirectory();

    private static string MakeDirectory()
    {
        // Lowercase: podman 4.3 names an image pulled from `oci:DIR:TAG` after DIR, and an image name has no capitals.
        var dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"sandbox-e2e-oci-{Guid.NewGuid():N}")).FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ed);
        return dir;
    }

    private IReadOnlyDictionary<string, string> Env => new Dictionary<string, string> { ["SANDBOX_CACHE"] = Path.Combine(_dir, "cache"), ["TERM"] = "passed-through" };

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>
    /// A hello spec on the busybox root: a read-only mount (which the image must carry), a tmpfs workdir, the
    /// `hermetic` seccomp profile (no IP sockets: the label must reach the runtime for the output to match), a host
    /// variable passed through.
    /// </summary>
    private string HelloSpec()
    {
        var data = Directory.CreateDirectory(Path.Combine(_dir, "data")).FullName;
        File.WriteAllText(Path.Combine(data, "input.txt"), "input from a read-only mount\n");
        var spec = Path.Combine(_dir, "sandbox.yaml");
        File.WriteAllText(spec, $$"""
            version: 1
            hostname: hello
            user: { uid: 1234, gid: 1234 }
            files:
              - source: {{SandboxHost.Rootfs}}
                target: /
            etc: { passwd: false, group: false }
            mounts:
              - source: ./data
                target: /data
            tmpfs:
              - target: /work
                size: 16Mi
                mode: "1777"
            workdir: /work
            seccomp: hermetic
            limits: { memory: 64Mi, pids: 64 }
            env:
              set: { GREETING: hi }
              pass: [ TERM ]
            command:
              - sh
              - -c
              - |
                echo "hello from $(hostname) as $(id -u):$(id -g) in $(pwd), GREETING=$GREETING TERM=$TERM"
                cat /data/input.txt
                touch /etc/x 2>/dev/null && echo "root: writable" || echo "root: read-only"
                touch /work/x && echo "work: writable"
                nc 127.0.0.1 9 </dev/null 2>&1 | head -n 1
                grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
            """);
        return spec;
    }

    [Fact]
    public void Build_prints_the_bundle_digest_the_image_reference_and_the_podman_command()
    {
        var layout = Path.Combine(_dir, "image");
        var r = SandboxHost.Run(["build", HelloSpec(), "--oci-layout", layout, "--tag", "hello:1", "-o", Path.Combine(_dir, "bundle")], TimeSpan.FromSeconds(60), env: Env);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches("^sha256:[0-9a-f]{64}$", lines[0]);
        Assert.Equal(lines[0], File.ReadAllText(Path.Combine(_dir, "bundle", "digest")).Trim());
        Assert.Matches($"^oci:{layout}:hello:1 sha256:[0-9a-f]{{64}}$", lines[1]);
        Assert.True(File.Exists(Path.Combine(layout, "blobs", "sha256", lines[1].Split(" sha256:")[1])));
        Assert.StartsWith("run it with: podman run --read-only ", r.Stderr, StringComparison.Ordinal);
        Assert.EndsWith($" oci:{layout}:hello:1\n", r.Stderr, StringComparison.Ordinal);

        var notLayout = Directory.CreateDirectory(Path.Combine(_dir, "not-a-layout")).FullName;
        File.WriteAllText(Path.Combine(notLayout, "keep"), "x");
        var refused = SandboxHost.Run(["build", HelloSpec(), "--oci-layout", notLayout], TimeSpan.FromSeconds(60), env: Env);
        Assert.Equal(125, refused.ExitCode);
        Assert.Contains("SBX4030", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(["keep"], Directory.GetFileSystemEntries(notLayout).Select(Path.GetFileName));
        var tagAlone = SandboxHost.Run(["build", HelloSpec(), "-o", Path.Combine(_dir, "bundle"), "--tag", "x"], TimeSpan.FromSeconds(60), env: Env);
        Assert.Contains("SBX3001", tagAlone.Stderr, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Podman_runs_the_exported_image_as_sandbox_runs_the_spec_under_runc_and_under_sandbox()
    {
        var spec = HelloSpec();
        var expected = SandboxHost.Run(["--root", Path.Combine(_dir, "state"), "run", "--spec", spec, "hello"], TimeSpan.FromSeconds(60), env: Env);
        Assert.True(expected.ExitCode == 0, expected.ToString());
        Assert.StartsWith("hello from hello as 1234:1234 in /work, GREETING=hi TERM=passed-through\ninput from a read-only mount\nroot: read-only\nwork: writable\n",
            expected.Stdout, StringComparison.Ordinal);
        // hermetic: socket(AF_INET) is refused, so nc never gets to connect.
        Assert.DoesNotContain("refused", expected.Stdout, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Seccomp:\t2", expected.Stdout, StringComparison.Ordinal);

        var layout = Path.Combine(_dir, "image");
        var build = SandboxHost.Run(["build", spec, "--oci-layout", layout, "--tag", "hello"], TimeSpan.FromSeconds(60), env: Env);
        Assert.True(build.ExitCode == 0, build.ToString());
        var printed = build.Stderr.Trim().Split(' ');
        Assert.Equal(["run", "it", "with:", "podman", "run"], printed[..5]);
        Assert.Equal($"oci:{layout}:hello", printed[^1]);

        foreach (var runtime in new[] { "runc", SandboxHost.Exe })
        {
            var r = podman.Run(["run", "--rm", "--runtime", runtime, "--cgroup-parent", podman.CgroupParent, .. printed[5..]], stdin: null, Env);
            Assert.True(r.ExitCode == 0, $"{runtime}: {r}");
            Assert.Equal(expected.Stdout, r.Stdout);
        }
        Assert.Equal("", podman.Run("ps", "--all", "--quiet").Stdout.Trim());
        Assert.Empty(podman.ContainerCgroups());
    }
}

/// <summary>
/// The case the export is for: a .NET program whose runtime the bundle binds read-only from the host. Its image carries
/// the installation in a layer of its own, and podman runs it with no host directory at all, with sandbox as runtime.
/// </summary>
public sealed class OciLayoutDotnetTests(PodmanStore podman, DotnetAppFixture app) : IClassFixture<PodmanStore>, IClassFixture<DotnetAppFixture>, IDisposable
{
    // Lowercase, as in OciLayoutTests: podman 4.3 names the pulled image after the layout's path.
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"sandbox-e2e-oci-dotnet-{Guid.NewGuid():N}")).FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [PrivilegedFact]
    public void Podman_runs_the_exported_dotnet_image_without_the_host_installation()
    {
        var env = new Dictionary<string, string> { ["SANDBOX_CACHE"] = Path.Combine(_dir, "cache"), ["SANDBOX_PASSED"] = "yes" };
        var expected = SandboxHost.Run(["--root", Path.Combine(_dir, "state"), "run", "--spec", app.Spec, "dotnet-hello"], TimeSpan.FromSeconds(60), env: env);
        Assert.True(expected.ExitCode == 0, expected.ToString());

        var layout = Path.Combine(_dir, "image");
        var build = SandboxHost.Run(["build", app.Spec, "--oci-layout", layout], TimeSpan.FromSeconds(180), env: env);
        Assert.True(build.ExitCode == 0, build.ToString());
        var options = build.Stderr.Trim().Split(' ')[5..];
        Assert.Equal($"oci:{layout}:latest", options[^1]);

        var r = podman.Run(["run", "--rm", "--runtime", SandboxHost.Exe, "--cgroup-parent", podman.CgroupParent, .. options], stdin: null, env, TimeSpan.FromSeconds(300));
        Assert.True(r.ExitCode == 0, r.ToString());
        // The root's directories and the environment differ by what podman adds (/run, container=podman); the rest
        // (the host name and user, no network, a read-only root, a writable /tmp, ICU) is the same.
        static string[] Comparable(string output) => [.. output.Split('\n').Where(l => !l.StartsWith("dirs: ", StringComparison.Ordinal) && !l.StartsWith("env: ", StringComparison.Ordinal))];
        Assert.Equal(Comparable(expected.Stdout), Comparable(r.Stdout));
        Assert.StartsWith("hello from speccy as sandbox\n", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("env: ", r.Stdout, StringComparison.Ordinal);
        Assert.Contains(" SANDBOX_PASSED ", r.Stdout.Split('\n').Single(l => l.StartsWith("env: ", StringComparison.Ordinal)) + " ", StringComparison.Ordinal);
    }
}
