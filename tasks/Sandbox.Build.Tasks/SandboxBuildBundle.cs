using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Task = Microsoft.Build.Utilities.Task;

namespace Sandbox.Build.Tasks;

/// <summary>
/// Turns the project's sandbox.yaml, or the hermetic default spec, into a bundle by starting `sandbox-build build
/// SPEC -o DIR`, then writes the manifest the test adapter reads. The fork rule (docs/design.md): this runs in a
/// JIT-compiled, long-lived MSBuild node, so it never forks or clones; the NativeAOT executable does the work.
/// Safe in multithreaded nodes: no static mutable state, and paths, environment and the working directory of the
/// child come from <see cref="TaskEnvironment"/>, never from the process.
/// </summary>
[MSBuildMultiThreadableTask]
public sealed class SandboxBuildBundle : Task, IMultiThreadableTask, ICancelableTask
{
    /// <summary>Building a bundle copies libraries into a cache at worst; ten minutes means it hangs.</summary>
    internal static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(10);

    private readonly Lock _gate = new();
    private Process? _running;
    private bool _cancelled;

    public TaskEnvironment TaskEnvironment { get; set; } = TaskEnvironment.Fallback;

    /// <summary>The project's sandbox.yaml; empty for the default spec.</summary>
    public string? SpecFile { get; set; }

    [Required]
    public string DefaultSpecTemplate { get; set; } = "";

    /// <summary>Where the default spec is written (obj/…/sandbox/sandbox.yaml).</summary>
    [Required]
    public string DefaultSpecFile { get; set; } = "";

    /// <summary>The project's output directory, which the default spec mounts at its own path.</summary>
    [Required]
    public string OutputDirectory { get; set; } = "";

    [Required]
    public string BundleDirectory { get; set; } = "";

    [Required]
    public string ManifestFile { get; set; } = "";

    /// <summary>The directory holding `sandbox` and `sandbox-build`.</summary>
    [Required]
    public string ToolsDirectory { get; set; } = "";

    /// <summary>Where private, executable copies of the tools go when the package's own cannot be executed.</summary>
    [Required]
    public string ToolCopyDirectory { get; set; } = "";

    [Output]
    public string BundleDigest { get; private set; } = "";

    public override bool Execute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Report(new ToolDiagnostic(TaskErrorCodes.NotLinux,
                $"sandboxes run on Linux only, and this build runs on {System.Runtime.InteropServices.RuntimeInformation.OSDescription} (hint: set SandboxEnabled=false to build without a sandbox bundle, e.g. <SandboxEnabled Condition=\"!$([MSBuild]::IsOSPlatform('Linux'))\">false</SandboxEnabled>)"));
            return false;
        }
        var (tools, error, copied) = SandboxToolLocator.Resolve(Absolute(ToolsDirectory), Absolute(ToolCopyDirectory));
        if (tools is null)
        {
            Report(error!);
            return false;
        }
        if (copied)
        {
            Log.LogMessage(MessageImportance.Low, "Sandbox: {0} is not executable for this user; using a copy in {1}", ToolsDirectory, ToolCopyDirectory);
        }
        var outputDirectory = Absolute(OutputDirectory);
        var bundle = Absolute(BundleDirectory);
        string spec;
        var useDefault = string.IsNullOrEmpty(SpecFile);
        try
        {
            if (useDefault)
            {
                spec = Absolute(DefaultSpecFile);
                DefaultSpec.Write(spec, DefaultSpec.Render(File.ReadAllText(Absolute(DefaultSpecTemplate)), outputDirectory));
            }
            else
            {
                spec = Absolute(SpecFile!);
                if (!File.Exists(spec))
                {
                    Report(new ToolDiagnostic(TaskErrorCodes.SpecMissing,
                        $"SandboxSpec names {spec}, which does not exist (hint: correct the SandboxSpec property, or remove it to use sandbox.yaml beside the project or the default spec)"));
                    return false;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            Report(new ToolDiagnostic(TaskErrorCodes.WriteFailed,
                $"writing the default spec {DefaultSpecFile} from {DefaultSpecTemplate} failed: {e.Message} (hint: check that the intermediate output directory is writable and the package is intact)"));
            return false;
        }

        var digest = RunSandboxBuild(tools, spec, bundle);
        if (digest is null)
        {
            return false;
        }
        BundleDigest = digest;
        try
        {
            new BundleManifest(bundle, digest, spec, useDefault, outputDirectory, tools).Write(Absolute(ManifestFile));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Report(new ToolDiagnostic(TaskErrorCodes.WriteFailed, $"writing {ManifestFile} failed: {e.Message} (hint: check that the output directory is writable)"));
            return false;
        }
        Log.LogMessage(MessageImportance.Normal, "Sandbox: bundle {0} ({1}) from {2}", bundle, digest, spec);
        return true;
    }

    public void Cancel()
    {
        lock (_gate)
        {
            _cancelled = true;
            KillRunning();
        }
    }

    /// <summary>Runs `sandbox-build build SPEC -o DIR`; returns the digest it printed, or null after logging why not.</summary>
    private string? RunSandboxBuild(SandboxTools tools, string spec, string bundle)
    {
        // The node's environment for this project (HOME, XDG_CACHE_HOME and SANDBOX_CACHE choose the content cache) and
        // its directory, without touching the process-wide ones other projects' tasks share.
        var psi = TaskEnvironment.GetProcessStartInfo();
        psi.FileName = tools.SandboxBuild;
        psi.ArgumentList.Clear();
        foreach (var a in new[] { "build", spec, "-o", bundle })
        {
            psi.ArgumentList.Add(a);
        }
        psi.UseShellExecute = false;
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        Log.LogMessage(MessageImportance.Low, "Sandbox: {0} build {1} -o {2}", tools.SandboxBuild, spec, bundle);

        using var process = new Process { StartInfo = psi };
        lock (_gate)
        {
            if (_cancelled)
            {
                return null;
            }
            try
            {
                Start(process);
            }
            catch (Win32Exception e)
            {
                Report(new ToolDiagnostic(TaskErrorCodes.ToolUnusable,
                    $"starting {tools.SandboxBuild} failed: {e.Message} (hint: check that it is a linux executable for this machine ({System.Runtime.InteropServices.RuntimeInformation.OSArchitecture}); set SandboxToolsDirectory to the right one, or SandboxEnabled=false)"));
                return null;
            }
            _running = process;
        }
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var finished = process.WaitForExit(ToolTimeout);
        lock (_gate)
        {
            if (!finished)
            {
                KillRunning();
            }
            _running = null;
        }
        process.WaitForExit();
        var errorText = stderr.GetAwaiter().GetResult();
        var outputText = stdout.GetAwaiter().GetResult();
        if (_cancelled)
        {
            return null;
        }
        if (!finished)
        {
            Report(new ToolDiagnostic(TaskErrorCodes.ToolTimedOut,
                $"{tools.SandboxBuild} build {spec} did not finish in {ToolTimeout.TotalMinutes} minutes and was killed (hint: run the same command by hand to see where it stops)"));
            return null;
        }
        return Interpret(process.ExitCode, outputText, errorText, tools.SandboxBuild);
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
                Report(d);
            }
            if (diagnostics.Count == 0)
            {
                var tail = string.Join(" | ", lines.TakeLast(20).Select(l => l.Trim()));
                Report(new ToolDiagnostic(TaskErrorCodes.ToolFailed,
                    $"{tool} exited with code {exitCode}{(tail.Length > 0 ? ": " + tail : " and printed nothing")} (hint: run `{tool} build SPEC -o DIR` by hand to see the whole output)"));
            }
            return null;
        }
        foreach (var l in lines)
        {
            Log.LogMessage(MessageImportance.Normal, "sandbox-build: {0}", l);
        }
        var digest = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault(l => l.StartsWith("sha256:", StringComparison.Ordinal) && l.Length == 71);
        if (digest is null)
        {
            Report(new ToolDiagnostic(TaskErrorCodes.ToolUnusable,
                $"{tool} succeeded but printed no bundle digest (it printed: {stdout.Trim()}) (hint: the package's sandbox-build is not the one this task expects; restore the package again)"));
        }
        return digest;
    }

    private void Report(ToolDiagnostic d) =>
        Log.LogError(subcategory: null, errorCode: d.Code, helpKeyword: null, file: d.File, lineNumber: d.Line, columnNumber: d.Column,
            endLineNumber: 0, endColumnNumber: 0, message: d.Message);

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

    private string Absolute(string path) => TaskEnvironment.GetAbsolutePath(path).Value;
}
