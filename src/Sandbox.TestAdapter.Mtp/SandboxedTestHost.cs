using System.Diagnostics;
using Microsoft.Testing.Platform.Extensions.TestHostControllers;

namespace Sandbox.TestAdapter.Mtp;

/// <summary>
/// The test host as the platform sees it: the `sandbox run` that runs it. Its exit code is the test host's (`sandbox
/// run` exits with its container's), which the platform reconciles with what the host reported over its pipe. Not an
/// ILocalTestHostHandle: the pid the test host reports is its pid inside the sandbox's pid namespace, which no host
/// pid would match. The platform disposes the handle once the host has exited; disposing removes the run directory.
/// </summary>
internal sealed class SandboxedTestHost(Process process, string id, string sandbox, string runDirectory) : ITestHostHandle
{
    private int _terminated;

    public string? Identifier => id;
    public int ExitCode => process.ExitCode;
    public bool HasExited => process.HasExited;

    public Task WaitForExitAsync(CancellationToken cancellationToken) => process.WaitForExitAsync(cancellationToken);

    /// <summary>`sandbox kill ID KILL`, so that `sandbox run` sees its container end and cleans up as after any end;
    /// killing `sandbox run` itself is the fallback, after which the container dies with it (--die-with-parent).</summary>
    public void Terminate()
    {
        if (Interlocked.Exchange(ref _terminated, 1) != 0 || process.HasExited)
        {
            return;
        }
        if (SandboxRun.Command(sandbox, "kill", id, "KILL") && process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            return;
        }
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        process.WaitForExit();
        SandboxRun.Command(sandbox, "delete", "--force", id);
    }

    public void Dispose()
    {
        Terminate();
        process.Dispose();
        try
        {
            SandboxRun.RemoveDirectory(runDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next run's collection of leftovers (it names its owner's pid); never worth failing a run over.
        }
    }
}
