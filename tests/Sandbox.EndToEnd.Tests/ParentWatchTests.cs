using System.Diagnostics;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// `run --die-with-parent` and `--remove-if-orphaned DIR`: what a supervisor that can die without a word (testhost,
/// under the test adapter) relies on to leave nothing behind.
/// </summary>
public class ParentWatchTests
{
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
        // A shell is the caller: it starts `sandbox run` and waits, and is killed without a chance to clean up.
        using var caller = Process.Start(new ProcessStartInfo("sh", ["-c", $"{run} & wait"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            SandboxHost.WaitUntil(() => File.Exists(pidFile) && File.ReadAllText(pidFile).Length > 0, TimeSpan.FromSeconds(30), "the container to start");
            var container = int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture);
            var supervisor = SandboxHost.ProcessesMentioning(b.Dir)
                .Single(pid => File.ReadAllText($"/proc/{pid}/cmdline").StartsWith(SandboxHost.Exe + "\0", StringComparison.Ordinal));
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
