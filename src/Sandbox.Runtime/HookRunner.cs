using Sandbox.Oci;
using Sandbox.Runtime.Interop;

namespace Sandbox.Runtime;

/// <summary>Runs OCI hooks in the runtime namespace, each with the container's state JSON on stdin.</summary>
internal static unsafe class HookRunner
{
    /// <summary>Runs the hooks with the state JSON, made only when there is a hook to give it to.</summary>
    public static void Run(string kind, List<OciHook>? hooks, Func<byte[]> state, bool mustSucceed, TextWriter warnings)
    {
        if (hooks is not { Count: > 0 })
        {
            return;
        }
        Run(kind, hooks, state(), mustSucceed, warnings);
    }

    /// <summary>Runs the hooks in order; the first failure throws when <paramref name="mustSucceed"/>, else warns.</summary>
    public static void Run(string kind, List<OciHook>? hooks, byte[] state, bool mustSucceed, TextWriter warnings)
    {
        for (var i = 0; i < (hooks?.Count ?? 0); i++)
        {
            var step = ContainerPlanner.ToStep(kind, i, hooks![i]);
            var failure = RunOne(step, state);
            if (failure is null)
            {
                continue;
            }
            if (mustSucceed)
            {
                throw new SandboxException(ErrorCodes.HookFailed, failure, $"fix or remove hooks.{kind}[{i}]");
            }
            warnings.WriteLine($"sandbox: warning: {ErrorCodes.HookFailed}: {failure}");
        }
    }

    private static string? RunOne(RunHookStep step, byte[] state)
    {
        using var arena = new NativeArena();
        var ctx = arena.Alloc<ChildContext>();
        ctx->Sys = SyscallNumbers.ForCurrentArchitecture();
        var native = ChildProgram.EncodeHook(arena, step);
        int status;
        int err;
        fixed (byte* s = state)
        {
            err = PostClone.SpawnHook(ctx, native, s, state.Length, &status);
        }
        return Explain(step, err, status);
    }

    public static string? Explain(RunHookStep step, int err, int status)
    {
        if (err == 110)
        {
            return $"{step.Describe()} timed out after {step.TimeoutSeconds} s";
        }
        if (err != 0)
        {
            return $"{step.Describe()}: {Interop.Libc.Describe(err)}";
        }
        if (status == 0)
        {
            return null;
        }
        return Interop.Libc.WifExited(status)
            ? Interop.Libc.WexitStatus(status) == 127
                ? $"{step.Describe()} could not be executed (exit status 127)"
                : $"{step.Describe()} exited with status {Interop.Libc.WexitStatus(status)}"
            : $"{step.Describe()} was killed by signal {Interop.Libc.WtermSig(status)}";
    }
}
