// flock(2): ours, as Tmds.LibC declares neither the call nor LOCK_*.
using System.Runtime.InteropServices;

namespace Sandbox.Bundles.Interop;

internal static partial class Libc
{
    public const int LOCK_SH = 1, LOCK_EX = 2, LOCK_UN = 8;

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);
}
