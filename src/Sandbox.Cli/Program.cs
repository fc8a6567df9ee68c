using Sandbox;
using Sandbox.Cli;
using Sandbox.Oci;
using Sandbox.Runtime;

// Non-dumpable: no process of a container (or any other unprivileged one) may open this process's binary, memory
// or environment through /proc/PID, nor those of its forks (the container's first process before it execs, the
// reaper). The kernel makes a process dumpable again when it execs a program, so containers are unaffected.
Sandbox.Runtime.Interop.Libc.Prctl(Sandbox.Runtime.Interop.Libc.PR_SET_DUMPABLE, 0, 0, 0, 0);
int code;
try
{
    code = Commands.Run(args);
}
catch (SandboxException e)
{
    if (e.Located)
    {
        RuntimeLog.Listing(e.Message);
    }
    else
    {
        RuntimeLog.Error(e.Code, e.Message, e.Hint);
    }
    code = e.Code == ErrorCodes.ExecFailed ? (e.Message.Contains("ENOENT", StringComparison.Ordinal) ? Lifecycle.ExecNotFoundExit : Lifecycle.ExecDeniedExit)
        : Commands.ErrorExit;
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException)
{
    RuntimeLog.Error(ErrorCodes.Io, e.Message, "check the paths and permissions named above");
    code = Commands.ErrorExit;
}

// Nothing is buffered (FdWriter writes straight to the descriptors), so leave without the runtime's shutdown.
Tmds.Linux.LibC._exit(code);
return code;
