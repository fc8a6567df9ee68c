using System.Diagnostics;
using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// Namespaces a config leaves out (shared with the runtime's, as the runtime-spec says), a uts namespace joined by path,
/// and user namespaces whose maps do not map the runtime's own ids (userns remap: container 0 is host 100000).
/// </summary>
public class NamespaceSharingTests
{
    private static readonly string[] Types = ["mnt", "uts", "ipc", "net", "pid", "cgroup"];

    /// <summary>Leaves out these namespace types, and everything that mounts (which needs a mount namespace).</summary>
    private static void MountNothingWithout(TestBundle b, params string[] left)
    {
        var c = b.Config;
        b.Config = c with
        {
            Hostname = left.Contains("uts") ? null : c.Hostname,
            Mounts = [],
            Root = c.Root! with { Readonly = false },
            Linux = c.Linux! with
            {
                Namespaces = [.. c.Linux.Namespaces!.Where(n => !left.Contains(n.Type))],
                MaskedPaths = null,
                ReadonlyPaths = null,
            },
        };
    }

    private static string NamespaceOf(string pid, string type) => new FileInfo($"/proc/{pid}/ns/{type}").LinkTarget!;

    private static int Pid(TestBundle b, string? stateRoot = null, string? asUser = null)
    {
        var r = SandboxHost.Run(["--root", stateRoot ?? b.StateRoot, "state", b.Id], asUser: asUser);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Stdout).RootElement.GetProperty("pid").GetInt32();
    }

    private static int MountsUnder(string path) =>
        File.ReadAllLines("/proc/self/mountinfo").Count(l => l.Contains(path, StringComparison.Ordinal));

    [PrivilegedFact]
    public void Without_a_mount_namespace_the_container_is_chrooted_in_the_hosts_and_mounts_nothing()
    {
        using var b = new TestBundle();
        MountNothingWithout(b, "mount");
        b.Sh("echo in; head -1 /etc/passwd; test -e /usr/share/dotnet && echo host-visible || echo rooted; ls /proc | wc -l");
        var before = MountsUnder(SandboxHost.Rootfs);
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        // The rootfs's own /proc: nothing is mounted there, or anywhere else on the host.
        Assert.Equal(["in", "root:x:0:0:root:/root:/bin/sh", "rooted", "0"], r.Stdout.Trim().Split('\n'));
        Assert.Equal(before, MountsUnder(SandboxHost.Rootfs));

        // The host's mount namespace, its root the rootfs; the other namespaces its own.
        b.WithArgs("sleep", "60");
        var created = b.Cli(["create", "--bundle", b.Dir, b.Id]);
        Assert.True(created.ExitCode == 0, created.ToString());
        var pid = Pid(b).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(NamespaceOf("self", "mnt"), NamespaceOf(pid, "mnt"));
        Assert.NotEqual(NamespaceOf("self", "net"), NamespaceOf(pid, "net"));
        Assert.Equal(SandboxHost.Rootfs, new FileInfo($"/proc/{pid}/root").LinkTarget);
        Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        Assert.Equal(before, MountsUnder(SandboxHost.Rootfs));
    }

    [PrivilegedFact]
    public void Without_a_mount_namespace_a_rootless_container_runs_chrooted_too()
    {
        const uint nobody = 65534;
        using var b = new TestBundle(rootless: true, uid: nobody);
        var state = b.SharedStateRoot();
        MountNothingWithout(b, "mount");
        b.Sh("id -u; test -e /usr/share/dotnet && echo host-visible || echo rooted");
        b.Write();
        var before = MountsUnder(SandboxHost.Rootfs);
        var r = SandboxHost.Run(["--root", state, "run", "--bundle", b.Dir, b.Id], asUser: "65534");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["0", "rooted"], r.Stdout.Trim().Split('\n'));
        Assert.Equal(before, MountsUnder(SandboxHost.Rootfs));
    }

    [PrivilegedFact]
    public void Without_a_mount_namespace_whatever_would_mount_on_the_host_is_refused()
    {
        using var b = new TestBundle();
        var mounts = b.Config.Mounts;
        MountNothingWithout(b, "mount");
        var before = MountsUnder(SandboxHost.Rootfs);
        var bare = b.Config;
        foreach (var (config, path) in new (OciConfig, string)[]
                 {
                     (bare with { Mounts = mounts }, "$.mounts"),
                     (bare with { Linux = bare.Linux! with { MaskedPaths = ["/proc/kcore"] } }, "$.linux.maskedPaths"),
                     (bare with { Root = bare.Root! with { Readonly = true } }, "$.root.readonly"),
                     // chroot a second time and walk up: every host file
                     (bare with { Process = bare.Process! with { Capabilities = bare.Process.Capabilities! with { Bounding = ["CAP_SYS_CHROOT"] } } },
                         "$.process.capabilities.bounding"),
                 })
        {
            b.Config = config;
            var r = b.Run();
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Contains($"{ErrorCodes.ConfigInvalid}: {path}: ", r.Stderr, StringComparison.Ordinal);
            Assert.Contains("without a mount namespace", r.Stderr, StringComparison.Ordinal);
        }
        Assert.Equal(before, MountsUnder(SandboxHost.Rootfs));
    }

    [PrivilegedFact]
    public void A_config_without_namespaces_shares_every_one_of_the_hosts()
    {
        using var b = new TestBundle();
        MountNothingWithout(b, "mount", "uts", "ipc", "network", "pid", "cgroup");
        Assert.Empty(b.Config.Linux!.Namespaces!);
        b.WithArgs("sleep", "60");
        var created = b.Cli(["create", "--bundle", b.Dir, b.Id]);
        Assert.True(created.ExitCode == 0, created.ToString());
        var pid = Pid(b).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.All(Types, t => Assert.Equal(NamespaceOf("self", t), NamespaceOf(pid, t)));
        Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);
        SandboxHost.WaitUntil(() => File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("sleep", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "exec sleep");
        Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        Assert.False(SandboxHost.ProcessExists(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [PrivilegedFact]
    public void A_rootless_config_with_only_a_user_namespace_shares_every_other_one()
    {
        const uint nobody = 65534;
        using var b = new TestBundle(rootless: true, uid: nobody);
        var state = b.SharedStateRoot();
        MountNothingWithout(b, "mount", "uts", "ipc", "network", "pid", "cgroup");
        Assert.Equal(["user"], b.Config.Linux!.Namespaces!.Select(n => n.Type));
        b.WithArgs("sleep", "60");
        b.Write();
        try
        {
            var created = SandboxHost.Run(["--root", state, "create", "--bundle", b.Dir, b.Id], asUser: "65534");
            Assert.True(created.ExitCode == 0, created.ToString());
            var pid = Pid(b, state, "65534").ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.All(Types, t => Assert.Equal(NamespaceOf("self", t), NamespaceOf(pid, t)));
            Assert.NotEqual(NamespaceOf("self", "user"), NamespaceOf(pid, "user"));
        }
        finally
        {
            SandboxHost.Run(["--root", state, "delete", "--force", b.Id], asUser: "65534");
        }
    }

    [PrivilegedFact]
    public void A_hostname_and_domainname_are_set_in_a_uts_namespace_joined_by_path()
    {
        using var holder = Process.Start("unshare", ["--uts", "sleep", "60"])!;
        try
        {
            var path = $"/proc/{holder.Id}/ns/uts";
            SandboxHost.WaitUntil(() => new FileInfo(path).LinkTarget != NamespaceOf("self", "uts"), TimeSpan.FromSeconds(5), "the uts namespace");
            var hostname = Environment.MachineName;
            using var b = new TestBundle();
            var c = b.Config;
            b.Config = c with
            {
                Hostname = "joined-uts",
                Domainname = "joined-dom",
                Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!.Where(n => n.Type != "uts"), new OciNamespace { Type = "uts", Path = path }] },
            };
            b.Sh("hostname; cat /proc/sys/kernel/domainname");
            var r = b.Run();
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal(["joined-uts", "joined-dom"], r.Stdout.Trim().Split('\n'));
            Assert.Equal("joined-uts\n", Output("nsenter", $"--uts={path}", "hostname"));
            Assert.Equal(hostname, Environment.MachineName);

            // The runtime's own uts namespace joined by path is the host's: it is never renamed.
            b.Config = b.Config with
            {
                Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!.Where(n => n.Type != "uts"), new OciNamespace { Type = "uts", Path = "/proc/self/ns/uts" }] },
            };
            r = b.Run();
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Contains($"{ErrorCodes.ConfigInvalid}: $.hostname: the uts namespace joined by path (/proc/self/ns/uts) is the host's", r.Stderr, StringComparison.Ordinal);
            Assert.Equal(hostname, Environment.MachineName);
        }
        finally
        {
            holder.Kill();
            holder.WaitForExit();
        }
    }

    [PrivilegedFact]
    public void A_sysctl_for_the_runtimes_own_network_namespace_joined_by_path_is_refused()
    {
        // The host's own value, so that even a runtime without this wall changes nothing here.
        var forward = File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim();
        using var b = new TestBundle();
        var c = b.Config;
        b.Config = c with
        {
            Linux = c.Linux! with
            {
                Namespaces = [.. c.Linux.Namespaces!.Where(n => n.Type != "network"), new OciNamespace { Type = "network", Path = "/proc/self/ns/net" }],
                Sysctl = new() { ["net.ipv4.ip_forward"] = forward },
            },
        };
        b.Sh("cat /proc/sys/net/ipv4/ip_forward");
        var r = b.Run();
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains($"{ErrorCodes.ConfigInvalid}: $.linux.sysctl (/proc/sys/net/ipv4/ip_forward): the network namespace joined by path (/proc/self/ns/net) is the host's",
            r.Stderr, StringComparison.Ordinal);
    }

    private static void RemapRoot(TestBundle b, uint uid = 0)
    {
        var c = b.Config;
        List<OciIdMapping> map = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        b.Config = c with
        {
            Process = c.Process! with { User = new OciUser { Uid = uid, Gid = uid } },
            Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!, new OciNamespace { Type = "user" }], UidMappings = map, GidMappings = [.. map] },
        };
    }

    private static string Output(string program, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true })!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program}: exit {p.ExitCode}");
        return text;
    }

    [PrivilegedFact]
    public void As_root_a_user_namespace_that_maps_container_root_to_host_100000_runs_as_that_root()
    {
        using var b = new TestBundle();
        var rw = Directory.CreateDirectory(Path.Combine(b.Dir, "rw")).FullName;
        Assert.Equal(0, Output("chown", "100000:100000", rw).Length);
        RemapRoot(b);
        b.Config = b.Config with { Mounts = [.. b.Config.Mounts!, new OciMount { Destination = "/root", Type = "bind", Source = rw, Options = ["bind"] }] };
        b.Sh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '; ls /dev/pts; touch /root/made && mkdir /root/dir && echo written");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["0", "0", " 0 100000 65536", " 0 100000 65536", "ptmx", "written"], r.Stdout.Trim('\n').Split('\n'));
        Assert.Equal("100000:100000\n100000:100000\n", Output("stat", "-c", "%u:%g", Path.Combine(rw, "made"), Path.Combine(rw, "dir")));

        // Seen from the host, the container's processes are 100000 + their uid.
        foreach (var (uid, hostUid) in new[] { (0u, "100000"), (1000u, "101000") })
        {
            using var c = new TestBundle();
            RemapRoot(c, uid);
            c.WithArgs("sleep", "60");
            var created = c.Cli(["create", "--bundle", c.Dir, c.Id]);
            Assert.True(created.ExitCode == 0, created.ToString());
            var status = File.ReadAllLines($"/proc/{Pid(c)}/status");
            Assert.Equal($"Uid:\t{hostUid}\t{hostUid}\t{hostUid}\t{hostUid}", status.Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)));
            Assert.Equal($"Gid:\t{hostUid}\t{hostUid}\t{hostUid}\t{hostUid}", status.Single(l => l.StartsWith("Gid:", StringComparison.Ordinal)));
            Assert.Equal(0, c.Cli(["delete", "--force", c.Id]).ExitCode);
        }
    }
}
