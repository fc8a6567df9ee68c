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
    private readonly ToolProcess _runner = new();

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

        var digest = new BundleBuildCommand(TaskEnvironment, Log, Report).Run(_runner, tools, spec, bundle);
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

    public void Cancel() => _runner.Cancel();

    private void Report(ToolDiagnostic d) =>
        Log.LogError(subcategory: null, errorCode: d.Code, helpKeyword: null, file: d.File, lineNumber: d.Line, columnNumber: d.Column,
            endLineNumber: 0, endColumnNumber: 0, message: d.Message);

    private string Absolute(string path) => TaskEnvironment.GetAbsolutePath(path).Value;
}
