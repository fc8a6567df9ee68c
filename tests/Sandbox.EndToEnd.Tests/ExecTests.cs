using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// `sandbox exec`: a process joins a created or running container (namespaces, cgroup, root, credentials, seccomp),
/// in the foreground or detached, from flags or a --process file as podman writes it.
/// </summary>
public partial class ExecTests
{
    private static int StartSleeper(TestBundle b, string[] global, string? asUser = null)
    {
        b.WithArgs("sleep", "600");
        b.Write();
        var created = SandboxHost.Run([.. global, "create", "--bundle", b.Dir, b.Id], asUser: asUser);
        Assert.True(created.ExitCode == 0, created.ToString());
        var started = SandboxHost.Run([.. global, "start", b.Id], asUser: asUser);
        Assert.True(started.ExitCode == 0, started.ToString());
        var state = SandboxHost.Run([.. global, "state", b.Id], asUser: asUser);
        return JsonDocument.Parse(state.Stdout).RootElement.GetProperty("pid").GetInt32();
    }

    private static string Namespaces(string pidDir) =>
        string.Join("\n", new[] { "pid", "net", "mnt", "uts", "ipc", "cgroup", "user" }.Select(n => new FileInfo($"{pidDir}/ns/{n}").LinkTarget));

    private const string ShowNamespaces = "for n in pid net mnt uts ipc cgroup user; do readlink /proc/self/ns/$n; done";

    [PrivilegedFact]
    public void A_process_joins_the_containers_namespaces_cgroup_root_and_profile()
    {
        using var b = new TestBundle();
        // mkdir is denied (EACCES) by the container's profile: the exec'd process must be under it as well.
        b.Config = b.Config with
        {
            Linux = b.Config.Linux! with
            {
                Seccomp = new OciSeccomp
                {
                    DefaultAction = "SCMP_ACT_ALLOW",
                    Syscalls = [new OciSyscallRule { Names = ["mkdir", "mkdirat"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 13 }],
                },
            },
        };
        var pid = StartSleeper(b, b.Global);

        var r = b.Cli(["exec", b.Id, "sh", "-c", ShowNamespaces]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(Namespaces($"/proc/{pid}"), r.Stdout.TrimEnd());
        Assert.NotEqual(Namespaces("/proc/self"), r.Stdout.TrimEnd());

        // In the container's pid namespace (the first process is its 1), its cgroup (every hierarchy, named ones too),
        // with the capabilities, no_new_privs and seccomp filter the config gives, in the container's root.
        r = b.Cli(["exec", b.Id, "sh", "-c",
            "cat /proc/1/cmdline; echo; [ \"$(cat /proc/self/cgroup)\" = \"$(cat /proc/1/cgroup)\" ] && echo same-cgroup; "
            + "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; mkdir /tmp/denied 2>&1; ls /; hostname"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("sleep\0600", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("same-cgroup", r.Stdout, StringComparison.Ordinal);
        var status = File.ReadAllLines($"/proc/{pid}/status");
        foreach (var field in new[] { "CapEff:", "CapBnd:", "NoNewPrivs:", "Seccomp:" })
        {
            Assert.Contains(status.Single(l => l.StartsWith(field, StringComparison.Ordinal)), r.Stdout, StringComparison.Ordinal);
        }
        Assert.Contains("Seccomp:\t2", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Permission denied", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("bin", r.Stdout.Split('\n'));
        Assert.DoesNotContain("work", r.Stdout.Split('\n'));
        Assert.EndsWith(b.Config.Hostname + "\n", r.Stdout, StringComparison.Ordinal);
        var cgroupProcs = SandboxHost.CgroupsOf(b.Id);
        Assert.NotEmpty(cgroupProcs);
        // Seen from the host, where the container's cgroup namespace hides nothing: a detached exec's process is in the
        // container's cgroup in every hierarchy, as the first process is (both move themselves in on cgroup v1).
        var pidFile = Path.Join(b.Dir, "exec.pid");
        r = b.Cli(["exec", "--detach", "--pid-file", pidFile, b.Id, "sleep", "600"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var execPid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        var initCgroups = File.ReadAllText($"/proc/{pid}/cgroup");
        Assert.Equal(initCgroups, File.ReadAllText($"/proc/{execPid}/cgroup"));
        Assert.All(initCgroups.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("0::", StringComparison.Ordinal)),
            l => Assert.EndsWith("-" + b.Id, l, StringComparison.Ordinal));
        Assert.Contains(cgroupProcs, d => File.ReadAllText(Path.Join(d, "cgroup.procs")).Split('\n').Contains(execPid.ToString(CultureInfo.InvariantCulture)));

        // The exit status is the process's; a signal is 128+N, as `run` reports it.
        Assert.Equal(7, b.Cli(["exec", b.Id, "sh", "-c", "exit 7"]).ExitCode);
        Assert.Equal(128 + 9, b.Cli(["exec", b.Id, "sh", "-c", "kill -9 $$"]).ExitCode);
    }

    /// <summary>A foreground exec forwards signals as `run` does, and its process starts with none blocked or ignored.</summary>
    [PrivilegedFact]
    public void A_foreground_process_starts_with_no_signal_blocked_or_ignored_and_gets_every_forwarded_signal()
    {
        using var b = new TestBundle();
        StartSleeper(b, b.Global);
        SignalForwardingProbe.AssertEmptyMask(b.Cli(["exec", b.Id, .. SignalForwardingProbe.ShowMask]));
        SignalForwardingProbe.Check(b.Global.Concat(["exec", b.Id, "sh", "-c", SignalForwardingProbe.Script]));
    }

    [PrivilegedFact]
    public void Flags_change_the_containers_process_and_a_process_file_replaces_it()
    {
        using var b = new TestBundle();
        StartSleeper(b, b.Global);

        var r = b.Cli(["exec", "--user", "1000:1000", "--cwd", "/tmp", "--env", "A=1", "--env", "B=2", b.Id,
            "sh", "-c", "id -u; id -g; pwd; echo $A$B; grep CapEff /proc/self/status"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["1000", "1000", "/tmp", "12", "CapEff:\t0000000000000000"], r.Stdout.TrimEnd().Split('\n'));

        var process = new OciProcess
        {
            Args = ["sh", "-c", "echo from-file; id -u; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status"],
            Cwd = "/",
            Env = ["PATH=/bin"],
            User = new OciUser { Uid = 0, Gid = 0 },
            Capabilities = new OciCapabilities { Bounding = ["CAP_KILL"], Effective = ["CAP_KILL"], Permitted = ["CAP_KILL"] },
            NoNewPrivileges = true,
        };
        var file = Path.Combine(b.Dir, "process.json");
        File.WriteAllText(file, JsonSerializer.Serialize(process, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
        r = b.Cli(["exec", "--process", file, b.Id]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["from-file", "0", "CapEff:\t0000000000000020", "NoNewPrivs:\t1"], r.Stdout.TrimEnd().Split('\n'));

        // A bad process file is an SBX error naming each field; a missing program is 127, as for `run`.
        File.WriteAllText(file, """{"args": [], "cwd": "relative"}""");
        r = b.Cli(["exec", "--process", file, b.Id]);
        Assert.Equal(125, r.ExitCode);
        Assert.Contains($"{file}: $.args: must hold at least the program to run", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("$.cwd: must be an absolute path", r.Stderr, StringComparison.Ordinal);
        r = b.Cli(["exec", b.Id, "no-such-program"]);
        Assert.Equal(127, r.ExitCode);
        Assert.Contains(ErrorCodes.ExecFailed, r.Stderr, StringComparison.Ordinal);
        r = b.Cli(["exec", b.Id]);
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(ErrorCodes.Usage, r.Stderr, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Detached_the_process_outlives_exec_and_is_the_containers()
    {
        using var b = new TestBundle();
        StartSleeper(b, b.Global);
        var pidFile = Path.Combine(b.Dir, "exec.pid");
        // Orphaned when `sandbox exec` returns: this process adopts it (as podman's conmon does), so it is reaped here.
        Assert.Equal(0, Prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
        var r = b.Cli(["exec", "--detach", "--pid-file", pidFile, b.Id, "sleep", "300"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var pid = int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            Assert.True(SandboxHost.ProcessExists(pid));
            Assert.StartsWith("sleep\0" + "300", File.ReadAllText($"/proc/{pid}/cmdline"), StringComparison.Ordinal);
            var ps = b.Cli(["ps", "--format", "json", b.Id]);
            Assert.Contains(pid, JsonDocument.Parse(ps.Stdout).RootElement.EnumerateArray().Select(e => e.GetInt32()));
            // Killing the container kills it too.
            Assert.Equal(0, b.Cli(["kill", "--all", b.Id, "KILL"]).ExitCode);
            SandboxHost.WaitUntil(() => !SandboxHost.ProcessExists(pid), TimeSpan.FromSeconds(10), "the exec'd process to die with the container");
        }
        finally
        {
            Libc.Kill(pid, 9);
            for (var i = 0; i < 500 && Waitpid(pid, 0, WNOHANG) == 0; i++)
            {
                Thread.Sleep(10);
            }
        }
    }

    [PrivilegedFact]
    public void Only_a_created_or_running_container_takes_a_process()
    {
        using var b = new TestBundle();
        var pid = StartSleeper(b, b.Global);
        Assert.Equal(0, b.Cli(["pause", b.Id]).ExitCode);
        var paused = b.Cli(["exec", b.Id, "true"]);
        Assert.Equal(125, paused.ExitCode);
        Assert.Contains(ErrorCodes.WrongState, paused.Stderr, StringComparison.Ordinal);
        Assert.Contains("resume", paused.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, b.Cli(["resume", b.Id]).ExitCode);
        Assert.Equal(0, b.Cli(["kill", b.Id, "KILL"]).ExitCode);
        SandboxHost.WaitUntil(() => !SandboxHost.ProcessExists(pid), TimeSpan.FromSeconds(5), "the container to stop");
        var stopped = b.Cli(["exec", b.Id, "true"]);
        Assert.Equal(125, stopped.ExitCode);
        Assert.Contains(ErrorCodes.WrongState, stopped.Stderr, StringComparison.Ordinal);
        var missing = b.Cli(["exec", "no-such-container", "true"]);
        Assert.Contains(ErrorCodes.ContainerNotFound, missing.Stderr, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void A_working_directory_through_an_inherited_descriptor_stays_inside_the_root()
    {
        // The runtime's descriptors must not reach the process: a cwd of /proc/self/fd/N would otherwise lead into the
        // host (CVE-2024-21626 in runc). Each one either fails or lands inside the container's root.
        using var b = new TestBundle();
        StartSleeper(b, b.Global);
        for (var fd = 3; fd < 12; fd++)
        {
            var r = b.Cli(["exec", "--cwd", $"/proc/self/fd/{fd}", b.Id, "sh", "-c", "pwd; ls /proc/self/cwd/ >/dev/null && ls ../../../../ | tr '\\n' ' '"]);
            if (r.ExitCode == 0)
            {
                Assert.DoesNotContain("work", r.Stdout.Split(' ', '\n'));
            }
            else
            {
                Assert.Equal(125, r.ExitCode);
            }
        }
    }

    [PrivilegedFact]
    public void A_rootless_container_takes_a_process_from_its_user()
    {
        const uint nobody = 65534;
        using var b = new TestBundle(rootless: true, uid: nobody);
        var state = b.SharedStateRoot();
        string[] global = ["--root", state];
        var pid = StartSleeper(b, global, asUser: "65534");
        try
        {
            var r = SandboxHost.Run([.. global, "exec", b.Id, "sh", "-c", "id -u; " + ShowNamespaces], asUser: "65534");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("0\n" + Namespaces($"/proc/{pid}"), r.Stdout.TrimEnd());
        }
        finally
        {
            SandboxHost.Run([.. global, "delete", "--force", b.Id], asUser: "65534");
        }
    }

    private const int PR_SET_CHILD_SUBREAPER = 36, WNOHANG = 1;

    [LibraryImport("libc", EntryPoint = "prctl")]
    private static partial int Prctl(int option, nuint a, nuint b, nuint c, nuint d);

    [LibraryImport("libc", EntryPoint = "waitpid")]
    private static partial int Waitpid(int pid, nint status, int options);

    private static partial class Libc
    {
        [LibraryImport("libc", EntryPoint = "kill")]
        public static partial int Kill(int pid, int signal);
    }
}
