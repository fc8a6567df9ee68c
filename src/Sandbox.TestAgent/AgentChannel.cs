using Microsoft.Win32.SafeHandles;
using Sandbox.TestAdapter.Protocol;
using Sandbox.TestAgent.Interop;

namespace Sandbox.TestAgent;

/// <summary>
/// The agent's end of the protocol. Test code shares the agent's process and writes to fd 1 as it likes (xunit v2
/// tests call Console.WriteLine), so before anything else runs the protocol moves to new close-on-exec descriptors
/// (so that a child the tests start inherits none of them), fd 0 becomes /dev/null, and fd 1 becomes a copy of fd 2:
/// a test's stray output then lands in the stderr the host keeps as diagnostics, never in the protocol.
/// </summary>
internal static class AgentChannel
{
    public static LineChannel TakeStdio()
    {
        var input = Check(Libc.fcntl(0, Libc.F_DUPFD_CLOEXEC, 3), "fcntl(0, F_DUPFD_CLOEXEC)");
        var output = Check(Libc.fcntl(1, Libc.F_DUPFD_CLOEXEC, 3), "fcntl(1, F_DUPFD_CLOEXEC)");
        var devNull = Check(Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC), "open(/dev/null)");
        Check(Libc.dup2(devNull, 0), "dup2(/dev/null, 0)");
        Libc.close(devNull);
        Check(Libc.dup2(2, 1), "dup2(2, 1)");
        return new LineChannel(
            new FileStream(new SafeFileHandle(input, ownsHandle: true), FileAccess.Read, bufferSize: 0),
            new FileStream(new SafeFileHandle(output, ownsHandle: true), FileAccess.Write, bufferSize: 0));
    }

    private static int Check(int result, string what)
    {
        if (result < 0)
        {
            throw new IOException($"{what} failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }
        return result;
    }
}
