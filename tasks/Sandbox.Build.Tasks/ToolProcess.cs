using System.ComponentModel;
using System.Diagnostics;

namespace Sandbox.Build.Tasks;

/// <summary>
/// The one child executable a task runs at a time (`sandbox-build build`, `sandbox run`): started with
/// System.Diagnostics.Process (the task never forks: docs/design.md), read to the end, killed with its descendants on
/// <see cref="Cancel"/> or when it runs over its time. Shared by the tasks, so each has one place that knows about
/// ETXTBSY and cancellation.
/// </summary>
internal sealed class ToolProcess
{
    private readonly Lock _gate = new();
    private Process? _running;

    /// <summary>How a run ended: its exit code and output, or that it ran over its time and was killed.</summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr, bool TimedOut);

    public bool Cancelled { get; private set; }

    /// <summary>
    /// Runs <paramref name="psi"/> with stdin closed and stdout and stderr read; null when the task was cancelled
    /// before or while it ran. Throws <see cref="Win32Exception"/> when it cannot be started.
    /// </summary>
    public Result? Run(ProcessStartInfo psi, TimeSpan? timeout)
    {
        psi.UseShellExecute = false;
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var process = new Process { StartInfo = psi };
        lock (_gate)
        {
            if (Cancelled)
            {
                return null;
            }
            Start(process);
            _running = process;
        }
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var finished = timeout is { } t ? process.WaitForExit(t) : process.WaitForExit(Timeout.Infinite);
        lock (_gate)
        {
            if (!finished)
            {
                KillRunning();
            }
            _running = null;
        }
        process.WaitForExit();
        var result = new Result(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult(), !finished);
        return Cancelled ? null : result;
    }

    public void Cancel()
    {
        lock (_gate)
        {
            Cancelled = true;
            KillRunning();
        }
    }

    /// <summary>
    /// Starts the tool, again for up to a second while exec says ETXTBSY: the copy in obj/ was written by this
    /// process, and in a multi-threaded build another task's child, forked while the copy was open for writing,
    /// holds that descriptor until it execs (Go's os/exec tests meet the same race).
    /// </summary>
    private static void Start(Process process)
    {
        const int ETXTBSY = 26;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                process.Start();
                return;
            }
            catch (Win32Exception e) when (e.NativeErrorCode == ETXTBSY && attempt < 50)
            {
                Thread.Sleep(20);
            }
        }
    }

    private void KillRunning()
    {
        try
        {
            _running?.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // it has already exited
        }
    }
}
