using System.Diagnostics;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// `sandbox run` and `sandbox create` killed with SIGKILL at random moments of their start: nothing may be left
/// behind — no process (neither a half-set-up child nor the program), no state directory, no cgroup — and nothing
/// of a killed run may keep the caller's stdout open. SANDBOX_KILL_COUNT sets how many runs (eng/kill.sh: 1,000).
/// </summary>
public class KillTests
{
    private static int Count => int.TryParse(Environment.GetEnvironmentVariable("SANDBOX_KILL_COUNT"), out var n) ? n : 120;

    [PrivilegedFact]
    public void Runs_and_creates_killed_at_random_moments_leave_nothing_behind()
    {
        using var b = new TestBundle();
        var marker = $"98{Environment.ProcessId % 1000:000}3";
        // A limit, so every run has a cgroup to leave behind too.
        b.Config = b.Config with { Linux = b.Config.Linux! with { Resources = new OciResources { Pids = new OciPids { Limit = 50 } } } };
        b.Sh($"sleep {marker}");
        b.Write();
        var random = new Random(20261130);
        var ids = new List<string>();
        var hung = 0;
        for (var i = 0; i < Count; i++)
        {
            var id = $"k{Environment.ProcessId}-{i}";
            ids.Add(id);
            var create = i % 4 == 3;
            // Through sh, which execs sandbox with stdin and stderr on /dev/null: a run's stdout is a pipe read here
            // to its end, which comes only when nothing of the killed run holds it; a created container keeps its
            // stdout by design, so a create's goes to /dev/null.
            var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = !create };
            foreach (var a in new[] { "-c", create ? "exec \"$@\" </dev/null >/dev/null 2>&1" : "exec \"$@\" </dev/null 2>/dev/null", "sh", SandboxHost.Exe }
                         .Concat(b.Global).Concat([create ? "create" : "run", "--bundle", b.Dir, id]))
            {
                psi.ArgumentList.Add(a);
            }
            var p = Process.Start(psi)!;
            var eof = new ManualResetEventSlim(); // not disposed: a reader that outlives its wait may still set it
            if (!create)
            {
                // A thread of its own, not the pool's: a read that never ends must not starve the rest of the test.
                new Thread(() =>
                {
                    try
                    {
                        p.StandardOutput.BaseStream.CopyTo(Stream.Null);
                    }
                    catch (IOException)
                    {
                    }
                    eof.Set();
                }) { IsBackground = true }.Start();
            }
            Thread.Sleep(random.Next(0, 80));
            p.Kill();
            p.WaitForExit();
            if (!create && !eof.Wait(TimeSpan.FromSeconds(10)))
            {
                hung++;
                continue; // its reader still holds the pipe: leave the process object alone
            }
            p.Dispose();
        }
        // Each `delete --force` removes what its create or run left; the run after it collects the rest.
        foreach (var id in ids)
        {
            var r = SandboxHost.Run([.. b.Global, "delete", "--force", id]);
            Assert.True(r.ExitCode == 0, $"delete --force {id}: {r}");
        }
        b.Id = "collector";
        b.Sh("true");
        Assert.Equal(0, b.Run().ExitCode);

        SandboxHost.WaitUntil(() => SandboxHost.ProcessesMentioning(marker).Count == 0 && SandboxHost.ProcessesMentioning(b.Dir).Count == 0,
            TimeSpan.FromSeconds(10), "every process of the killed runs to be gone");
        var cgroups = Directory.GetDirectories("/sys/fs/cgroup").SelectMany(h => Directory.GetDirectories(h, $"sandbox-*-k{Environment.ProcessId}-*")).ToList();
        Assert.True(hung == 0, $"{hung} of {Count} killed runs left the caller's stdout open");
        Assert.Empty(cgroups);
        Assert.Empty(b.StateEntries);
    }
}
