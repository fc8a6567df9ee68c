using System.ComponentModel;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Sandbox.Build.Tasks;

/// <summary>
/// `sandbox-build build SPEC -o DIR` for a task: run in the project's environment and directory (TaskEnvironment, never
/// the process's), and its errors turned into MSBuild errors (a sandbox.yaml problem at its file, line and column).
/// Both tasks build their bundles through this.
/// </summary>
internal sealed class BundleBuildCommand(TaskEnvironment environment, TaskLoggingHelper log, Action<ToolDiagnostic> report)
{
    /// <summary>Building a bundle copies libraries into a cache at worst; ten minutes means it hangs.</summary>
    internal static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Builds the bundle; returns the digest it printed, or null after logging why not (or when cancelled).</summary>
    public string? Run(ToolProcess runner, SandboxTools tools, string spec, string bundle)
    {
        // The node's environment for this project (HOME, XDG_CACHE_HOME and SANDBOX_CACHE choose the content cache) and
        // its directory, without touching the process-wide ones other projects' tasks share.
        var psi = environment.GetProcessStartInfo();
        psi.FileName = tools.SandboxBuild;
        psi.ArgumentList.Clear();
        foreach (var a in new[] { "build", spec, "-o", bundle })
        {
            psi.ArgumentList.Add(a);
        }
        log.LogMessage(MessageImportance.Low, "Sandbox: {0} build {1} -o {2}", tools.SandboxBuild, spec, bundle);
        ToolProcess.Result? result;
        try
        {
            result = runner.Run(psi, ToolTimeout);
        }
        catch (Win32Exception e)
        {
            report(new ToolDiagnostic(TaskErrorCodes.ToolUnusable,
                $"starting {tools.SandboxBuild} failed: {e.Message} (hint: check that it is a linux executable for this machine ({System.Runtime.InteropServices.RuntimeInformation.OSArchitecture}); set SandboxToolsDirectory to the right one, or SandboxEnabled=false)"));
            return null;
        }
        if (result is null)
        {
            return null;
        }
        if (result.TimedOut)
        {
            report(new ToolDiagnostic(TaskErrorCodes.ToolTimedOut,
                $"{tools.SandboxBuild} build {spec} did not finish in {ToolTimeout.TotalMinutes} minutes and was killed (hint: run the same command by hand to see where it stops)"));
            return null;
        }
        return Interpret(result.ExitCode, result.Stdout, result.Stderr, tools.SandboxBuild);
    }

    /// <summary>The digest on success; otherwise every error `sandbox-build` printed becomes an MSBuild error.</summary>
    internal string? Interpret(int exitCode, string stdout, string stderr, string tool)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (exitCode != 0)
        {
            var diagnostics = ToolDiagnostics.Parse(lines);
            foreach (var d in diagnostics)
            {
                report(d);
            }
            if (diagnostics.Count == 0)
            {
                var tail = string.Join(" | ", lines.TakeLast(20).Select(l => l.Trim()));
                report(new ToolDiagnostic(TaskErrorCodes.ToolFailed,
                    $"{tool} exited with code {exitCode}{(tail.Length > 0 ? ": " + tail : " and printed nothing")} (hint: run `{tool} build SPEC -o DIR` by hand to see the whole output)"));
            }
            return null;
        }
        foreach (var l in lines)
        {
            log.LogMessage(MessageImportance.Normal, "sandbox-build: {0}", l);
        }
        var digest = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault(l => l.StartsWith("sha256:", StringComparison.Ordinal) && l.Length == 71);
        if (digest is null)
        {
            report(new ToolDiagnostic(TaskErrorCodes.ToolUnusable,
                $"{tool} succeeded but printed no bundle digest (it printed: {stdout.Trim()}) (hint: the package's sandbox-build is not the one this task expects; restore the package again)"));
        }
        return digest;
    }
}
