// kill(2): SIGTERM to a `sandbox run` whose container is not there yet to be killed by `sandbox kill` (AgentProcess.Kill).
using System.Runtime.InteropServices;

namespace Sandbox.TestAdapter.Interop;

internal static partial class Libc
{
    /// <summary>SIGTERM: 15 on every Linux architecture.</summary>
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}
