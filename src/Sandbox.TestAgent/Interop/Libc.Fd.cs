// fcntl, dup2, open and close, for moving the protocol off fd 0 and 1 at start (AgentChannel). Declared here: the
// agent ships no dependency of its own (it runs on the test project's deps.json), so Tmds.LibC is not available to it.
using System.Runtime.InteropServices;

namespace Sandbox.TestAgent.Interop;

internal static partial class Libc
{
    public const int F_DUPFD_CLOEXEC = 1030;
    public const int O_RDONLY = 0;
    public const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);
}
