using System.Diagnostics;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// `run --die-with-parent` and `--remove-if-orphaned DIR`: what a supervisor that can die without a word (testhost,
/// under the test adapter) relies on to leave nothing behind.
/// </summary>
public class ParentWatchTests
{
    /// <summary>A shell is the caller: it starts `sandbox run` and waits, and is killed without a chance to clean up.</summary>
    private static Process StartCaller(string run) =>
        Process.Start(new ProcessStartInfo("sh", ["-c", $"{run} & wait"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;

    /// <summary>Once the container runs: its pid (from the pid file) and that of the `sandbox run` supervising it.</summary>
    private static (int Container, int Supervisor) Started(TestBundle b, string pidFile)
    {
        SandboxHost.WaitUntil(() => File.Exists(pidFile) && File.ReadAllText(pidFile).Length > 0, TimeSpan.FromSeconds(30), "the container to start");
        var container = int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture);
        var supervisor = SandboxHost.ProcessesMentioning(b.Dir)
            .Single(pid => File.ReadAllText($"/proc/{pid}/cmdline").StartsWith(SandboxHost.Exe + "\0", StringComparison.Ordinal));
        return (container, supervisor);
    }

    [PrivilegedTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void When_the_caller_is_killed_the_container_dies_only_with_die_with_parent_and_the_orphaned_directory_goes_at_the_end(bool dieWithParent)
    {
        using var b = new TestBundle();
        b.WithArgs("sleep", "1000");
        var scratch = Directory.CreateDirectory(Path.Combine(b.Dir, "scratch", "deeper")).Parent!.FullName;
        File.WriteAllText(Path.Combine(scratch, "deeper", "file"), "per-run files");
        var pidFile = Path.Combine(b.Dir, "pid");
        b.Write();
        var run = string.Join(' ', new[] { SandboxHost.Exe, "--root", b.StateRoot, "run", dieWithParent ? "--die-with-parent" : "",
            "--remove-if-orphaned", scratch, "--pid-file", pidFile, "--bundle", b.Dir, b.Id });
        using var caller = StartCaller(run);
        try
        {
            var (container, supervisor) = Started(b, pidFile);
            caller.Kill();
            caller.WaitForExit();
            if (dieWithParent)
            {
                SandboxHost.WaitUntil(() => !SandboxHost.ProcessExists(container) && !SandboxHost.ProcessExists(supervisor), TimeSpan.FromSeconds(10), "the container and sandbox run to end");
            }
            else
            {
                Thread.Sleep(1500);
                Assert.True(SandboxHost.ProcessExists(container), "without --die-with-parent the container outlives its caller");
                Assert.True(Directory.Exists(scratch), "the directory goes only when `run` ends");
                Assert.Equal(0, b.Cli(["kill", b.Id, "KILL"]).ExitCode);
                SandboxHost.WaitUntil(() => !SandboxHost.ProcessExists(supervisor), TimeSpan.FromSeconds(10), "sandbox run to end");
            }
            Assert.Empty(b.StateEntries);
            Assert.False(Directory.Exists(scratch), "the orphaned run's directory is removed");
            Assert.Null(SandboxHost.CgroupOf("pids", b.Id));
        }
        finally
        {
            b.Cli(["delete", "--force", b.Id]);
        }
    }

    [PrivilegedFact]
    public void Run_spec_takes_die_with_parent_too()
    {
        using var b = new TestBundle();
        var spec = Path.Combine(b.Dir, "sandbox.yaml");
        File.WriteAllText(spec, $"version: 1\nfiles:\n  - source: {Path.Combine(SandboxHost.Rootfs, "bin/busybox")}\n    target: /bin/busybox\ncommand: [/bin/busybox, sleep, \"1000\"]\n");
        var env = $"SANDBOX_CACHE={Path.Combine(b.Dir, "cache")}";
        var pidFile = Path.Combine(b.Dir, "pid");
        var run = $"env {env} {SandboxHost.Exe} --root {b.StateRoot} run --spec {spec} --die-with-parent --pid-file {pidFile} {b.Id}";
        using var caller = Process.Start(new ProcessStartInfo("sh", ["-c", $"{run} & wait"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            SandboxHost.WaitUntil(() => (File.Exists(pidFile) && File.ReadAllText(pidFile).Length > 0) || caller.HasExited, TimeSpan.FromSeconds(60), "the container to start");
            if (caller.HasExited)
            {
                Assert.Fail($"sandbox run --spec ended before its container started: {caller.StandardError.ReadToEnd()}");
            }
            var container = int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture);
            caller.Kill();
            caller.WaitForExit();
            SandboxHost.WaitUntil(() => !SandboxHost.ProcessExists(container), TimeSpan.FromSeconds(10), "the container to end with its caller");
            SandboxHost.WaitUntil(() => !b.StateEntries.Any(), TimeSpan.FromSeconds(10), "its state to go");
            Assert.Null(SandboxHost.CgroupOf("pids", b.Id));
        }
        finally
        {
            b.Cli(["delete", "--force", b.Id]);
        }
    }

    /// <summary>
    /// `run --report --die-with-parent` with a recording filter (what SandboxExec runs for every build step) answers
    /// the filter's notifications and watches its caller on its main thread, in the wait for the container: no
    /// thread of its own for either (each cost a run's start most of a millisecond), and both still work.
    /// </summary>
    [PrivilegedFact]
    public void The_recording_supervisor_and_the_parent_watch_need_no_thread_of_their_own()
    {
        using var b = new TestBundle();
        b.Sh("while true; do mount -t tmpfs none /tmp 2>/dev/null; sleep 0.05; done");
        var pidFile = Path.Combine(b.Dir, "pid");
        var report = Path.Combine(b.Dir, "report.json");
        b.Write();
        var run = $"{SandboxHost.Exe} --root {b.StateRoot} run --die-with-parent --seccomp default --report {report} --pid-file {pidFile} --bundle {b.Dir} {b.Id}";
        using var caller = StartCaller(run);
        try
        {
            var (container, supervisor) = Started(b, pidFile);
            Thread.Sleep(300); // a few denied mounts, answered meanwhile
            var threads = Directory.GetDirectories($"/proc/{supervisor}/task").Select(t => File.ReadAllText(Path.Combine(t, "comm")).Trim()).ToList();
            Assert.DoesNotContain(threads, t => t.StartsWith("seccomp", StringComparison.Ordinal) || t.StartsWith("parent watch", StringComparison.Ordinal));
            caller.Kill();
            caller.WaitForExit();
            SandboxHost.WaitUntil(() => !SandboxHost.ProcessExists(container) && !SandboxHost.ProcessExists(supervisor), TimeSpan.FromSeconds(10), "the container and sandbox run to end");
            var denied = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("seccomp").GetProperty("denied").EnumerateArray()
                .Single(d => d.GetProperty("syscall").GetString() == "mount");
            Assert.True(denied.GetProperty("count").GetInt64() >= 2, denied.ToString());
            Assert.Empty(b.StateEntries);
            Assert.Null(SandboxHost.CgroupOf("pids", b.Id));
        }
        finally
        {
            b.Cli(["delete", "--force", b.Id]);
        }
    }

    [PrivilegedFact]
    public void A_caller_that_is_still_there_keeps_its_directory()
    {
        using var b = new TestBundle();
        b.WithArgs("true");
        var scratch = Directory.CreateDirectory(Path.Combine(b.Dir, "scratch")).FullName;
        var r = b.Run("--die-with-parent", "--remove-if-orphaned", scratch);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(Directory.Exists(scratch));
        Assert.Empty(b.StateEntries);
    }
}
