using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>Limits and usage on this machine's cgroups (v1, hybrid layout), for real.</summary>
public class CgroupTests
{
    private static JsonElement RunWithReport(TestBundle b, out RunResult result, params string[] extra)
    {
        var report = Path.Combine(b.Dir, "report.json");
        result = b.Run([.. extra, "--report", report]);
        Assert.True(File.Exists(report), result.ToString());
        return JsonDocument.Parse(File.ReadAllText(report)).RootElement;
    }

    private static void Limit(TestBundle b, OciResources r) => b.Config = b.Config with { Linux = b.Config.Linux! with { Resources = r } };

    /// <summary>The states of the processes whose name (comm) is <paramref name="comm"/>, with their parents.</summary>
    private static List<(char State, int Parent)> ProcessesNamed(string comm)
    {
        var found = new List<(char, int)>();
        foreach (var d in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(d, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (stat.Contains($"({comm})", StringComparison.Ordinal))
                {
                    found.Add((fields[0][0], int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture)));
                }
            }
            catch (IOException)
            {
            }
        }
        return found;
    }

    private static List<string> SandboxCgroups() =>
        Directory.GetDirectories("/sys/fs/cgroup", "sandbox-*", SearchOption.AllDirectories).ToList();

    /// <summary>A cgroup namespace is rooted at the container's cgroup, not at the runtime's (on v1 the child joins
    /// its cgroup after the clone, so the namespace is made after that), as runc does.</summary>
    [PrivilegedFact]
    public void A_cgroup_namespace_shows_the_containers_own_cgroup_as_its_root()
    {
        foreach (var rootless in new[] { false, true })
        {
            using var b = new TestBundle(rootless);
            Assert.Contains(b.Config.Linux!.Namespaces!, n => n.Type == "cgroup");
            Limit(b, new OciResources { Memory = new OciMemory { Limit = 64 << 20 } });
            b.Sh("cat /proc/self/cgroup");
            var r = b.Run();
            Assert.True(r.ExitCode == 0, r.ToString());
            var lines = r.Stdout.Trim().Split('\n');
            Assert.Contains(lines, l => l.Contains(":memory:", StringComparison.Ordinal));
            Assert.All(lines, l => Assert.EndsWith(":/", l, StringComparison.Ordinal));
        }
    }

    [PrivilegedFact]
    public void A_32_MiB_limit_oom_kills_a_64_MiB_allocation_and_the_report_says_so()
    {
        using var b = new TestBundle();
        Limit(b, new OciResources { Memory = new OciMemory { Limit = 32 << 20 } });
        b.Sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}");
        var json = RunWithReport(b, out var r);
        Assert.Equal(137, r.ExitCode);
        Assert.DoesNotContain("survived", r.Stdout, StringComparison.Ordinal);
        Assert.True(json.GetProperty("oomKilled").GetBoolean());
        var peak = json.GetProperty("usage").GetProperty("peakMemoryBytes").GetInt64();
        Assert.InRange(peak, 28L << 20, 32L << 20);
        Assert.Equal("cgroup v1 memory.max_usage_in_bytes", json.GetProperty("usage").GetProperty("peakMemorySource").GetString());
        Assert.DoesNotContain(SandboxCgroups(), d => d.EndsWith(b.Id, StringComparison.Ordinal));
    }

    [PrivilegedFact]
    public void A_pids_limit_of_10_makes_the_10th_fork_fail()
    {
        using var b = new TestBundle();
        Limit(b, new OciResources { Pids = new OciPids { Limit = 10 } });
        // The shell is one task and each background sleep one more: sleeps 1 to 9 start, the 10th fork fails
        // (busybox sh gives up at the first failed fork).
        b.Sh("i=0; while [ $i -lt 20 ]; do i=$((i+1)); sleep 5 & echo started $i; done");
        var json = RunWithReport(b, out var r);
        Assert.Equal(Enumerable.Range(1, 9).Select(i => $"started {i}"), r.Stdout.Trim().Split('\n'));
        Assert.Contains("can't fork", r.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, r.ExitCode);
        // v1 keeps no peak, and in the container's own pid namespace nothing is left to count at its first process's exit.
        Assert.Equal(JsonValueKind.Null, json.GetProperty("usage").GetProperty("pidsPeak").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("usage").GetProperty("pidsSource").ValueKind);
    }

    [PrivilegedFact]
    public void In_the_hosts_pid_namespace_a_report_counts_the_processes_left_when_the_first_one_exits()
    {
        // Without a pid namespace of its own, what the first process leaves behind is still running when it exits:
        // v1's pids.current counts it (the one pids figure v1 has), before the cgroup ends it.
        using var b = new TestBundle();
        b.Config = b.Config with { Linux = b.Config.Linux! with { Namespaces = [.. b.Config.Linux!.Namespaces!.Where(n => n.Type != "pid")] } };
        b.Sh("sleep 30 & sleep 30 & echo started");
        var json = RunWithReport(b, out var r);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(2, json.GetProperty("usage").GetProperty("pidsPeak").GetInt64());
        Assert.Equal("cgroup v1 pids.current when the first process exited (v1 keeps no peak)", json.GetProperty("usage").GetProperty("pidsSource").GetString());
        Assert.DoesNotContain(SandboxCgroups(), d => d.EndsWith(b.Id, StringComparison.Ordinal));
    }

    /// <summary>
    /// In a user namespace whose root is the host's, the child waits for its maps first and for its cgroup after it
    /// has mounted, and moves itself in then: its limits hold, and the cgroup is gone afterwards.
    /// </summary>
    [PrivilegedFact]
    public void In_a_user_namespace_mapped_to_host_root_the_container_joins_its_cgroup_after_it_mounts()
    {
        using var b = new TestBundle();
        var map = new List<OciIdMapping> { new() { ContainerId = 0, HostId = 0, Size = 65536 } };
        b.Config = b.Config with
        {
            Linux = b.Config.Linux! with
            {
                Namespaces = [.. b.Config.Linux!.Namespaces!.Where(n => n.Type != "user"), new OciNamespace { Type = "user" }],
                UidMappings = map,
                GidMappings = map,
                Resources = new OciResources { Pids = new OciPids { Limit = 10 } },
            },
        };
        b.Sh("i=0; while [ $i -lt 20 ]; do i=$((i+1)); sleep 5 & echo started $i; done");
        RunWithReport(b, out var r);
        Assert.Equal(Enumerable.Range(1, 9).Select(i => $"started {i}"), r.Stdout.Trim().Split('\n'));
        Assert.Contains("can't fork", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(SandboxCgroups(), d => d.EndsWith(b.Id, StringComparison.Ordinal));
    }

    [PrivilegedFact]
    public void A_fork_bomb_under_a_pids_limit_and_a_timeout_ends_with_nothing_left()
    {
        using var b = new TestBundle();
        Limit(b, new OciResources { Pids = new OciPids { Limit = 64 } });
        b.Sh("bomb() { bomb | bomb & }; bomb; sleep 60");
        var json = RunWithReport(b, out var r, "--timeout", "2s");
        Assert.True(json.GetProperty("timedOut").GetBoolean(), r.ToString());
        Assert.DoesNotContain(SandboxCgroups(), d => d.EndsWith(b.Id, StringComparison.Ordinal));
        Assert.Empty(b.StateEntries);
    }

    [PrivilegedFact]
    public void A_daemon_that_double_forks_out_of_a_container_without_a_pid_namespace_is_killed_at_teardown()
    {
        using var b = new TestBundle();
        // The daemon names itself (its comm) after this test run, so that its zombie, if any, is told apart from the
        // host init's other zombies: tests that SIGKILL a `sandbox` leave its container's process to init, which
        // does not reap here, and they run beside this one.
        var name = $"daemon98{Environment.ProcessId % 1000:000}3";
        // No pid namespace: only the cgroup knows about the daemon once its parents are gone.
        b.Config = b.Config with { Linux = b.Config.Linux! with { Namespaces = [.. b.Config.Linux.Namespaces!.Where(n => n.Type != "pid")] } };
        Limit(b, new OciResources { Pids = new OciPids { Limit = 100 } });
        b.Sh($"(setsid sh -c 'echo -n {name} > /proc/self/comm; while true; do sleep 1; done </dev/null >/dev/null 2>&1' &); sleep 0.2; grep -q {name} /proc/[0-9]*/comm && echo started");
        var r = b.Run();
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("started", r.Stdout.Trim()); // the daemon has named itself
        SandboxHost.WaitUntil(() => ProcessesNamed(name).All(p => p.State == 'Z'), TimeSpan.FromSeconds(5), "the daemon to be gone");
        // Not even as a zombie: sandbox was the orphan's subreaper and collected it, so none is left with the host's init.
        Assert.Empty(ProcessesNamed(name));
    }

    [PrivilegedFact]
    public void Created_containers_keep_their_limits_and_delete_removes_the_cgroups()
    {
        using var b = new TestBundle();
        Limit(b, new OciResources { Memory = new OciMemory { Limit = 64 << 20 } });
        b.WithArgs("sleep", "60");
        Assert.Equal(0, b.Cli(["create", "--bundle", b.Dir, b.Id]).ExitCode);
        var mine = SandboxCgroups().Where(d => d.EndsWith("-" + b.Id, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(mine);
        var memory = mine.Single(d => d.Contains("/memory/", StringComparison.Ordinal));
        Assert.Equal((64 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(memory, "memory.limit_in_bytes")).Trim());
        Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        Assert.All(mine, d => Assert.False(Directory.Exists(d)));
    }

    [PrivilegedFact]
    public void Swappiness_and_the_socket_buffer_limit_are_written_to_the_v1_memory_cgroup_and_kernel_memory_is_ignored_with_a_warning()
    {
        using var b = new TestBundle();
        Limit(b, new OciResources { Memory = new OciMemory { Limit = 64 << 20, Swappiness = 0, KernelTcp = 8 << 20, Kernel = 16 << 20 } });
        b.WithArgs("sleep", "60");
        var created = b.Cli(["create", "--bundle", b.Dir, b.Id]);
        try
        {
            Assert.True(created.ExitCode == 0, created.ToString());
            Assert.Contains("memory.kernel (kernel memory limits are obsolete", created.Stderr, StringComparison.Ordinal);
            var memory = SandboxCgroups().Single(d => d.EndsWith("-" + b.Id, StringComparison.Ordinal) && d.Contains("/memory/", StringComparison.Ordinal));
            Assert.Equal("0", File.ReadAllText(Path.Combine(memory, "memory.swappiness")).Trim());
            Assert.Equal((8 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(memory, "memory.kmem.tcp.limit_in_bytes")).Trim());
        }
        finally
        {
            Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        }
    }

    [PrivilegedFact]
    public void A_cpuset_under_a_nested_cgroups_path_gets_its_cpus_through_new_intermediate_cgroups()
    {
        // Each new v1 cpuset directory starts empty: the intermediate ones must take their parent's CPUs and nodes,
        // or the container's own cannot be given any (EACCES).
        var top = $"sandbox-nested-{Environment.ProcessId}";
        using var b = new TestBundle();
        b.Config = b.Config with
        {
            Linux = b.Config.Linux! with { CgroupsPath = $"{top}/a/{b.Id}", Resources = new OciResources { Cpu = new OciCpu { Cpus = "0" } } },
        };
        b.Sh("grep Cpus_allowed_list /proc/self/status");
        try
        {
            var r = b.Run();
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.EndsWith("\t0", r.Stdout.Trim(), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var dir in Directory.GetDirectories("/sys/fs/cgroup", top, SearchOption.AllDirectories))
            {
                Directory.Delete(Path.Combine(dir, "a"));
                Directory.Delete(dir);
            }
        }
    }

    [PrivilegedFact]
    public void With_the_oom_killer_disabled_a_process_over_its_limit_waits_instead_of_dying()
    {
        // The probe's off case is A_32_MiB_limit_oom_kills_a_64_MiB_allocation_and_the_report_says_so: the same
        // allocation under the same limit is OOM-killed at once.
        using var b = new TestBundle();
        Limit(b, new OciResources { Memory = new OciMemory { Limit = 32 << 20, DisableOomKiller = true } });
        b.Sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}");
        var json = RunWithReport(b, out var r, "--timeout", "3s");
        Assert.Equal(137, r.ExitCode);
        Assert.DoesNotContain("survived", r.Stdout, StringComparison.Ordinal);
        Assert.False(json.GetProperty("oomKilled").GetBoolean(), r.ToString());
        Assert.True(json.GetProperty("timedOut").GetBoolean(), r.ToString());
        Assert.DoesNotContain(SandboxCgroups(), d => d.EndsWith(b.Id, StringComparison.Ordinal));
    }

    [PrivilegedFact]
    public void Impossible_limits_and_escaping_paths_are_refused_before_anything_starts()
    {
        using var b = new TestBundle();
        b.Sh("true");
        Limit(b, new OciResources { Memory = new OciMemory { Limit = 1024 } });
        var tiny = b.Run();
        Assert.Equal(125, tiny.ExitCode);
        Assert.Contains(ErrorCodes.ResourceInvalid, tiny.Stderr, StringComparison.Ordinal);
        Assert.Contains("below what a process can start with", tiny.Stderr, StringComparison.Ordinal);

        Limit(b, new OciResources { Cpu = new OciCpu { Shares = 1 } });
        Assert.Contains("$.linux.resources.cpu.shares", b.Run().Stderr, StringComparison.Ordinal);

        Limit(b, new OciResources { Pids = new OciPids { Limit = 10 } });
        b.Config = b.Config with { Linux = b.Config.Linux! with { CgroupsPath = "../../escape" } };
        var escape = b.Run();
        Assert.Equal(125, escape.ExitCode);
        Assert.Contains(ErrorCodes.CgroupsPathEscapes, escape.Stderr, StringComparison.Ordinal);
        Assert.Empty(b.StateEntries);
    }

    [PrivilegedFact]
    public void A_limit_this_host_cannot_enforce_fails_loudly_unless_explicitly_allowed_and_then_is_reported()
    {
        // blkio.weight needs the BFQ scheduler; these machines' disks use mq-deadline, so the weight cannot be set.
        if (File.Exists("/sys/fs/cgroup/blkio/blkio.weight"))
        {
            Assert.Fail("this host can set blkio.weight; the test needs one that cannot");
        }
        using var b = new TestBundle();
        Limit(b, new OciResources { BlockIo = new OciBlockIo { Weight = 500 }, Pids = new OciPids { Limit = 50 } });
        b.Sh("echo ran");
        var refused = b.Run();
        Assert.Equal(125, refused.ExitCode);
        Assert.Contains(ErrorCodes.ControllerMissing, refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("block I/O weight", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("--allow-unenforced", refused.Stderr, StringComparison.Ordinal);
        Assert.Empty(b.StateEntries);

        var json = RunWithReport(b, out var r, "--allow-unenforced");
        Assert.Equal("ran", r.Stdout.Trim());
        var unenforced = json.GetProperty("unenforced").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Single(unenforced);
        Assert.Contains("block I/O weight", unenforced[0], StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Limits_add_usage_figures_from_cgroups_to_the_report()
    {
        using var b = new TestBundle();
        Limit(b, new OciResources { Memory = new OciMemory { Limit = 256 << 20 } });
        b.Sh("head -c 10000000 /dev/zero > /dev/null");
        var json = RunWithReport(b, out var r);
        Assert.Equal(0, r.ExitCode);
        var usage = json.GetProperty("usage");
        Assert.Equal("cgroup v1 blkio.throttle.io_service_bytes", usage.GetProperty("ioSource").GetString());
        Assert.True(usage.GetProperty("ioReadBytes").GetInt64() >= 0);
        Assert.True(usage.GetProperty("peakMemoryBytes").GetInt64() > 0);
        Assert.True(usage.GetProperty("cpuUserMs").GetDouble() + usage.GetProperty("cpuSystemMs").GetDouble() > 0);
        Assert.False(json.GetProperty("oomKilled").GetBoolean());
        Assert.Empty(json.GetProperty("unenforced").EnumerateArray());
    }
}

[CollectionDefinition("timing", DisableParallelization = true)]
public sealed class TimingCollection;

/// <summary>Runs alone: CPU shares measured while other tests load both cores would say more about them than about the quota.</summary>
[Collection("timing")]
public class CpuQuotaTests
{
    [PrivilegedFact]
    public void Half_a_cpu_holds_a_busy_loop_to_half_the_wall_time()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Linux = b.Config.Linux! with { Resources = new OciResources { Cpu = new OciCpu { Quota = 50000, Period = 100000 } } } };
        b.Sh("while :; do :; done");
        var report = Path.Combine(b.Dir, "report.json");
        var r = b.Run("--timeout", "3s", "--report", report);
        var json = JsonDocument.Parse(File.ReadAllText(report)).RootElement;
        Assert.Equal(137, r.ExitCode);
        var usage = json.GetProperty("usage");
        var cpu = usage.GetProperty("cpuUserMs").GetDouble() + usage.GetProperty("cpuSystemMs").GetDouble();
        var wall = json.GetProperty("wallTimeMs").GetDouble();
        // The quota is a ceiling: half a CPU, give or take a period's slack. Other processes loading both cores (CI
        // runs test projects side by side) can only lower the share, so there is no floor beyond "it ran";
        // without the quota, on an idle host, the loop takes a whole CPU (about 1.0).
        Assert.InRange(cpu / wall, 0.05, 0.6);
    }

}

public class CgroupV2LiveTests
{
    /// <summary>
    /// The v2 driver on the cgroup2 mount of this hybrid host: no controllers live there, but clone3 with
    /// CLONE_INTO_CGROUP, cgroup.procs and cgroup.kill do, so those paths run for real.
    /// </summary>
    [PrivilegedFact]
    public void On_the_unified_mount_the_container_is_born_in_its_cgroup_and_cgroup_kill_ends_a_daemon()
    {
        if (!File.Exists("/sys/fs/cgroup/unified/cgroup.procs"))
        {
            Assert.Fail("this test needs the hybrid layout's cgroup2 mount at /sys/fs/cgroup/unified");
        }
        using var b = new TestBundle();
        var marker = $"97{Environment.ProcessId % 1000:000}1";
        b.Config = b.Config with { Linux = b.Config.Linux! with { Namespaces = [.. b.Config.Linux.Namespaces!.Where(n => n.Type is not ("pid" or "cgroup"))] } };
        b.Sh($"grep '^0::' /proc/self/cgroup; (setsid sh -c 'sleep {marker} </dev/null >/dev/null 2>&1 &' &); sleep 0.2");
        var report = Path.Combine(b.Dir, "r.json");
        var r = b.Cli(["run", "--report", report, "--bundle", b.Dir, b.Id], env: new Dictionary<string, string> { ["SANDBOX_CGROUP_VERSION"] = "v2" });
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches($"^0::/sandbox-[0-9a-f]{{16}}-{b.Id}$", r.Stdout.Trim());
        SandboxHost.WaitUntil(() => SandboxHost.ProcessesMentioning(marker).Count == 0, TimeSpan.FromSeconds(5), "cgroup.kill to end the daemon");
        Assert.Null(SandboxHost.CgroupOf("unified", b.Id));
    }
}

public class EventsTests
{
    [PrivilegedFact]
    public void Events_stats_shows_a_running_containers_live_figures()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Linux = b.Config.Linux! with { Resources = new OciResources { Pids = new OciPids { Limit = 50 } } } };
        b.Sh("sleep 1 & sleep 1 & sleep 60");
        Assert.Equal(0, b.Cli(["create", "--bundle", b.Dir, b.Id]).ExitCode);
        Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);
        JsonElement data = default;
        SandboxHost.WaitUntil(() =>
        {
            var r = b.Cli(["events", "--stats", b.Id]);
            Assert.True(r.ExitCode == 0, r.ToString());
            var json = JsonDocument.Parse(r.Stdout).RootElement;
            Assert.Equal("stats", json.GetProperty("type").GetString());
            data = json.GetProperty("data");
            return data.GetProperty("pidsCurrent").GetInt64() >= 3;
        }, TimeSpan.FromSeconds(5), "the three processes to show");
        Assert.True(data.GetProperty("memoryPeakBytes").GetInt64() > 0);
        Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        var gone = b.Cli(["events", "--stats", b.Id]);
        Assert.Contains(ErrorCodes.ContainerNotFound, gone.Stderr, StringComparison.Ordinal);
    }
}
