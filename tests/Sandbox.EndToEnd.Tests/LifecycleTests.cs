using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>The OCI lifecycle through the command line: create, start, state, kill, delete; exit statuses; hooks.</summary>
public class LifecycleTests
{
    private static JsonElement State(TestBundle b)
    {
        var r = b.Cli(["state", b.Id]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Stdout).RootElement;
    }

    [PrivilegedFact]
    public void Create_start_kill_delete_move_through_the_states()
    {
        using var b = new TestBundle();
        b.WithArgs("sleep", "60");
        var pidFile = Path.Combine(b.Dir, "pid");
        var created = b.Cli(["create", "--bundle", b.Dir, "--pid-file", pidFile, b.Id]);
        Assert.True(created.ExitCode == 0, created.ToString());

        var s = State(b);
        Assert.Equal("created", s.GetProperty("status").GetString());
        var pid = s.GetProperty("pid").GetInt32();
        Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(pidFile));
        Assert.True(SandboxHost.ProcessExists(pid));
        Assert.Equal(b.Dir, s.GetProperty("bundle").GetString());
        Assert.Equal(b.Id, s.GetProperty("id").GetString());

        Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);
        SandboxHost.WaitUntil(() => File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("sleep", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "exec sleep");
        Assert.Equal("running", State(b).GetProperty("status").GetString());

        var again = b.Cli(["start", b.Id]);
        Assert.Equal(125, again.ExitCode);
        Assert.Contains(ErrorCodes.WrongState, again.Stderr, StringComparison.Ordinal);

        var refused = b.Cli(["delete", b.Id]);
        Assert.Contains(ErrorCodes.WrongState, refused.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, b.Cli(["kill", b.Id, "KILL"]).ExitCode);
        SandboxHost.WaitUntil(() => !SandboxHost.ProcessExists(pid), TimeSpan.FromSeconds(5), "the container to die");
        var stopped = State(b);
        Assert.Equal("stopped", stopped.GetProperty("status").GetString());

        Assert.Equal(0, b.Cli(["delete", b.Id]).ExitCode);
        var gone = b.Cli(["state", b.Id]);
        Assert.Equal(125, gone.ExitCode);
        Assert.Contains(ErrorCodes.ContainerNotFound, gone.Stderr, StringComparison.Ordinal);
        Assert.Empty(b.StateEntries);
    }

    [PrivilegedFact]
    public void Delete_force_kills_a_running_container()
    {
        using var b = new TestBundle();
        b.WithArgs("sleep", "60");
        Assert.Equal(0, b.Cli(["create", "--bundle", b.Dir, b.Id]).ExitCode);
        var pid = State(b).GetProperty("pid").GetInt32();
        Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);
        Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        Assert.False(SandboxHost.ProcessExists(pid));
        Assert.Empty(b.StateEntries);
    }

    [PrivilegedFact]
    public void An_id_in_use_is_refused()
    {
        using var b = new TestBundle();
        b.WithArgs("sleep", "60");
        Assert.Equal(0, b.Cli(["create", "--bundle", b.Dir, b.Id]).ExitCode);
        var second = b.Cli(["create", "--bundle", b.Dir, b.Id]);
        Assert.Equal(125, second.ExitCode);
        Assert.Contains(ErrorCodes.ContainerExists, second.Stderr, StringComparison.Ordinal);
        Assert.Equal("created", State(b).GetProperty("status").GetString());
    }

    [PrivilegedFact]
    public void Exit_codes_and_signals_are_propagated()
    {
        using var b = new TestBundle();
        Assert.Equal(42, b.Sh("exit 42").Run().ExitCode);
        Assert.Equal(0, b.Sh("true").Run().ExitCode);

        // PID 1 ignores signals it has no handler for, so a signal death needs either no pid namespace or the reaper.
        b.Sh("kill -TERM $$");
        b.Config = b.Config with { Linux = b.Config.Linux! with { Namespaces = [.. b.Config.Linux.Namespaces!.Where(n => n.Type != "pid")] } };
        Assert.Equal(128 + 15, b.Run().ExitCode);

        using var reaped = new TestBundle();
        reaped.Sh("echo $$; kill -KILL $$");
        var r = reaped.Run("--reaper");
        Assert.Equal(128 + 9, r.ExitCode);
        Assert.Equal("2", r.Stdout.Trim());
    }

    [PrivilegedFact]
    public void The_reaper_collects_orphans_so_no_zombie_remains()
    {
        using var b = new TestBundle();
        // Orphans reparent to PID 1: the reaper must reap them while the program runs.
        b.Sh("for i in 1 2 3 4 5; do (sleep 0.1 &) ; done; sleep 0.5; ps -o stat | grep -c Z");
        var r = b.Run("--reaper");
        Assert.Equal("0", r.Stdout.Trim());
    }

    [PrivilegedFact]
    public void Signals_sent_to_sandbox_run_reach_the_container()
    {
        using var b = new TestBundle();
        b.Sh("trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.05; done");
        b.Write();
        var psi = new ProcessStartInfo(SandboxHost.Exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in b.Global.Concat(["run", "--bundle", b.Dir, b.Id]))
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        Assert.Equal("ready", p.StandardOutput.ReadLine());
        Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        Assert.True(p.WaitForExit(10_000));
        Assert.Equal("got-term", p.StandardOutput.ReadLine());
        Assert.Equal(7, p.ExitCode);
        Assert.Empty(b.StateEntries);
    }

    /// <summary>
    /// `sandbox run` blocks the signals it forwards (it takes them from a signalfd): the container's process must not
    /// inherit that mask, and every one of them still reaches it.
    /// </summary>
    [PrivilegedFact]
    public void The_container_starts_with_no_signal_blocked_or_ignored_and_gets_every_forwarded_signal()
    {
        using var b = new TestBundle();
        SignalForwardingProbe.AssertEmptyMask(b.WithArgs(SignalForwardingProbe.ShowMask).Run());
        b.Sh(SignalForwardingProbe.Script);
        b.Write();
        SignalForwardingProbe.Check(b.Global.Concat(["run", "--bundle", b.Dir, b.Id]));
        Assert.Empty(b.StateEntries);
    }

    [PrivilegedFact]
    public void When_sandbox_is_killed_the_container_dies_with_it_and_the_next_run_collects_its_state()
    {
        using var b = new TestBundle();
        b.WithArgs("sleep", "300");
        // With a limit, so there is a cgroup to collect too.
        b.Config = b.Config with { Linux = b.Config.Linux! with { Resources = new OciResources { Pids = new OciPids { Limit = 20 } } } };
        b.Write();
        var pidFile = Path.Combine(b.Dir, "pid");
        var psi = new ProcessStartInfo(SandboxHost.Exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in b.Global.Concat(["run", "--pid-file", pidFile, "--bundle", b.Dir, b.Id]))
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        SandboxHost.WaitUntil(() => File.Exists(pidFile), TimeSpan.FromSeconds(10), "the pid file");
        var pid = int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(SandboxHost.ProcessExists(pid));
        p.Kill();
        p.WaitForExit();
        SandboxHost.WaitUntil(() => !SandboxHost.ProcessExists(pid), TimeSpan.FromSeconds(5), "the container to die with sandbox");
        Assert.Single(b.StateEntries);

        var stale = b.Id;
        Assert.True(SandboxHost.CgroupOf("pids", stale) is not null, "the crashed run's cgroup is there");
        b.Id = "collector";
        Assert.Equal(0, b.Sh("true").Run().ExitCode);
        Assert.DoesNotContain(b.StateEntries, e => e.EndsWith(stale, StringComparison.Ordinal));
        Assert.True(SandboxHost.CgroupOf("pids", stale) is null, "the next run removed the crashed run's cgroup");
        Assert.Empty(b.StateEntries);
    }

    /// <summary>
    /// A state directory without its state.json (what a killed run of an older version left, or a half-written
    /// claim): `state` says there is no such container, `delete --force` removes it, and `run` collects it.
    /// </summary>
    [PrivilegedFact]
    public void A_state_directory_without_state_is_collected_or_removable()
    {
        using var b = new TestBundle();
        b.Sh("echo ran");
        b.Write();
        var ghost = Path.Combine(b.StateRoot, b.Id);
        Directory.CreateDirectory(ghost);
        File.WriteAllText(Path.Combine(ghost, "config.json"), "{}");
        Assert.Contains(ErrorCodes.ContainerNotFound, b.Cli(["state", b.Id]).Stderr, StringComparison.Ordinal);
        Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        Assert.False(Directory.Exists(ghost));

        Directory.CreateDirectory(ghost);
        File.WriteAllText(Path.Combine(ghost, "config.json"), "{}");
        var r = b.Run();
        Assert.True(r.ExitCode == 0 && r.Stdout == "ran\n", r.ToString());
        Assert.Empty(b.StateEntries);
    }

    [PrivilegedFact]
    public void A_create_killed_during_setup_takes_its_container_along_and_the_next_run_collects_the_state()
    {
        using var b = new TestBundle();
        // The container's own setup blocks in a createContainer hook while its `sandbox create` is killed.
        b.Config = b.Config with { Hooks = new OciHooks { CreateContainer = [new OciHook { Path = "/bin/sleep", Args = ["sleep", "30"] }] } };
        b.WithArgs("true");
        b.Write();
        var psi = new ProcessStartInfo(SandboxHost.Exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in b.Global.Concat(["create", "--bundle", b.Dir, b.Id]))
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        int pid = 0;
        SandboxHost.WaitUntil(() =>
        {
            var s = b.Cli(["state", b.Id]);
            if (s.ExitCode != 0)
            {
                return false;
            }
            pid = JsonDocument.Parse(s.Stdout).RootElement.TryGetProperty("pid", out var e) ? e.GetInt32() : 0;
            return pid > 0;
        }, TimeSpan.FromSeconds(10), "the child to be recorded");
        Assert.Equal("creating", State(b).GetProperty("status").GetString());
        p.Kill();
        p.WaitForExit();
        // Until it is set up, the container dies with its `sandbox create` (its hook with it: the pid namespace goes).
        SandboxHost.WaitUntil(() => !SandboxHost.ProcessExists(pid), TimeSpan.FromSeconds(5), "the half-made container to die with create");
        Assert.Single(b.StateEntries);

        var stale = b.Id;
        b.Id = "next";
        b.Config = b.Config with { Hooks = null };
        Assert.Equal(0, b.Sh("true").Run().ExitCode);
        Assert.DoesNotContain(b.StateEntries, e => e.EndsWith(stale, StringComparison.Ordinal));
        Assert.Empty(SandboxHost.ProcessesMentioning(b.Dir));
    }

    [PrivilegedFact]
    public void Hooks_run_at_their_points_with_the_state_on_stdin()
    {
        using var b = new TestBundle();
        var outDir = Directory.CreateDirectory(Path.Combine(b.Dir, "hooks")).FullName;
        OciHook Hook(string name) => new() { Path = "/bin/sh", Args = ["sh", "-c", $"cat > {outDir}/{name}.json"] };
        // startContainer runs inside the container, after pivot_root: it writes through a bind mount.
        b.Config = b.Config with
        {
            Mounts = [.. b.Config.Mounts!, new OciMount { Destination = "/hooks", Type = "bind", Source = outDir, Options = ["bind"] }],
            Hooks = new OciHooks
            {
                Prestart = [Hook("prestart")],
                CreateRuntime = [Hook("createRuntime")],
                CreateContainer = [Hook("createContainer")],
                StartContainer = [new OciHook { Path = "/bin/sh", Args = ["sh", "-c", "cat > /hooks/startContainer.json"] }],
                Poststart = [Hook("poststart")],
                Poststop = [Hook("poststop")],
            },
        };
        b.Sh("echo main > /hooks/main.txt");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var (name, status) in new[]
                 {
                     ("prestart", "created"), ("createRuntime", "creating"), ("createContainer", "creating"),
                     ("startContainer", "creating"), ("poststart", "running"), ("poststop", "stopped"),
                 })
        {
            var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, name + ".json"))).RootElement;
            Assert.Equal(b.Id, state.GetProperty("id").GetString());
            Assert.Equal(status, state.GetProperty("status").GetString());
            Assert.True(state.GetProperty("pid").GetInt32() > 0, name);
            Assert.Equal(b.Dir, state.GetProperty("bundle").GetString());
        }
        Assert.Equal("main\n", File.ReadAllText(Path.Combine(outDir, "main.txt")));
    }

    [PrivilegedFact]
    public void The_child_gets_no_copy_of_the_runtimes_managed_heap()
    {
        // While the child waits for its go-ahead, a createRuntime hook (the runtime's child too: $PPID is the runtime)
        // copies the runtime's smaps and the child's maps. The heap block the runtime marked "do not copy" (VmFlags dc,
        // ContainerLauncher.KeepHeapFromChild) must be missing from the child.
        using var b = new TestBundle();
        var outDir = Directory.CreateDirectory(Path.Combine(b.Dir, "maps")).FullName;
        const string script = "pid=$(tr ',' '\\n' | sed -n 's/^ *\"pid\": *//p'); " +
                              "cat /proc/$PPID/smaps > {0}/runtime.smaps; cat /proc/$pid/maps > {0}/child.maps";
        b.Config = b.Config with
        {
            Hooks = new OciHooks { CreateRuntime = [new OciHook { Path = "/bin/sh", Args = ["sh", "-c", string.Format(CultureInfo.InvariantCulture, script, outDir)] }] },
        };
        b.Sh("true");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());

        static (ulong Start, ulong End) Range(string line)
        {
            var dash = line.IndexOf('-');
            var space = line.IndexOf(' ');
            return (ulong.Parse(line[..dash], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                ulong.Parse(line[(dash + 1)..space], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        }
        var notCopied = new List<(ulong Start, ulong End)>();
        (ulong Start, ulong End) current = default;
        foreach (var line in File.ReadLines(Path.Combine(outDir, "runtime.smaps")))
        {
            if (line.Length > 0 && Uri.IsHexDigit(line[0]) && line.Contains('-'))
            {
                current = Range(line);
            }
            else if (line.StartsWith("VmFlags:", StringComparison.Ordinal) && line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("dc"))
            {
                notCopied.Add(current);
            }
        }
        var childMaps = File.ReadAllLines(Path.Combine(outDir, "child.maps"));
        Assert.NotEmpty(childMaps);
        Assert.NotEmpty(notCopied);
        Assert.Equal(1024UL * 1024, notCopied.Aggregate(0UL, (sum, n) => sum + (n.End - n.Start)));
        foreach (var (start, end) in childMaps.Select(Range))
        {
            Assert.DoesNotContain(notCopied, n => n.Start < end && start < n.End);
        }
    }

    [PrivilegedFact]
    public void The_runtimes_code_is_mapped_whole_before_it_runs()
    {
        // src/Sandbox.Cli/StartPages.c maps the executable's code in one call at start. Left to page faults, a run maps
        // only what it executes and the 64 KB around it (about nine tenths of it, measured), so the code mapping's
        // Rss equals its Size only with it. A createRuntime hook ($PPID is the runtime) copies the runtime's smaps.
        using var b = new TestBundle();
        var smaps = Path.Combine(b.Dir, "runtime.smaps");
        b.Config = b.Config with
        {
            Hooks = new OciHooks { CreateRuntime = [new OciHook { Path = "/bin/sh", Args = ["sh", "-c", $"cat /proc/$PPID/smaps > {smaps}"] }] },
        };
        b.Sh("true");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());

        var code = new List<(string Mapping, long Size, long Rss)>();
        string? mapping = null;
        long size = 0;
        foreach (var line in File.ReadLines(smaps))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 6 && fields[0].Contains('-') && Uri.IsHexDigit(fields[0][0]))
            {
                // The executable's own code: executable, private, backed by the file the runtime runs from.
                mapping = fields[1] == "r-xp" && Path.GetFileName(fields[5]) == "sandbox" ? line : null;
            }
            else if (mapping is not null && fields[0] == "Size:")
            {
                size = long.Parse(fields[1], CultureInfo.InvariantCulture);
            }
            else if (mapping is not null && fields[0] == "Rss:")
            {
                code.Add((mapping, size, long.Parse(fields[1], CultureInfo.InvariantCulture)));
                mapping = null;
            }
        }
        var (text, textSize, textRss) = Assert.Single(code);
        Assert.True(textSize > 1024, text);
        Assert.True(textRss == textSize, $"{text}: Rss {textRss} kB of {textSize} kB");
    }

    [PrivilegedFact]
    public void A_failing_hook_stops_the_container_and_says_which_hook()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Hooks = new OciHooks { CreateRuntime = [new OciHook { Path = "/bin/sh", Args = ["sh", "-c", "exit 3"] }] } };
        b.WithArgs("sleep", "60");
        var r = b.Run();
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(ErrorCodes.HookFailed, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("createRuntime hook 0 (/bin/sh) exited with status 3", r.Stderr, StringComparison.Ordinal);
        Assert.Empty(b.StateEntries);
        Assert.Empty(SandboxHost.ProcessesMentioning(b.Dir));
    }

    [PrivilegedFact]
    public void A_hook_that_outlives_its_timeout_is_killed()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Hooks = new OciHooks { CreateContainer = [new OciHook { Path = "/bin/sleep", Args = ["sleep", "30"], Timeout = 1 }] } };
        var sw = Stopwatch.StartNew();
        var r = b.Sh("true").Run();
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("timed out after 1 s", r.Stderr, StringComparison.Ordinal);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10));
    }
}

public class ReportAndTimeoutTests
{
    [PrivilegedFact]
    public void A_timeout_kills_the_container_with_everything_it_started_and_the_report_says_so()
    {
        using var b = new TestBundle();
        var marker = $"99{Environment.ProcessId % 1000:000}7";
        // A daemon that double-forks into a new session, and a child that ignores TERM: all must die.
        b.Sh($"(setsid sh -c 'sleep {marker} &' &); (trap '' TERM; sleep {marker}) & sleep {marker}");
        var report = Path.Combine(b.Dir, "report.json");
        var sw = Stopwatch.StartNew();
        var r = b.Run("--timeout", "500ms", "--report", report);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.Equal(137, r.ExitCode);
        Assert.Contains(ErrorCodes.TimedOut, r.Stderr, StringComparison.Ordinal);
        var json = JsonDocument.Parse(File.ReadAllText(report)).RootElement;
        Assert.True(json.GetProperty("timedOut").GetBoolean());
        Assert.Equal(500, json.GetProperty("timeoutMs").GetDouble());
        Assert.True(json.GetProperty("wallTimeMs").GetDouble() >= 500);
        Assert.Equal("SIGKILL", json.GetProperty("signalName").GetString());
        SandboxHost.WaitUntil(() => SandboxHost.ProcessesMentioning(marker).Count == 0, TimeSpan.FromSeconds(5), "no process of the container left");
        Assert.Empty(b.StateEntries);
    }

    [PrivilegedFact]
    public void The_report_has_the_exit_code_wall_time_and_rusage()
    {
        using var b = new TestBundle();
        var report = Path.Combine(b.Dir, "report.json");
        b.Sh("head -c 20000000 /dev/zero | wc -c > /dev/null; exit 3");
        var r = b.Run("--report", report);
        Assert.Equal(3, r.ExitCode);
        var json = JsonDocument.Parse(File.ReadAllText(report)).RootElement;
        Assert.Equal(1, json.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(b.Id, json.GetProperty("id").GetString());
        Assert.Equal(3, json.GetProperty("exitCode").GetInt32());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("signal").ValueKind);
        Assert.False(json.GetProperty("timedOut").GetBoolean());
        Assert.True(json.GetProperty("wallTimeMs").GetDouble() > 0);
        var rusage = json.GetProperty("rusage");
        Assert.Equal("wait4 rusage", rusage.GetProperty("source").GetString());
        Assert.True(rusage.GetProperty("maxRssBytes").GetInt64() > 100_000);
        Assert.True(rusage.GetProperty("minorFaults").GetInt64() > 0);
        Assert.False(json.GetProperty("seccomp").GetProperty("violationsRecorded").GetBoolean());
    }

    [PrivilegedFact]
    public void A_signal_death_is_reported_by_name()
    {
        using var b = new TestBundle();
        var report = Path.Combine(b.Dir, "report.json");
        b.Sh("kill -SEGV $$");
        b.Config = b.Config with { Linux = b.Config.Linux! with { Namespaces = [.. b.Config.Linux.Namespaces!.Where(n => n.Type != "pid")] } };
        Assert.Equal(128 + 11, b.Run("--report", report).ExitCode);
        var json = JsonDocument.Parse(File.ReadAllText(report)).RootElement;
        Assert.Equal(11, json.GetProperty("signal").GetInt32());
        Assert.Equal("SIGSEGV", json.GetProperty("signalName").GetString());
    }

    [PrivilegedFact]
    public void A_timeout_without_a_pid_namespace_or_a_cgroup_is_refused()
    {
        // As an ordinary user without a delegated cgroup, only a pid namespace could kill everything.
        const uint nobody = 65534;
        using var b = new TestBundle(rootless: true, uid: nobody);
        var state = b.SharedStateRoot();
        b.Sh("true");
        b.Config = b.Config with { Linux = b.Config.Linux! with { Namespaces = [.. b.Config.Linux.Namespaces!.Where(n => n.Type != "pid")] } };
        b.Write();
        var r = SandboxHost.Run(["--root", state, "run", "--timeout", "5s", "--bundle", b.Dir, b.Id], asUser: "65534");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("pid namespace", r.Stderr, StringComparison.Ordinal);
    }
}
