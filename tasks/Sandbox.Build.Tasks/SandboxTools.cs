using Sandbox.Build.Tasks.Interop;

namespace Sandbox.Build.Tasks;

/// <summary>The `sandbox` and `sandbox-build` executables the task and the manifest name, ready to be run.</summary>
internal sealed record SandboxTools(string Sandbox, string SandboxBuild);

/// <summary>
/// Finds the executables and makes sure this user can run them. NuGet extracts every file of a package as 0744
/// whatever the umask (checked in docs/msbuild.md), so in a cache restored by another user, or on a noexec mount,
/// they are not executable here; the cache is not ours to chmod. Then both go into obj/ with mode 0755, side by
/// side, since `sandbox` hands the sandbox.yaml commands to the `sandbox-build` beside it.
/// </summary>
internal static class SandboxToolLocator
{
    public const string SandboxName = "sandbox";
    public const string SandboxBuildName = "sandbox-build";

    private const UnixFileMode Executable = (UnixFileMode)0x1ed; // 0755

    /// <summary>The executables to use, or the error that says why there are none.</summary>
    public static (SandboxTools? Tools, ToolDiagnostic? Error, bool Copied) Resolve(string toolsDirectory, string copyDirectory)
    {
        var sandbox = Path.Combine(toolsDirectory, SandboxName);
        var build = Path.Combine(toolsDirectory, SandboxBuildName);
        foreach (var path in new[] { sandbox, build })
        {
            if (!File.Exists(path))
            {
                return (null, new ToolDiagnostic(TaskErrorCodes.ToolMissing,
                    $"{path} does not exist (hint: the Sandbox.Build package carries linux-x64 and linux-arm64 executables; on another architecture set SandboxToolsDirectory to a directory holding sandbox and sandbox-build, or set SandboxEnabled=false to build without a sandbox bundle)"), false);
            }
        }
        if (CanExecute(sandbox) && CanExecute(build))
        {
            return (new SandboxTools(sandbox, build), null, false);
        }
        var copies = new SandboxTools(Path.Combine(copyDirectory, SandboxName), Path.Combine(copyDirectory, SandboxBuildName));
        try
        {
            Directory.CreateDirectory(copyDirectory);
            CopyIfChanged(sandbox, copies.Sandbox);
            CopyIfChanged(build, copies.SandboxBuild);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, new ToolDiagnostic(TaskErrorCodes.WriteFailed,
                $"{sandbox} is not executable for this user, and copying it to {copyDirectory} failed: {e.Message} (hint: make the package's tools/ executables executable (chmod 0755), or check that the intermediate output directory is writable)"), false);
        }
        foreach (var path in new[] { copies.Sandbox, copies.SandboxBuild })
        {
            if (!CanExecute(path))
            {
                return (null, new ToolDiagnostic(TaskErrorCodes.ToolNotExecutable,
                    $"{path} cannot be executed, not even as a private copy with mode 0755 (hint: the file system of the intermediate output directory is probably mounted noexec; move the build elsewhere, or set SandboxEnabled=false)"), true);
            }
        }
        return (copies, null, true);
    }

    private static bool CanExecute(string path) => Libc.Access(path, Libc.X_OK) == 0;

    private static void CopyIfChanged(string source, string destination)
    {
        var from = new FileInfo(source);
        var to = new FileInfo(destination);
        if (!to.Exists || to.Length != from.Length || to.LastWriteTimeUtc != from.LastWriteTimeUtc)
        {
            var tmp = destination + ".tmp";
            File.Copy(source, tmp, overwrite: true);
            File.SetLastWriteTimeUtc(tmp, from.LastWriteTimeUtc);
            File.Move(tmp, destination, overwrite: true);
        }
        File.SetUnixFileMode(destination, Executable);
    }
}
