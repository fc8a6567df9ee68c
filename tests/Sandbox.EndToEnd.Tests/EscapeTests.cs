using System.Diagnostics;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// Attacks from inside a container on the walls around it, each the way a hostile test suite would try it. Every
/// test here failed before the defence it names existed.
/// </summary>
public class EscapeTests
{
    private static OciMount ProbeMount => new() { Destination = "/probe", Type = "bind", Source = Probes.Dir, Options = ["rbind", "ro"] };

    private static void AddMounts(TestBundle b, params OciMount[] mounts) => b.Config = b.Config with { Mounts = [.. b.Config.Mounts!, .. mounts] };

    /// <summary>
    /// The pattern of CVE-2019-5736: re-executing the runtime's own binary inside the container (as the program,
    /// or as a script's interpreter), so a process there can later write over it. Landlock allows execution only
    /// beneath the container's root.
    /// </summary>
    [PrivilegedFact]
    public void The_runtime_binary_cannot_be_executed_inside_the_container_by_any_path()
    {
        using var b = new TestBundle();
        var scripts = Path.Combine(b.Dir, "scripts");
        Directory.CreateDirectory(scripts);
        ExecutableFile.Write(Path.Combine(scripts, "run"), "#!/proc/self/exe\n");
        AddMounts(b, new OciMount { Destination = "/scripts", Type = "bind", Source = scripts, Options = ["rbind", "ro"] });
        foreach (var (args, extra) in new (string[], string[])[]
                 {
                     (["/proc/self/exe", "--help"], []),
                     (["/proc/self/exe", "--help"], ["--reaper"]),
                     (["/scripts/run", "--help"], []),
                 })
        {
            b.WithArgs(args);
            var r = b.Run(extra);
            Assert.True(r.ExitCode == 126, $"{string.Join(' ', args)} {string.Join(' ', extra)}: {r}");
            Assert.Contains("EACCES", r.Stderr, StringComparison.Ordinal);
            Assert.Empty(r.Stdout);
        }
        // A program inside the root still runs, and so does one that execs another.
        b.Sh("exec /bin/echo inside");
        var ok = b.Run();
        Assert.True(ok.ExitCode == 0 && ok.Stdout == "inside\n", ok.ToString());

        // Rootless too: there the binary is often the user's own file, writable by the container's root.
        const uint nobody = 65534;
        using var rootless = new TestBundle(rootless: true, uid: nobody);
        var state = rootless.SharedStateRoot();
        rootless.WithArgs("/proc/self/exe", "--help");
        rootless.Write();
        var r2 = SandboxHost.Run(["--root", state, "run", "--bundle", rootless.Dir, rootless.Id], asUser: "65534");
        Assert.True(r2.ExitCode == 126 && r2.Stderr.Contains("EACCES", StringComparison.Ordinal), r2.ToString());
    }

    /// <summary>The reaper (PID 1 with --reaper) is a fork of the runtime: it must show nothing of the host.</summary>
    [PrivilegedFact]
    public void The_reaper_shows_neither_the_host_binary_nor_its_arguments_nor_its_environment()
    {
        const string script = "readlink /proc/1/exe && echo exe-readable; tr '\\0' ' ' < /proc/1/cmdline; echo; " +
                              "tr '\\0' '\\n' < /proc/1/environ 2>/dev/null | grep -c SANDBOX_TEST_SECRET; true";
        using (var b = new TestBundle())
        {
            b.Sh(script);
            var r = b.Run("--reaper");
            AssertNothingOfTheHost(r, b);
        }
        const uint nobody = 65534;
        using (var b = new TestBundle(rootless: true, uid: nobody))
        {
            var state = b.SharedStateRoot();
            b.Sh(script);
            b.Write();
            var r = SandboxHost.Run(["--root", state, "run", "--reaper", "--bundle", b.Dir, b.Id], asUser: "65534");
            AssertNothingOfTheHost(r, b);
        }

        static void AssertNothingOfTheHost(RunResult r, TestBundle b)
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.DoesNotContain("exe-readable", r.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(b.Dir, r.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("must-not-leak", r.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("sandbox", r.Stdout, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// The pattern of CVE-2024-21626: a descriptor the runtime holds (the cgroup directory for CLONE_INTO_CGROUP on
    /// v2) still open at chdir, so a cwd of /proc/self/fd/N lands in the host's filesystem.
    /// </summary>
    [PrivilegedFact]
    public void A_working_directory_through_a_runtime_descriptor_never_reaches_the_host()
    {
        Assert.True(File.Exists("/sys/fs/cgroup/unified/cgroup.procs"), "this test needs the hybrid layout's cgroup2 mount at /sys/fs/cgroup/unified");
        using var b = new TestBundle();
        var secret = Path.Combine(b.Dir, "host-secret");
        File.WriteAllText(secret, "host-only-content");
        var ups = string.Concat(Enumerable.Repeat("../", 24));
        for (var fd = 3; fd <= 12; fd++)
        {
            b.Config = b.Config with { Process = b.Process with { Cwd = $"/proc/self/fd/{fd}" } };
            b.Sh($"cat {ups}{secret.TrimStart('/')} 2>/dev/null; pwd");
            var r = b.Cli(["run", "--report", Path.Combine(b.Dir, "r.json"), "--bundle", b.Dir, b.Id],
                env: new Dictionary<string, string> { ["SANDBOX_CGROUP_VERSION"] = "v2" });
            Assert.DoesNotContain("host-only-content", r.Stdout, StringComparison.Ordinal);
            Assert.True(r.ExitCode == 0 ? r.Stdout.StartsWith('/') : r.ExitCode == 125 && r.Stderr.Contains(ErrorCodes.SetupFailed, StringComparison.Ordinal),
                $"cwd /proc/self/fd/{fd}: {r}");
        }
    }

    /// <summary>A read-only bind (rbind,ro) of a directory with a submount: the submount must be read-only too.</summary>
    [PrivilegedFact]
    public void Read_only_applies_to_every_submount()
    {
        using var b = new TestBundle();
        var data = Path.Combine(b.Dir, "data");
        var sub = Path.Combine(data, "sub");
        Directory.CreateDirectory(sub);
        Sh($"mount -t tmpfs -o size=1m tmpfs {sub}");
        try
        {
            AddMounts(b, new OciMount { Destination = "/data", Type = "bind", Source = data, Options = ["rbind", "ro"] });
            b.Sh("touch /data/sub/x 2>/dev/null && echo wrote; touch /data/y 2>/dev/null && echo wrote; true");
            var r = b.Run();
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("", r.Stdout);
            Assert.False(File.Exists(Path.Combine(sub, "x")));
        }
        finally
        {
            Sh($"umount {sub}");
        }

        // The rootless config binds the host's /sys (rbind,ro): run as root, its cgroupfs submounts must be read-only.
        using var rootless = new TestBundle(rootless: true, uid: 0);
        rootless.Sh("awk '$5 ~ \"^/sys\" { split($6, o, \",\"); print o[1] }' /proc/self/mountinfo | sort -u");
        var s = rootless.Run();
        Assert.True(s.ExitCode == 0, s.ToString());
        Assert.Equal("ro", s.Stdout.Trim());
    }

    /// <summary>A key the host put in root's user keyring: a container reaches it through the session it was started from.</summary>
    [PrivilegedFact]
    public void The_hosts_keys_are_out_of_reach_and_the_spec_default_cannot_plant_any()
    {
        var name = $"sbx-escape-{Environment.ProcessId}";
        Assert.StartsWith("added", Probes.RunOnHost("keys", "add", name, "host-key-payload"), StringComparison.Ordinal);
        try
        {
            using var b = new TestBundle();
            AddMounts(b, ProbeMount);
            b.WithArgs("/probe/keys", "find", name);
            var r = b.Run("--seccomp", "unconfined");
            Assert.DoesNotContain("host-key-payload", r.Stdout, StringComparison.Ordinal);
            Assert.Equal("find: errno 126", r.Stdout.Trim()); // ENOKEY: not in the container's own session keyring

            // `sandbox spec`'s config (no user namespace as root) denies the keyring calls altogether.
            File.Delete(Path.Combine(b.Dir, "config.json"));
            Assert.Equal(0, SandboxHost.Run(["spec", "--bundle", b.Dir]).ExitCode);
            var spec = OciConfigLoader.LoadBundle(b.Dir);
            Assert.NotNull(spec.Linux!.Seccomp);
            b.Config = spec with { Root = b.Config.Root, Mounts = [.. spec.Mounts!, ProbeMount], Process = spec.Process! with { Args = ["/probe/keys", "add", name + "-planted", "x"] } };
            var planted = b.Run();
            Assert.Equal("add: errno 1", planted.Stdout.Trim());
            b.Config = b.Config with { Process = b.Process with { Args = ["/probe/keys", "find", name] } };
            Assert.Equal("find: errno 1", b.Run().Stdout.Trim());
        }
        finally
        {
            Probes.RunOnHost("keys", "unlink", name);
            Probes.RunOnHost("keys", "unlink", name + "-planted");
        }
    }

    /// <summary>io_uring performs socket() and connect() without the calls a filter sees: default and hermetic deny it.</summary>
    [PrivilegedFact]
    public void Io_uring_is_denied_by_the_default_and_hermetic_profiles()
    {
        using var b = new TestBundle();
        AddMounts(b, ProbeMount);
        b.WithArgs("/probe/uring");
        foreach (var profile in new[] { "default", "hermetic" })
        {
            var r = b.Run("--seccomp", profile);
            Assert.True(r.Stdout.Trim() == "io_uring_setup: errno 1", $"{profile}: {r}");
        }
        Assert.Equal("io_uring_setup: ok", b.Run("--seccomp", "unconfined").Stdout.Trim());
    }

    /// <summary>
    /// A device node that is in the container (here /dev/fuse, c 10:229, bound in from the host) opens only
    /// when a rule allows it: the device cgroup denies by default (v1 devices files; v2 an eBPF program, live on
    /// this host's cgroup2 mount).
    /// </summary>
    [PrivilegedFact]
    public void Device_nodes_open_only_when_a_rule_allows_them()
    {
        using var b = new TestBundle();
        var devs = Path.Combine(b.Dir, "devs");
        Directory.CreateDirectory(devs);
        Sh($"mknod -m 666 {devs}/fuse c 10 229");
        AddMounts(b, new OciMount { Destination = "/devs", Type = "bind", Source = devs, Options = ["rbind"] });
        b.Sh("(: < /devs/fuse) 2>/dev/null && echo opened || echo refused; echo x > /dev/null && echo null-ok");
        foreach (var version in new[] { "v1", "v2" })
        {
            var env = new Dictionary<string, string> { ["SANDBOX_CGROUP_VERSION"] = version };
            var r = b.Cli(["run", "--bundle", b.Dir, b.Id], env: env);
            Assert.True(r.ExitCode == 0 && r.Stdout == "refused\nnull-ok\n", $"{version}: {r}");
            b.Config = b.Config with { Linux = b.Config.Linux! with { Resources = new OciResources { Devices = [new OciDeviceRule { Allow = true, Type = "c", Major = 10, Minor = 229, Access = "rw" }] } } };
            r = b.Cli(["run", "--bundle", b.Dir, b.Id], env: env);
            Assert.True(r.ExitCode == 0 && r.Stdout == "opened\nnull-ok\n", $"{version}, allowed: {r}");
            b.Config = b.Config with { Linux = b.Config.Linux! with { Resources = null } };
        }
    }

    /// <summary>A linux.cgroupsPath naming a cgroup that holds processes is refused; nothing of it is touched.</summary>
    [PrivilegedFact]
    public void A_cgroup_in_use_is_never_adopted()
    {
        var victim = $"/sys/fs/cgroup/pids/sbx-victim-{Environment.ProcessId}";
        Directory.CreateDirectory(victim);
        using var sleeper = Process.Start("/bin/sh", ["-c", $"echo $$ > {victim}/cgroup.procs; exec sleep 60"])!;
        try
        {
            SandboxHost.WaitUntil(() => File.ReadAllText(Path.Combine(victim, "cgroup.procs")).Trim().Length > 0, TimeSpan.FromSeconds(5), "the victim to join");
            using var b = new TestBundle();
            b.Config = b.Config with { Linux = b.Config.Linux! with { CgroupsPath = victim["/sys/fs/cgroup/pids".Length..], Resources = new OciResources { Pids = new OciPids { Limit = 10 } } } };
            b.Sh("true");
            var r = b.Run();
            Assert.Equal(125, r.ExitCode);
            Assert.Contains("already holds processes", r.Stderr, StringComparison.Ordinal);
            Assert.False(sleeper.HasExited);
            Assert.True(Directory.Exists(victim));
            Assert.Empty(b.StateEntries);
        }
        finally
        {
            sleeper.Kill();
            sleeper.WaitForExit();
            SandboxHost.WaitUntil(() => File.ReadAllText(Path.Combine(victim, "cgroup.procs")).Trim().Length == 0, TimeSpan.FromSeconds(5), "the victim to leave");
            Directory.Delete(victim);
        }
    }

    /// <summary>The same ID under two state roots: two cgroups, and one's end does not kill the other.</summary>
    [PrivilegedFact]
    public void The_same_id_under_two_state_roots_shares_nothing()
    {
        using var a = new TestBundle();
        using var b = new TestBundle { Id = a.Id };
        foreach (var t in new[] { a, b })
        {
            t.Config = t.Config with { Linux = t.Config.Linux! with { Resources = new OciResources { Pids = new OciPids { Limit = 10 } } } };
        }
        a.Sh("sleep 2; echo a-survived");
        b.Sh("true");
        var first = Task.Run(() => a.Run());
        SandboxHost.WaitUntil(() => a.StateEntries.Any(), TimeSpan.FromSeconds(10), "the first container to start");
        Thread.Sleep(300);
        Assert.Equal(0, b.Run().ExitCode);
        var r = first.Result;
        Assert.True(r.ExitCode == 0 && r.Stdout == "a-survived\n", r.ToString());
    }

    private static void Sh(string command)
    {
        using var p = Process.Start("/bin/sh", ["-c", command])!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, command);
    }
}
