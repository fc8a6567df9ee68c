using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>What a process inside sees: real containers from the published executable.</summary>
public class IsolationTests
{
    [PrivilegedFact]
    public void The_process_is_pid_1_with_its_hostname_only_loopback_and_the_rootfs_as_root()
    {
        using var b = new TestBundle();
        b.Sh("echo pid=$$; hostname; ls /sys/class/net; cat /sys/class/net/lo/flags; head -1 /etc/passwd; " +
             "test -e /usr/share/dotnet && echo host-visible || echo isolated; env | grep -c SANDBOX_TEST_SECRET; pwd");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n');
        Assert.Equal("pid=1", lines[0]);
        Assert.Equal("sandbox", lines[1]);
        Assert.Equal("lo", lines[2]);
        Assert.Equal(1, Convert.ToInt32(lines[3], 16) & 1); // IFF_UP
        Assert.Equal("root:x:0:0:root:/root:/bin/sh", lines[4]);
        Assert.Equal("isolated", lines[5]);
        Assert.Equal("0", lines[6]);
        Assert.Equal("/", lines[7]);
    }

    [PrivilegedFact]
    public void Devices_in_several_directories_are_made_where_the_config_says_with_their_owners()
    {
        // The child keeps a directory open across device steps (PostClone.DeviceDir): entries of /dev, /dev/net and
        // /dev/a/b follow one another here, so it must change directory between them and never write into the last.
        using var b = new TestBundle();
        b.Config = b.Config with
        {
            Linux = b.Config.Linux! with
            {
                Devices =
                [
                    new OciDevice { Type = "c", Path = "/dev/net/tun", Major = 10, Minor = 200, FileMode = 438, Uid = 5, Gid = 6 },
                    new OciDevice { Type = "c", Path = "/dev/kmsg2", Major = 1, Minor = 11, FileMode = 384 },
                    new OciDevice { Type = "c", Path = "/dev/a/b/null2", Major = 1, Minor = 3, FileMode = 438 },
                    new OciDevice { Type = "c", Path = "/dev/net/tun2", Major = 10, Minor = 200, FileMode = 438 },
                ],
            },
        };
        b.Sh("for f in /dev/net/tun /dev/kmsg2 /dev/a/b/null2 /dev/net/tun2 /dev/null /dev/zero; do " +
             "stat -c '%n %F %t:%T %a %u:%g' $f; done; ls /dev/net /dev/a/b | tr '\\n' ' '; test -L /dev/stdout && echo links");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(
        [
            "/dev/net/tun character special file a:c8 666 5:6",
            "/dev/kmsg2 character special file 1:b 600 0:0",
            "/dev/a/b/null2 character special file 1:3 666 0:0",
            "/dev/net/tun2 character special file a:c8 666 0:0",
            "/dev/null character special file 1:3 666 0:0",
            "/dev/zero character special file 1:5 666 0:0",
            "/dev/a/b: null2  /dev/net: tun tun2 links",
        ], r.Stdout.Trim().Split('\n'));
    }

    [PrivilegedFact]
    public void Masked_paths_read_as_nothing_and_read_only_paths_refuse_writes()
    {
        using var b = new TestBundle();
        // /proc/timer_list and /sys/firmware exist on every kernel here; the default config masks both.
        b.Sh("wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; " +
             "(echo x > /proc/sys/kernel/domainname) 2>/dev/null && echo writable || echo readonly; " +
             "echo x > /proc/timer_list; wc -c < /proc/timer_list");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["0", "0", "readonly", "0"], r.Stdout.Trim().Split('\n'));
    }

    [PrivilegedFact]
    public void A_read_only_root_refuses_writes_and_tmp_is_private_and_writable()
    {
        using var b = new TestBundle();
        b.Sh("touch /newfile 2>/dev/null && echo root-writable || echo root-readonly; touch /tmp/x && ls /tmp");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["root-readonly", "x"], r.Stdout.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(SandboxHost.Rootfs, "newfile")));
    }

    [PrivilegedFact]
    public void Rlimits_are_set_as_configured()
    {
        using var b = new TestBundle();
        b.Sh("ulimit -n; ulimit -Hn; ulimit -c");
        b.Config = b.Config with
        {
            Process = b.Process with
            {
                Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Soft = 512, Hard = 4096 }, new OciRlimit { Type = "RLIMIT_CORE", Soft = 0, Hard = 0 }],
            },
        };
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["512", "4096", "0"], r.Stdout.Trim().Split('\n'));
    }

    [PrivilegedFact]
    public void Capabilities_are_exactly_those_configured()
    {
        using var b = new TestBundle();
        b.Sh("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | tr -s '\\t' ' '");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29)
        Assert.Equal(["CapInh: 0000000000000000", "CapPrm: 0000000020000420", "CapEff: 0000000020000420", "CapBnd: 0000000020000420", "CapAmb: 0000000000000000"],
            r.Stdout.Trim().Split('\n'));

        List<string> raw = ["CAP_NET_RAW", "CAP_KILL"];
        b.Config = b.Config with
        {
            Process = b.Process with { Capabilities = new OciCapabilities { Bounding = raw, Permitted = raw, Effective = raw, Inheritable = raw, Ambient = ["CAP_NET_RAW"] } },
        };
        r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["CapInh: 0000000000002020", "CapPrm: 0000000000002020", "CapEff: 0000000000002020", "CapBnd: 0000000000002020", "CapAmb: 0000000000002000"],
            r.Stdout.Trim().Split('\n'));
    }

    [PrivilegedFact]
    public void The_configured_user_groups_umask_and_cwd_apply_and_no_new_privs_is_set()
    {
        using var b = new TestBundle();
        b.Sh("grep -E '^(Uid|Gid|Groups|NoNewPrivs)' /proc/self/status | tr -s '\\t' ' '; umask; pwd");
        b.Config = b.Config with { Process = b.Process with { User = new OciUser { Uid = 1000, Gid = 1001, AdditionalGids = [2000, 2001], Umask = 0x3f }, Cwd = "/tmp" } };
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["Uid: 1000 1000 1000 1000", "Gid: 1001 1001 1001 1001", "Groups: 2000 2001 ", "NoNewPrivs: 1", "0077", "/tmp"],
            r.Stdout.Trim().Split('\n'));
    }

    [PrivilegedFact]
    public void Only_the_configured_environment_reaches_the_process()
    {
        using var b = new TestBundle();
        b.WithArgs("/bin/env");
        b.Config = b.Config with { Process = b.Process with { Env = ["A=1", "PATH=/bin"] } };
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["A=1", "PATH=/bin"], r.Stdout.Trim().Split('\n').Order());
    }

    [PrivilegedFact]
    public void Default_devices_exist_and_behave()
    {
        using var b = new TestBundle();
        b.Sh("ls /dev | sort | tr '\\n' ' '; echo; head -c 4 /dev/zero | wc -c; echo hi > /dev/null && echo null-ok; readlink /dev/fd; stat -c %a /dev/shm");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Trim().Split('\n');
        Assert.Equal("fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero", lines[0].Trim());
        Assert.Equal(["4", "null-ok", "/proc/self/fd", "1777"], lines[1..]);
    }

    [PrivilegedFact]
    public void Pivot_root_and_no_pivot_both_leave_the_rootfs_as_root()
    {
        using var b = new TestBundle();
        b.Sh("head -1 /etc/passwd; test -d /proc/self && test ! -e /usr/share/dotnet");
        var pivot = b.Run();
        var chroot = b.Run("--no-pivot");
        Assert.True(pivot.ExitCode == 0, pivot.ToString());
        Assert.True(chroot.ExitCode == 0, chroot.ToString());
        Assert.StartsWith("root:x:0:0", pivot.Stdout, StringComparison.Ordinal);
        Assert.StartsWith("root:x:0:0", chroot.Stdout, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void A_bind_mount_is_read_only_when_asked_and_its_destination_is_created()
    {
        using var b = new TestBundle();
        var data = Directory.CreateDirectory(Path.Combine(b.Dir, "data")).FullName;
        File.WriteAllText(Path.Combine(data, "in.txt"), "hello\n");
        var rw = Directory.CreateDirectory(Path.Combine(b.Dir, "out")).FullName;
        b.Config = b.Config with
        {
            Mounts = [.. b.Config.Mounts!,
                new OciMount { Destination = "/srv/data/deep", Type = "bind", Source = data, Options = ["rbind", "ro", "nosuid"] },
                new OciMount { Destination = "/out", Type = "bind", Source = rw, Options = ["bind"] }],
        };
        b.Sh("cat /srv/data/deep/in.txt; (echo x > /srv/data/deep/new) 2>/dev/null && echo rw || echo ro; echo written > /out/o.txt");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["hello", "ro"], r.Stdout.Trim().Split('\n'));
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(rw, "o.txt")));
    }

    [PrivilegedFact]
    public void Namespaces_can_be_joined_by_path()
    {
        using var a = new TestBundle();
        a.WithArgs("sleep", "30");
        a.Config = a.Config with { Hostname = "alpha" };
        var created = a.Cli(["create", "--bundle", a.Dir, a.Id]);
        Assert.True(created.ExitCode == 0, created.ToString());
        var pid = System.Text.Json.JsonDocument.Parse(a.Cli(["state", a.Id]).Stdout).RootElement.GetProperty("pid").GetInt32();

        using var b = new TestBundle();
        b.Sh("hostname");
        b.Config = b.Config with
        {
            Hostname = null,
            Linux = b.Config.Linux! with
            {
                Namespaces = [.. b.Config.Linux.Namespaces!.Where(n => n.Type is not ("uts" or "network")),
                    new OciNamespace { Type = "uts", Path = $"/proc/{pid}/ns/uts" }, new OciNamespace { Type = "network", Path = $"/proc/{pid}/ns/net" }],
            },
        };
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("alpha", r.Stdout.Trim());
    }
}

public class MountAndProcessTests
{
    [PrivilegedFact]
    public void Tmpfs_size_and_mode_overlay_and_oom_score_adj_apply()
    {
        using var b = new TestBundle();
        var lower = Directory.CreateDirectory(Path.Combine(b.Dir, "lower")).FullName;
        File.WriteAllText(Path.Combine(lower, "from-lower"), "l\n");
        var upper = Directory.CreateDirectory(Path.Combine(b.Dir, "upper")).FullName;
        var work = Directory.CreateDirectory(Path.Combine(b.Dir, "work")).FullName;
        b.Config = b.Config with
        {
            Mounts = [.. b.Config.Mounts!,
                new OciMount { Destination = "/scratch", Type = "tmpfs", Source = "tmpfs", Options = ["size=1m", "mode=0710"] },
                new OciMount { Destination = "/merged", Type = "overlay", Source = "overlay", Options = [$"lowerdir={lower}", $"upperdir={upper}", $"workdir={work}"] }],
            Process = b.Process with { OomScoreAdj = 500 },
        };
        b.Sh("stat -c %a /scratch; df -k /scratch | tail -1 | tr -s ' ' | cut -d' ' -f2; cat /merged/from-lower; echo u > /merged/new; cat /proc/self/oom_score_adj");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["710", "1024", "l", "500"], r.Stdout.Trim().Split('\n'));
        Assert.Equal("u\n", File.ReadAllText(Path.Combine(upper, "new")));
    }

    [PrivilegedFact]
    public void Ambient_capabilities_that_are_not_inheritable_are_left_out_as_runc_does_with_one_warning_at_create()
    {
        // What `runc spec` writes: ambient = bounding = effective = permitted, no inheritable.
        string[] three = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
        using var b = new TestBundle();
        b.Config = b.Config with { Process = b.Process with { Capabilities = new OciCapabilities { Bounding = [.. three], Effective = [.. three], Permitted = [.. three], Ambient = [.. three] } } };
        b.Sh("grep -E '^Cap(Eff|Amb)' /proc/self/status");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        // CAP_AUDIT_WRITE 29, CAP_KILL 5, CAP_NET_BIND_SERVICE 10.
        Assert.Equal(["CapEff:\t0000000020000420", "CapAmb:\t0000000000000000"], r.Stdout.Trim().Split('\n'));
        Assert.DoesNotContain("ambient", r.Stderr, StringComparison.Ordinal); // `run`: stderr is the container's

        try
        {
            var created = b.Cli(["create", "--bundle", b.Dir, b.Id + "c"]);
            Assert.True(created.ExitCode == 0, created.ToString());
            Assert.Contains("ambient: CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE not both permitted and inheritable", created.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Assert.Equal(0, b.Cli(["delete", "--force", b.Id + "c"]).ExitCode);
        }
    }

    [PrivilegedFact]
    public void A_time_namespace_is_created_and_entered()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Linux = b.Config.Linux! with { Namespaces = [.. b.Config.Linux.Namespaces!, new OciNamespace { Type = "time" }] } };
        b.Sh("readlink /proc/self/ns/time");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        var host = new FileInfo("/proc/self/ns/time").LinkTarget;
        Assert.StartsWith("time:[", r.Stdout, StringComparison.Ordinal);
        Assert.NotEqual(host, r.Stdout.Trim());
    }

    [PrivilegedFact]
    public void Sysctls_are_written_in_the_containers_namespaces()
    {
        using var b = new TestBundle();
        b.Config = b.Config with
        {
            Linux = b.Config.Linux! with { ReadonlyPaths = [], Sysctl = new() { ["net.ipv4.ip_unprivileged_port_start"] = "80", ["kernel.domainname"] = "example" } },
        };
        b.Sh("cat /proc/sys/net/ipv4/ip_unprivileged_port_start; cat /proc/sys/kernel/domainname");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["80", "example"], r.Stdout.Trim().Split('\n'));
        Assert.NotEqual("example", File.ReadAllText("/proc/sys/kernel/domainname").Trim());
    }
}
