using System.Diagnostics;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// What a process `sandbox` starts (`run` or a foreground `exec`) inherits of its signal state, and whether the
/// signals sent to `sandbox` reach it: a shell that traps every forwarded signal is sent each in turn.
/// </summary>
public static class SignalForwardingProbe
{
    /// <summary>The process's own blocked and ignored signals, as it started (grep itself: a shell ignores SIGQUIT).</summary>
    public static readonly string[] ShowMask = ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"];

    /// <summary>runc's process starts with nothing blocked and every disposition the default, whatever the runtime's own.</summary>
    public static void AssertEmptyMask(RunResult r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", r.Stdout);
    }

    public const string Script = "for s in HUP INT QUIT USR1 USR2; do trap \"echo got-$s\" $s; done; trap 'echo got-TERM; exit 7' TERM; "
        + "echo ready; while true; do sleep 0.05; done";

    /// <summary>Starts `sandbox <paramref name="args"/>` (whose process runs <see cref="Script"/>) and checks it end to end.</summary>
    public static void Check(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(SandboxHost.Exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            Assert.Equal("ready", p.StandardOutput.ReadLine());
            foreach (var signal in new[] { "HUP", "INT", "QUIT", "USR1", "USR2", "TERM" })
            {
                Process.Start("kill", ["-" + signal, p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
                Assert.Equal("got-" + signal, p.StandardOutput.ReadLine());
            }
            Assert.True(p.WaitForExit(10_000), "sandbox ended with its process");
            Assert.True(p.ExitCode == 7, $"exit {p.ExitCode}: {stderr.Result}");
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit();
            }
        }
    }
}
