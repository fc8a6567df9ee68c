namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// podman (Debian's, eng/install-deps.sh) with sandbox as its OCI runtime: podman makes the config, conmon calls
/// `sandbox create/start/exec/kill/delete/update/pause`, and the container behaves as podman promises, terminals
/// (`-t`, through the console socket) and healthchecks (through `exec`) included.
/// </summary>
public sealed class PodmanTests(PodmanStore podman) : IClassFixture<PodmanStore>, IDisposable
{
    private readonly List<string> _names = [];

    /// <summary>
    /// Removes every container the test named, then checks that nothing of them stays: no mount under the store, no
    /// cgroup under the store's parent cgroup (sandbox deletes a container's cgroups; podman only asks it to).
    /// </summary>
    public void Dispose()
    {
        foreach (var name in _names)
        {
            podman.Run("rm", "--force", "--time", "0", "--ignore", name);
        }
        Assert.Equal("", podman.Run("ps", "--all", "--quiet").Stdout.Trim());
        Assert.Empty(podman.Mounts());
        Assert.Empty(podman.ContainerCgroups());
    }

    /// <summary>A container name for this test; podman writes its id to <see cref="Id"/>'s file.</summary>
    private string Name(string what)
    {
        var name = $"{what}-{Environment.ProcessId}-{_names.Count}";
        _names.Add(name);
        return name;
    }

    private string Id(string name) => File.ReadAllText(podman.CidFile(name)).Trim();

    /// <summary>`podman run --name NAME OPTIONS... IMAGE COMMAND...`, with the options every container here takes.</summary>
    private RunResult Run(string name, string[] options, params string[] command) =>
        podman.Run(["run", "--name", name, "--cidfile", podman.CidFile(name), "--network", "none", "--cgroup-parent", podman.CgroupParent, .. options,
            podman.Image, .. command]);

    private static void Ok(RunResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [PrivilegedFact]
    public void Run_prints_the_output_and_returns_the_exit_code()
    {
        var r = Run(Name("run"), ["--rm"], "sh", "-c", "echo out; echo err >&2; id -u; exit 3");
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Equal("out\n0\n", r.Stdout);
        Assert.Equal("err\n", r.Stderr);

        Ok(Run(Name("true"), ["--rm"], "true"));
        // As with runc, a program that is not there is 127, one that cannot be executed 126.
        var missing = Run(Name("missing"), ["--rm"], "/no/such/program");
        Assert.True(missing.ExitCode == 127, missing.ToString());
        var notExecutable = Run(Name("noexec"), ["--rm"], "/etc/passwd");
        Assert.True(notExecutable.ExitCode == 126, notExecutable.ToString());
    }

    [PrivilegedFact]
    public void Standard_input_and_the_environment_reach_the_program()
    {
        var name = Name("stdin");
        var r = podman.Run(["run", "--interactive", "--rm", "--name", name, "--network", "none", "--cgroup-parent", podman.CgroupParent,
            "--env", "GREETING=hi", "--workdir", "/tmp", "--user", "1000:1000", "--hostname", "box", podman.Image,
            "sh", "-c", "read line; echo \"$GREETING $line\"; pwd; id -u; id -g; hostname"], stdin: "from stdin\n");
        Ok(r);
        Assert.Equal("hi from stdin\n/tmp\n1000\n1000\nbox\n", r.Stdout);
    }

    [PrivilegedFact]
    public void A_detached_container_is_listed_inspected_stopped_and_removed()
    {
        var name = Name("detached");
        // The shell ends on SIGTERM with 7: `stop` sends TERM and the status is the program's.
        Ok(Run(name, ["--detach"], "sh", "-c", "trap 'echo stopping; exit 7' TERM; echo started; while :; do sleep 0.1; done"));
        var id = Id(name);
        SandboxHost.WaitUntil(() => podman.Run("logs", name).Stdout.Contains("started", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the container starts");

        Assert.Contains(name, podman.Run("ps", "--format", "{{.Names}} {{.Status}}").Stdout, StringComparison.Ordinal);
        var state = podman.Run("inspect", "--format", "{{.State.Status}} {{.State.Pid}}", name).Stdout.Trim().Split(' ');
        Assert.Equal("running", state[0]);
        // The pid podman reports is the program's on the host, in the cgroup podman asked for.
        var pid = int.Parse(state[1]);
        Assert.Contains($"{podman.CgroupParent}/libpod-{id}", File.ReadAllText($"/proc/{pid}/cgroup"), StringComparison.Ordinal);
        Assert.Contains("sh -c trap", podman.Run("top", name, "args").Stdout, StringComparison.Ordinal);

        Ok(podman.Run("stop", "--time", "10", name));
        Assert.Equal("exited 7", podman.Run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).Stdout.Trim());
        Assert.Equal("started\nstopping\n", podman.Run("logs", name).Stdout);
        Assert.False(SandboxHost.ProcessExists(pid));

        // Started again, the same container runs anew.
        Ok(podman.Run("start", name));
        Assert.Equal("running", podman.Run("inspect", "--format", "{{.State.Status}}", name).Stdout.Trim());
        Ok(podman.Run("rm", "--force", "--time", "0", name));
        Assert.DoesNotContain(name, podman.Run("ps", "--all", "--format", "{{.Names}}").Stdout, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void A_container_killed_by_a_signal_exits_with_128_plus_its_number()
    {
        var killed = Name("killed");
        Ok(Run(killed, ["--detach"], "sleep", "1000"));
        Ok(podman.Run("kill", "--signal", "KILL", killed));
        Assert.Equal("137", podman.Run("wait", killed).Stdout.Trim());

        // A program that handles no TERM, as PID 1, ignores it: `stop` then kills it after its timeout.
        var stubborn = Name("stubborn");
        Ok(Run(stubborn, ["--detach"], "sleep", "1000"));
        Ok(podman.Run("kill", "--signal", "TERM", stubborn));
        Thread.Sleep(300);
        Assert.Equal("running", podman.Run("inspect", "--format", "{{.State.Status}}", stubborn).Stdout.Trim());
        Ok(podman.Run("stop", "--time", "1", stubborn));
        Assert.Equal("exited 137", podman.Run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", stubborn).Stdout.Trim());

        // A signal the program handles is delivered to it.
        var usr1 = Name("usr1");
        Ok(Run(usr1, ["--detach"], "sh", "-c", "trap 'exit 42' USR1; echo ready; while :; do sleep 0.1; done"));
        SandboxHost.WaitUntil(() => podman.Run("logs", usr1).Stdout.Contains("ready", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the trap is set");
        Ok(podman.Run("kill", "--signal", "USR1", usr1));
        Assert.Equal("42", podman.Run("wait", usr1).Stdout.Trim());
    }

    [PrivilegedFact]
    public void Pause_freezes_the_container_and_unpause_thaws_it()
    {
        var host = podman.HostDirectory("pause");
        var name = Name("pause");
        Ok(Run(name, ["--detach", "--volume", $"{host}:/data"], "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /data/count.new; mv /data/count.new /data/count; sleep 0.05; done"));
        var count = () => File.Exists(Path.Combine(host, "count")) ? File.ReadAllText(Path.Combine(host, "count")).Trim() : "";
        SandboxHost.WaitUntil(() => count() is not ("" or "1"), TimeSpan.FromSeconds(10), "the loop counts");

        Ok(podman.Run("pause", name));
        Assert.Equal("paused", podman.Run("inspect", "--format", "{{.State.Status}}", name).Stdout.Trim());
        var frozen = count();
        Thread.Sleep(300);
        Assert.Equal(frozen, count());

        Ok(podman.Run("unpause", name));
        SandboxHost.WaitUntil(() => count() != frozen, TimeSpan.FromSeconds(10), "the loop counts again");
    }

    [PrivilegedFact]
    public void A_volume_is_the_host_directory()
    {
        var host = podman.HostDirectory("volume");
        File.WriteAllText(Path.Combine(host, "from-host"), "host\n");
        var r = Run(Name("volume"), ["--rm", "--volume", $"{host}:/data"], "sh", "-c", "cat /data/from-host; echo container > /data/from-container");
        Ok(r);
        Assert.Equal("host\n", r.Stdout);
        Assert.Equal("container\n", File.ReadAllText(Path.Combine(host, "from-container")));

        var ro = Run(Name("volume-ro"), ["--rm", "--volume", $"{host}:/data:ro"], "sh", "-c", "cat /data/from-host; touch /data/new");
        Assert.True(ro.ExitCode == 1, ro.ToString());
        Assert.Contains("Read-only file system", ro.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(host, "new")));
    }

    [PrivilegedFact]
    public void Read_only_refuses_writes_to_the_root_but_not_to_tmp_run_and_a_tmpfs()
    {
        var r = Run(Name("read-only"), ["--rm", "--read-only", "--tmpfs", "/scratch"], "sh", "-c",
            "touch /etc/x 2>&1; for d in /tmp /var/tmp /run /scratch; do echo x > $d/f && echo $d writable; done; " +
            "grep -E ' (/|/tmp|/var/tmp|/run|/scratch) ' /proc/mounts | cut -d' ' -f2,3,4 | cut -d, -f1 | sort");
        Ok(r);
        Assert.Equal(
        [
            "touch: /etc/x: Read-only file system",
            "/tmp writable", "/var/tmp writable", "/run writable", "/scratch writable",
            "/ overlay ro", "/run tmpfs rw", "/scratch tmpfs rw", "/tmp tmpfs rw", "/var/tmp tmpfs rw",
        ], r.Stdout.TrimEnd('\n').Split('\n'));

        // Without --read-only the root is writable, in the container's own layer only.
        var w = Run(Name("writable"), ["--rm", "--tmpfs", "/scratch:size=1m"], "sh", "-c", "touch /etc/x && echo root writable; df -k /scratch | tail -1");
        Ok(w);
        Assert.Matches(@"^root writable\ntmpfs +1024 ", w.Stdout);
    }

    /// <summary>The memory limit, pids limit, CPU quota and period a container sees in its own cgroups (v1 or v2).</summary>
    private const string OwnLimits =
        "if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo $(cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max); " +
        "else echo $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us); fi";

    [PrivilegedFact]
    public void Memory_pids_and_cpu_limits_reach_the_containers_cgroup()
    {
        string[] limits = ["--memory", "64m", "--pids-limit", "50", "--cpus", "0.5"];
        var own = Run(Name("limits"), ["--rm", .. limits], "sh", "-c", OwnLimits);
        Ok(own);
        Assert.Equal("67108864 50 50000 100000\n", own.Stdout);

        var name = Name("limits");
        Ok(Run(name, ["--detach", .. limits], "sleep", "1000"));
        Assert.Equal("67108864 50 50000 100000", podman.Limits(Id(name)));
        Assert.Equal("67108864 50 50000", podman.Run("inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuQuota}}", name).Stdout.Trim());
        var stats = podman.Run("stats", "--no-stream", "--format", "{{.MemUsage}} {{.PIDs}}", name);
        Ok(stats);
        Assert.EndsWith("/ 67.11MB 1", stats.Stdout.Trim(), StringComparison.Ordinal);

        // `podman update` goes through `sandbox update`.
        Ok(podman.Run("update", "--memory", "100m", "--cpus", "1.5", name));
        Assert.Equal("104857600 50 150000 100000", podman.Limits(Id(name)));
    }

    [PrivilegedFact]
    public void Block_io_throttles_reach_the_containers_cgroup_and_podman_update_changes_them()
    {
        // Refused before (SBX1011, "only weight is supported"): podman's --device-read-bps and friends failed every run.
        var (path, device) = BlockDevice();
        var own = Run(Name("io"), ["--rm", "--device-read-bps", $"{path}:1mb", "--device-write-iops", $"{path}:100"], "sh", "-c",
            "if [ -e /sys/fs/cgroup/cgroup.controllers ]; then cat /sys/fs/cgroup/io.max; " +
            "else cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device; fi");
        Ok(own);
        Assert.Equal(File.Exists("/sys/fs/cgroup/cgroup.controllers") ? $"{device} rbps=1048576 wbps=max riops=max wiops=100\n" : $"{device} 1048576\n{device} 100\n", own.Stdout);

        var name = Name("io-update");
        Ok(Run(name, ["--detach", "--device-read-bps", $"{path}:1mb"], "sleep", "1000"));
        Ok(podman.Run("update", "--device-write-bps", $"{path}:2mb", name));
        var blkio = File.Exists("/sys/fs/cgroup/cgroup.controllers") ? null : $"/sys/fs/cgroup/blkio{podman.CgroupParent}/libpod-{Id(name)}";
        if (blkio is not null)
        {
            Assert.Equal($"{device} 2097152\n", File.ReadAllText(Path.Combine(blkio, "blkio.throttle.write_bps_device")));
        }
    }

    /// <summary>A block device of this machine (a disk, not a loop or zram device) as /dev/NAME and MAJOR:MINOR.</summary>
    private static (string Path, string Device) BlockDevice()
    {
        var name = Directory.GetDirectories("/sys/block").Select(Path.GetFileName)
            .First(n => n is not null && !n.StartsWith("loop", StringComparison.Ordinal) && !n.StartsWith("zram", StringComparison.Ordinal)
                && !n.StartsWith("ram", StringComparison.Ordinal) && File.Exists("/dev/" + n))!;
        return ("/dev/" + name, File.ReadAllText($"/sys/block/{name}/dev").Trim());
    }

    [PrivilegedFact]
    public void The_limits_hold()
    {
        var pids = Run(Name("pids"), ["--rm", "--pids-limit", "5"], "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done 2>&1; echo forked");
        Assert.Contains("can't fork", pids.Stdout + pids.Stderr, StringComparison.Ordinal);

        // 100 MB in a shell variable under a 32 MiB limit: the kernel's OOM killer ends the container.
        var memory = Run(Name("memory"), ["--rm", "--memory", "32m", "--memory-swap", "32m"], "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived");
        Assert.True(memory.ExitCode == 137, memory.ToString());
        Assert.DoesNotContain("survived", memory.Stdout, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void With_a_uid_map_root_inside_is_an_unprivileged_user_outside()
    {
        var host = podman.HostDirectory("uidmap");
        File.SetUnixFileMode(host, (UnixFileMode)0x1ff);
        var r = Run(Name("uidmap"), ["--rm", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536", "--volume", $"{host}:/data"], "sh", "-c",
            "id -u; id -g; cat /proc/self/uid_map; touch /data/made; stat -c '%u:%g' /bin/busybox");
        Ok(r);
        var lines = r.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal("0", lines[0]);
        Assert.Equal("0", lines[1]);
        Assert.Equal(["0", "100000", "65536"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        // The image's files are root's inside; a file the container makes is 100000's on the host.
        Assert.Equal("0:0", lines[3]);
        Assert.Equal("100000:100000\n", SandboxHost.Command(["stat", "-c", "%u:%g", Path.Combine(host, "made")]).Stdout);
    }

    [PrivilegedFact]
    public void The_personality_option_sets_the_execution_domain()
    {
        // linux.personality, once dropped unread: uname kept the host's machine.
        var r = Run(Name("personality"), ["--rm", "--personality", "LINUX32"], "uname", "-m");
        Ok(r);
        Assert.Equal(System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "armv8l\n" : "i686\n", r.Stdout);
    }

    [PrivilegedFact]
    public void Exec_runs_a_process_in_the_container_and_healthchecks_use_it()
    {
        var name = Name("exec");
        Ok(Run(name, ["--detach", "--hostname", "execbox", "--health-cmd", "test -e /tmp/healthy", "--health-interval", "disable"],
            "sh", "-c", "echo started; sleep 1000"));
        SandboxHost.WaitUntil(() => podman.Run("logs", name).Stdout.Contains("started", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the container starts");

        // podman exec: `sandbox exec --process F --detach --pid-file F ID`, conmon holding the process's stdio.
        var r = podman.Run("exec", "--env", "A=1", "--workdir", "/tmp", name, "sh", "-c", "echo $A; pwd; hostname; cat /proc/1/cmdline | tr '\\0' ' '; exit 4");
        Assert.True(r.ExitCode == 4, r.ToString());
        Assert.Equal("1\n/tmp\nexecbox\nsleep 1000 ", r.Stdout); // the container's first process (sh exec'd its last command)
        r = podman.Run(["exec", "--interactive", name, "sh", "-c", "read x; echo got $x"], stdin: "typed\n");
        Ok(r);
        Assert.Equal("got typed\n", r.Stdout);
        r = podman.Run("exec", "--user", "1000", name, "id", "-u");
        Ok(r);
        Assert.Equal("1000\n", r.Stdout);

        // A healthcheck is an exec: unhealthy until the file exists.
        Assert.NotEqual(0, podman.Run("healthcheck", "run", name).ExitCode);
        Ok(podman.Run("exec", name, "touch", "/tmp/healthy"));
        Ok(podman.Run("healthcheck", "run", name));
        Assert.Equal("healthy", podman.Run("inspect", "--format", "{{.State.Health.Status}}", name).Stdout.Trim());
    }

    [PrivilegedFact]
    public void A_terminal_reaches_run_and_exec_through_the_console_socket()
    {
        // -t: conmon listens on the console socket and sandbox sends it the pty master; a terminal writes CR LF.
        var r = Run(Name("tty"), ["--rm", "--tty"], "sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo all-tty");
        Ok(r);
        Assert.Equal("/dev/pts/0\r\nall-tty\r\n", r.Stdout);

        var name = Name("exec-tty");
        Ok(Run(name, ["--detach"], "sleep", "1000"));
        r = podman.Run("exec", "--tty", name, "sh", "-c", "tty; [ -t 1 ] && echo tty-out");
        Ok(r);
        Assert.Matches("^/dev/pts/[0-9]+\r\ntty-out\r\n$", r.Stdout);
    }

    [PrivilegedFact]
    public void A_pods_containers_share_its_host_name_and_ipc()
    {
        // The pod's infra container runs podman's pause image, which podman builds here from its own catatonit.
        var pod = $"pod-{Environment.ProcessId}";
        Ok(podman.Run("pod", "create", "--name", pod, "--network", "none", "--cgroup-parent", podman.CgroupParent, "--hostname", "podhost"));
        try
        {
            var first = Name("in-pod");
            Ok(Run(first, ["--detach", "--pod", pod], "sh", "-c", "echo shared > /dev/shm/mark; echo ready; sleep 1000"));
            SandboxHost.WaitUntil(() => podman.Run("logs", first).Stdout.Contains("ready", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the first container writes");
            var r = Run(Name("in-pod"), ["--rm", "--pod", pod], "sh", "-c", "hostname; cat /dev/shm/mark");
            Ok(r);
            Assert.Equal("podhost\nshared\n", r.Stdout);
        }
        finally
        {
            Ok(podman.Run("pod", "rm", "--force", "--time", "0", pod));
        }
    }
}

/// <summary>
/// A podman store of its own in a temporary directory, with sandbox as its runtime, the busybox rootfs imported as
/// an image, and a parent cgroup of its own; all of it goes when the class's tests are done.
/// </summary>
public sealed class PodmanStore : IDisposable
{
    private readonly Lazy<string> _image;

    public PodmanStore()
    {
        Dir = Directory.CreateTempSubdirectory("sandbox-e2e-podman-").FullName;
        // Traversable: a container's root (or its uid map's first id) reaches its volumes through this directory.
        File.SetUnixFileMode(Dir, (UnixFileMode)0x1ed);
        CgroupParent = "/" + Path.GetFileName(Dir);
        _image = new(Import);
    }

    public string Dir { get; }

    /// <summary>
    /// The cgroup (in every hierarchy) under which conmon and the containers go: podman's default, libpod_parent,
    /// would outlive the tests, shared with every other podman on the host.
    /// </summary>
    public string CgroupParent { get; }

    public string Image => _image.Value;

    public string CidFile(string name) => Path.Combine(Dir, name + ".cid");

    /// <summary>A new host directory for a test's volume.</summary>
    public string HostDirectory(string what) => Directory.CreateDirectory(Path.Combine(Dir, "host", what + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>
    /// podman's configuration, all of it in <see cref="Dir"/>. cgroupfs: there is no systemd here. Events to a file:
    /// there is no journal. File locks: podman's default are in /dev/shm, shared with every podman on the host.
    /// Overlay storage: the kernel mounts it on the temporary directory's ext4 (vfs would copy the image for every
    /// container). The ulimits: podman asks for 1048576 open files and processes by default, above the hard limits
    /// podman itself runs with (the host's for open files; for processes, podman lowers its own to 32768), and
    /// raising a hard limit needs CAP_SYS_RESOURCE, which sandbox (like runc) does not have.
    /// </summary>
    private IReadOnlyDictionary<string, string> Configuration => _environment ??= WriteConfiguration();

    private IReadOnlyDictionary<string, string>? _environment;

    private IReadOnlyDictionary<string, string> WriteConfiguration()
    {
        var (hardFiles, hardProcesses) = (HardLimit("Max open files"), Math.Min(HardLimit("Max processes"), 32768));
        File.WriteAllText(Path.Combine(Dir, "containers.conf"), $"""
            [containers]
            default_ulimits = ["nofile={hardFiles}:{hardFiles}", "nproc={hardProcesses}:{hardProcesses}"]
            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            events_logfile_path = "{Dir}/events.log"
            lock_type = "file"
            runtime = "sandbox"
            [engine.runtimes]
            sandbox = ["{SandboxHost.Exe}"]
            [network]
            network_config_dir = "{Dir}/networks"
            """);
        File.WriteAllText(Path.Combine(Dir, "storage.conf"), $"""
            [storage]
            driver = "overlay"
            graphroot = "{Dir}/storage"
            runroot = "{Dir}/run"
            """);
        return new Dictionary<string, string>
        {
            ["CONTAINERS_CONF"] = Path.Combine(Dir, "containers.conf"),
            ["CONTAINERS_STORAGE_CONF"] = Path.Combine(Dir, "storage.conf"),
        };
    }

    /// <summary>This process's hard limit (from /proc/self/limits), which the containers inherit at most.</summary>
    private static long HardLimit(string name) =>
        File.ReadLines("/proc/self/limits").Single(l => l.StartsWith(name, StringComparison.Ordinal))[26..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]
            is var hard && hard == "unlimited" ? long.MaxValue : long.Parse(hard);

    private string Import()
    {
        SandboxHost.EnsureBuilt();
        var tar = Path.Combine(Dir, "busybox.tar");
        Ok(SandboxHost.Command(["tar", "-C", SandboxHost.Rootfs, "-cf", tar, "."]));
        const string image = "localhost/sandbox-e2e/busybox:latest";
        Ok(Run("import", "--quiet", tar, image));
        File.Delete(tar);
        return image;
    }

    /// <summary>
    /// `podman --tmpdir DIR ARGS` against this store. sandbox keeps its state in its default root: podman would pass a
    /// `--runtime-flag root=DIR` to sandbox, but not to the `podman container cleanup` conmon runs when a container
    /// ends, whose `sandbox delete` would then miss the container and leave its cgroups.
    /// </summary>
    public RunResult Run(params string[] args) => Run(args, stdin: null);

    /// <param name="env">Variables for podman besides its configuration's (the ones `--env NAME` passes on).</param>
    /// <param name="timeout">60 s unless given: a pull of a large image takes longer.</param>
    public RunResult Run(string[] args, string? stdin, IReadOnlyDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        string[] podman = ["podman", "--tmpdir", Path.Combine(Dir, "tmp"), .. args];
        var environment = env is null ? Configuration : Configuration.Concat(env).ToDictionary();
        if (stdin is null)
        {
            return SandboxHost.Command(podman, timeout ?? TimeSpan.FromSeconds(60), environment);
        }
        var file = Path.Combine(Dir, "stdin");
        File.WriteAllText(file, stdin);
        return SandboxHost.Command(["sh", "-c", "exec \"$@\" < \"$0\"", file, .. podman], timeout ?? TimeSpan.FromSeconds(60), environment);
    }

    private static void Ok(RunResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    /// <summary>Mount points under the store (the containers' root filesystems, their /dev/shm).</summary>
    public List<string> Mounts() =>
        [.. File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m.StartsWith(Dir + "/", StringComparison.Ordinal))];

    /// <summary>The containers' cgroup directories (libpod-ID) under <see cref="CgroupParent"/>, in any hierarchy.</summary>
    public List<string> ContainerCgroups() => [.. ParentCgroups().SelectMany(p => Directory.EnumerateDirectories(p, "libpod-*"))];

    /// <summary><see cref="CgroupParent"/> in each hierarchy that has it.</summary>
    private IEnumerable<string> ParentCgroups() =>
        Directory.EnumerateDirectories("/sys/fs/cgroup").Select(h => h + CgroupParent).Where(Directory.Exists);

    /// <summary>
    /// The container's memory limit, pids limit, CPU quota and period, as <see cref="PodmanTests"/>' containers print
    /// theirs, read from its cgroup directories on the host (v1: one per hierarchy; v2: one).
    /// </summary>
    public string Limits(string id)
    {
        var leaf = $"{CgroupParent}/libpod-{id}";
        string[] files = File.Exists("/sys/fs/cgroup/cgroup.controllers")
            ? [$"/sys/fs/cgroup{leaf}/memory.max", $"/sys/fs/cgroup{leaf}/pids.max", $"/sys/fs/cgroup{leaf}/cpu.max"]
            : [$"/sys/fs/cgroup/memory{leaf}/memory.limit_in_bytes", $"/sys/fs/cgroup/pids{leaf}/pids.max", $"/sys/fs/cgroup/cpu{leaf}/cpu.cfs_quota_us",
                $"/sys/fs/cgroup/cpu{leaf}/cpu.cfs_period_us"];
        return string.Join(' ', files.Select(f => File.ReadAllText(f).Trim()));
    }

    public void Dispose()
    {
        if (_environment is not null)
        {
            // Removes every container, pod, image and volume, and the storage directories.
            Ok(Run("system", "reset", "--force"));
        }
        var mounts = Mounts();
        var leftovers = ContainerCgroups();
        // conmon's cgroup (podman makes it, and leaves it) and the parent, deepest first.
        foreach (var parent in ParentCgroups().ToList())
        {
            foreach (var dir in Directory.EnumerateDirectories(parent, "*", SearchOption.AllDirectories).Reverse().Append(parent))
            {
                Directory.Delete(dir);
            }
        }
        if (mounts.Count == 0)
        {
            Directory.Delete(Dir, true);
        }
        Assert.Empty(mounts);
        Assert.Empty(leftovers);
    }
}
