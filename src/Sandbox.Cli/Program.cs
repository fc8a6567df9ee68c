using Sandbox;
using Sandbox.Cli;
using Sandbox.Oci;
using Sandbox.Runtime;

var stderr = FdWriter.Error;
int code;
try
{
    code = Commands.Run(args, stderr);
}
catch (SandboxException e)
{
    stderr.WriteLine($"sandbox: {e.Code}: {e.Message}");
    if (e.Hint is not null)
    {
        stderr.WriteLine($"  hint: {e.Hint}");
    }
    code = e.Code == ErrorCodes.ExecFailed ? (e.Message.Contains("ENOENT", StringComparison.Ordinal) ? Lifecycle.ExecNotFoundExit : Lifecycle.ExecDeniedExit)
        : Commands.ErrorExit;
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException)
{
    stderr.WriteLine($"sandbox: {ErrorCodes.Io}: {e.Message}");
    stderr.WriteLine("  hint: check the paths and permissions named above");
    code = Commands.ErrorExit;
}

// Nothing is buffered (FdWriter writes straight to the descriptors), so leave without the runtime's shutdown.
Sandbox.Runtime.Interop.Libc.Exit(code);
return code;
