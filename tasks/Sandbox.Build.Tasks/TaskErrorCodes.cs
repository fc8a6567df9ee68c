namespace Sandbox.Build.Tasks;

/// <summary>The SBX50xx codes of the MSBuild package (docs/errors.md, docs/msbuild.md).</summary>
internal static class TaskErrorCodes
{
    /// <summary>The build host is not Linux: sandboxes exist only there.</summary>
    public const string NotLinux = "SBX5001";

    /// <summary>`sandbox` or `sandbox-build` is not where the package (or SandboxToolsDirectory) says.</summary>
    public const string ToolMissing = "SBX5002";

    /// <summary>The executable exists but cannot be executed, even from a private copy.</summary>
    public const string ToolNotExecutable = "SBX5003";

    /// <summary>`sandbox-build` failed without saying why in a line the task understands.</summary>
    public const string ToolFailed = "SBX5004";

    /// <summary>The spec named by SandboxSpec does not exist.</summary>
    public const string SpecMissing = "SBX5005";

    /// <summary>`sandbox-build` could not be started, or ended without printing the bundle's digest.</summary>
    public const string ToolUnusable = "SBX5006";

    /// <summary>The default spec, the manifest or a private copy of the executables could not be written.</summary>
    public const string WriteFailed = "SBX5007";

    /// <summary>MSBuild is older than 18.9 (checked by the targets, which cannot load the task there).</summary>
    public const string MSBuildTooOld = "SBX5008";

    /// <summary>`sandbox-build` did not finish in time and was killed.</summary>
    public const string ToolTimedOut = "SBX5009";

    /// <summary>SandboxExec: the step exited with a code other than 0.</summary>
    public const string StepFailed = "SBX5010";

    /// <summary>SandboxExec: the step wrote a path that is not among its Outputs.</summary>
    public const string UndeclaredWrite = "SBX5011";

    /// <summary>SandboxExec: the step succeeded without writing a declared output file.</summary>
    public const string OutputMissing = "SBX5012";

    /// <summary>SandboxExec with Reproducible: two runs wrote different outputs.</summary>
    public const string NotReproducible = "SBX5013";

    /// <summary>SandboxExec: the task's parameters cannot describe a step (a missing input, overlapping paths, ...).</summary>
    public const string StepInvalid = "SBX5014";

    /// <summary>SandboxExec: `sandbox run` could not make the sandbox and said nothing the task understands.</summary>
    public const string SandboxFailed = "SBX5015";

    /// <summary>SandboxExec: a failed step named a project file it was not given.</summary>
    public const string UndeclaredRead = "SBX5016";
}
