using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// The configs `runc spec` and `runc spec --rootless` write, as a new user takes them (only the root's path, the
/// terminal and the program changed), run by sandbox and by runc: the container sees the same. Their `cgroup` mount
/// at /sys/fs/cgroup is what failed before (mounted literally: EBUSY on v1).
/// </summary>
public sealed partial class RuncSpecTests : IDisposable
{
    // What a program looking at its cgroups sees: which hierarchies, that the tree is its own (one cgroup, no
    // children, the processes of its pid namespace only: the shell and grep, no pipeline whose second process may
    // not be there yet) and read-only, and how each is mounted.
    private const string Look = """
        ls /sys/fs/cgroup | tr '\n' ' '; echo
        grep -c . /sys/fs/cgroup/pids/cgroup.procs
        ls -d /sys/fs/cgroup/memory/*/ 2>/dev/null | wc -l
        mkdir /sys/fs/cgroup/memory/sub 2>&1
        grep ' /sys/fs/cgroup/' /proc/self/mountinfo | cut -d' ' -f4,5,6
        id -u
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-runc-spec-").FullName;

    public RuncSpecTests() => File.SetUnixFileMode(_dir, (UnixFileMode)0x1ff);

    public void Dispose() => Directory.Delete(_dir, true);

    [PrivilegedFact]
    public void The_config_runc_spec_writes_runs_with_its_cgroup_mount_as_under_runc()
    {
        var bundle = Spec("root", rootless: false, asUser: null);
        var ours = SandboxHost.Run(["--root", Path.Combine(_dir, "state"), "run", "--bundle", bundle, "spec-root"]);
        Assert.True(ours.ExitCode == 0, ours.ToString());
        var runc = Command(null, "runc", "--root", Path.Combine(_dir, "runc-state"), "run", "--bundle", bundle, "spec-root-runc");
        Assert.True(runc.ExitCode == 0, runc.ToString());

        // Each hierarchy this host mounts, a bind of the container's own cgroup (named after it), read-only.
        var lines = Normalize(ours.Stdout, "spec-root");
        Assert.Equal(Normalize(runc.Stdout, "spec-root-runc"), lines);
        Assert.Equal(HostHierarchies(), lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Equal(["2", "0", "mkdir: can't create directory '/sys/fs/cgroup/memory/sub': Read-only file system"], lines[1..4]);
        Assert.All(lines[4..^1], l => Assert.Matches(@"^/CONTAINER /sys/fs/cgroup/[^ ]+ ro,nosuid,nodev,noexec,relatime$", l));
        Assert.Equal("0", lines[^1]);
        Assert.Empty(SandboxHost.CgroupsOf("spec-root"));
    }

    [PrivilegedFact]
    public void The_config_runc_spec_rootless_writes_runs_for_an_ordinary_user()
    {
        const string nobody = "65534";
        var bundle = Spec("rootless", rootless: true, asUser: nobody);
        var env = new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = _dir };
        var ours = SandboxHost.Run(["--root", Path.Combine(_dir, "state"), "run", "--bundle", bundle, "spec-rootless"], asUser: nobody, env: env);
        Assert.True(ours.ExitCode == 0, ours.ToString());
        var runc = Command(nobody, "env", $"XDG_RUNTIME_DIR={_dir}", "runc", "--root", Path.Combine(_dir, "runc-state"), "run", "--bundle", bundle, "spec-rootless-runc");
        Assert.True(runc.ExitCode == 0, runc.ToString());

        var lines = Normalize(ours.Stdout, "spec-rootless");
        var runcs = Normalize(runc.Stdout, "spec-rootless-runc");
        // The same hierarchies, the same view, the same user. Without a delegated cgroup neither runtime makes one:
        // the container sits in (and sees, read-only) the cgroup it was started in.
        Assert.Equal(runcs[0], lines[0]);
        Assert.Equal(HostHierarchies(), lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Equal(runcs[^1], lines[^1]);
        Assert.Equal("0", lines[^1]);
        Assert.Contains("Read-only file system", lines[3], StringComparison.Ordinal);
        // runc leaves the binds' own flags as the host's (rw) under its read-only /sys; sandbox makes the rbind of /sys
        // read-only all the way down (docs/security.md), so both layers of /sys/fs/cgroup read ro.
        Assert.All(lines[4..^1], l => Assert.Contains(" ro,", l, StringComparison.Ordinal));
    }

    [PrivilegedFact]
    public void The_unmodified_config_runs_its_shell_on_a_terminal_as_under_runc()
    {
        // `runc spec` as written, but for the root's path: `sh` on a terminal. Without --console-socket both runtimes
        // make the pty themselves and join it to their own terminal (here `script`'s), in raw mode.
        var bundle = Spec("terminal", rootless: false, asUser: null, keepProcess: true);
        const string typed = "echo $((6*7)); tty; exit 5\n";
        var ours = Typed(null, typed, "script", "-qec", $"{SandboxHost.Exe} --root {Path.Combine(_dir, "state")} run --bundle {bundle} spec-tty", "/dev/null");
        var runc = Typed(null, typed, "script", "-qec", $"runc --root {Path.Combine(_dir, "runc-state")} run --bundle {bundle} spec-tty-runc", "/dev/null");
        Assert.True(runc.ExitCode == 5, runc.ToString());
        Assert.True(ours.ExitCode == 5, ours.ToString());
        foreach (var r in new[] { runc, ours })
        {
            var lines = r.Stdout.Split("\r\n");
            Assert.Contains("42", lines);
            Assert.Contains("/dev/pts/0", lines);
        }
    }

    /// <summary>`runc spec` in a bundle of its own, as <paramref name="asUser"/> (the rootless one maps that user),
    /// with the shared busybox root, no terminal and <see cref="Look"/> as the program (or its own process).</summary>
    private string Spec(string name, bool rootless, string? asUser, bool keepProcess = false)
    {
        var bundle = Path.Combine(_dir, name);
        Directory.CreateDirectory(bundle);
        File.SetUnixFileMode(bundle, (UnixFileMode)0x1ff);
        var spec = rootless ? Command(asUser, "runc", "spec", "--rootless", "--bundle", bundle) : Command(asUser, "runc", "spec", "--bundle", bundle);
        Assert.True(spec.ExitCode == 0, spec.ToString());
        var path = Path.Combine(bundle, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!;
        config["root"]!["path"] = SandboxHost.Rootfs;
        if (!keepProcess)
        {
            config["process"]!["terminal"] = false;
            config["process"]!["args"] = new JsonArray("sh", "-c", Look);
        }
        File.WriteAllText(path, config.ToJsonString());
        return bundle;
    }

    /// <summary>The output's lines with the container's cgroup path (runtimes name it differently) as CONTAINER.</summary>
    private static string[] Normalize(string stdout, string id) =>
        [.. stdout.Trim().Split('\n').Select(l => CgroupRoot().Replace(l, m => m.Groups[1].Value.EndsWith(id, StringComparison.Ordinal) ? "/CONTAINER " : m.Value))];

    [GeneratedRegex(@"^(/[^ ]*) (?=/sys/fs/cgroup/)")]
    private static partial Regex CgroupRoot();

    /// <summary>The names under the host's /sys/fs/cgroup that are v1 hierarchies, and links to co-mounted ones.</summary>
    private static IEnumerable<string> HostHierarchies() =>
        File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(" - cgroup ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')[4]).Where(m => m.StartsWith("/sys/fs/cgroup/", StringComparison.Ordinal))
            .SelectMany(m => Path.GetFileName(m) is var n && n.Contains(',', StringComparison.Ordinal) ? [n, .. n.Split(',')] : new[] { n })
            .Order(StringComparer.Ordinal);

    private static RunResult Command(string? asUser, params string[] args) => Typed(asUser, "", args);

    /// <summary>Runs a program with <paramref name="input"/> as its stdin.</summary>
    private static RunResult Typed(string? asUser, string input, params string[] args)
    {
        var psi = new ProcessStartInfo(asUser is null ? args[0] : "setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in asUser is null ? args[1..] : [$"--reuid={asUser}", $"--regid={asUser}", "--clear-groups", "--", .. args])
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(input);
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{string.Join(' ', args)} did not finish in time");
        }
        return new RunResult(p.ExitCode, stdout, stderr.Result);
    }
}
