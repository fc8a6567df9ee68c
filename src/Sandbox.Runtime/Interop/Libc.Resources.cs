// prlimit. Ours: Tmds.LibC lacks it (and the post-clone path sets the container's rlimits with it).
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const ulong RLIM_INFINITY = ulong.MaxValue;

    [DllImport("libc", EntryPoint = "prlimit", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Prlimit(int pid, int resource, Rlimit* newLimit, Rlimit* oldLimit);
}

[StructLayout(LayoutKind.Sequential)]
internal struct Rlimit
{
    public ulong Cur, Max;
}
