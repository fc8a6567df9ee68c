using System.Diagnostics;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// The `tmpcopyup` mount option (podman's `--read-only --tmpfs`): a tmpfs that starts as a copy of what the rootfs had
/// there. The rootfs is a stranger's: its symlinks are copied, never followed.
/// </summary>
public class TmpCopyUpTests
{
    private static void Sh(string script)
    {
        using var p = Process.Start("/bin/sh", ["-c", script])!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, script);
    }

    /// <summary>A private copy of the busybox rootfs with a /data tree to copy up, and a host directory its symlinks name.</summary>
    private static (string Rootfs, string HostDir) MakeRootfs(TestBundle b)
    {
        var rootfs = Path.Combine(b.Dir, "rootfs");
        var host = Directory.CreateDirectory(Path.Combine(b.Dir, "host-secret")).FullName;
        File.WriteAllText(Path.Combine(host, "secret"), "host-only\n");
        Sh($"cp -a '{SandboxHost.Rootfs}' '{rootfs}' && cd '{rootfs}' && mkdir -p data/sub/deeper && echo top > data/file && chmod 4751 data/file " +
           $"&& echo deep > data/sub/deeper/f && chown 1000:1001 data/sub/deeper/f && chmod 604 data/sub/deeper/f && chmod 705 data/sub " +
           $"&& ln -s '{host}' data/to-host && ln -s ../../../../.. data/up && ln -s / data/root && mkfifo -m 620 data/pipe " +
           "&& mknod data/null c 1 3");
        return (rootfs, host);
    }

    [PrivilegedFact]
    public void A_tmpcopyup_tmpfs_starts_as_a_copy_of_the_rootfs_and_follows_no_symlink_out_of_it()
    {
        using var b = new TestBundle();
        var (rootfs, host) = MakeRootfs(b);
        b.Config = b.Config with
        {
            Root = new OciRoot { Path = rootfs, Readonly = true },
            Mounts = [.. b.Config.Mounts!, new OciMount { Destination = "/data", Type = "tmpfs", Source = "tmpfs", Options = ["tmpcopyup", "nosuid", "nodev", "mode=755"] }],
        };
        b.Sh("cd /data && find . | sort | tr '\\n' ' '; echo; " +
             "stat -c '%n %a %u:%g %F' file sub sub/deeper/f pipe; cat file sub/deeper/f; " +
             "for l in to-host up root; do readlink $l; done; cat to-host/secret 2>/dev/null || echo no-secret; " +
             "echo new > made && cat made && touch /etc/x 2>/dev/null || echo root-readonly");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(
        [
            ". ./file ./pipe ./root ./sub ./sub/deeper ./sub/deeper/f ./to-host ./up ",
            "file 4751 0:0 regular file", "sub 705 0:0 directory", "sub/deeper/f 604 1000:1001 regular file", "pipe 620 0:0 fifo",
            "top", "deep",
            host, "../../../../..", "/",
            "no-secret",
            "new", "root-readonly",
        ], r.Stdout.Trim('\n').Split('\n'));
        // The rootfs is untouched, and nothing of the host's tree was copied anywhere.
        Assert.False(File.Exists(Path.Combine(rootfs, "data/made")));
        Assert.Equal(["secret"], Directory.GetFileSystemEntries(host).Select(Path.GetFileName));
    }

    [PrivilegedFact]
    public void A_tree_deeper_than_64_levels_fails_the_setup_rather_than_the_runtimes_stack()
    {
        using var b = new TestBundle();
        var (rootfs, _) = MakeRootfs(b);
        Directory.CreateDirectory(Path.Combine([rootfs, "data", .. Enumerable.Repeat("d", 70)]));
        b.Config = b.Config with
        {
            Root = new OciRoot { Path = rootfs, Readonly = true },
            Mounts = [.. b.Config.Mounts!, new OciMount { Destination = "/data", Type = "tmpfs", Source = "tmpfs", Options = ["tmpcopyup"] }],
        };
        b.WithArgs("true");
        var r = b.Run();
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("SBX2001: mount tmpfs with a copy of the rootfs's files on /data: ELOOP", r.Stderr, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void A_read_only_tmpcopyup_tmpfs_is_filled_then_read_only_and_rootless_too()
    {
        using var b = new TestBundle();
        var (rootfs, _) = MakeRootfs(b);
        Sh($"chmod -R o+rX '{rootfs}/data'");
        OciMount Data() => new() { Destination = "/data", Type = "tmpfs", Source = "tmpfs", Options = ["tmpcopyup", "ro", "nosuid", "nodev"] };
        const string script = "cat /data/file /data/sub/deeper/f; readlink /data/root; touch /data/x 2>/dev/null || echo data-readonly";
        b.Config = b.Config with { Root = new OciRoot { Path = rootfs, Readonly = true }, Mounts = [.. b.Config.Mounts!, Data()] };
        b.Sh(script);
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["top", "deep", "/", "data-readonly"], r.Stdout.Trim('\n').Split('\n'));

        // Rootless: the rootfs's owners are not mapped there, so the copies are the namespace root's.
        const uint nobody = 65534;
        using var rootless = new TestBundle(rootless: true, uid: nobody);
        var state = rootless.SharedStateRoot();
        rootless.Config = rootless.Config with { Root = new OciRoot { Path = rootfs, Readonly = true }, Mounts = [.. rootless.Config.Mounts!, Data()] };
        rootless.Sh(script + "; stat -c '%u %a' /data/sub/deeper/f");
        rootless.Write();
        var rr = SandboxHost.Run(["--root", state, "run", "--bundle", rootless.Dir, rootless.Id], asUser: "65534");
        Assert.True(rr.ExitCode == 0, rr.ToString());
        Assert.Equal(["top", "deep", "/", "data-readonly", "0 604"], rr.Stdout.Trim('\n').Split('\n'));
    }
}
