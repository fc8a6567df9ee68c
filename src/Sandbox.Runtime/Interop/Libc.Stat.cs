// statx for the post-clone path (tmpcopyup copies owner and mode). Ours because that path needs link-time imports
// and compile-time constants; the parent's statx calls use Tmds.LibC's statx and struct statx.
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const uint STATX_TYPE = 1, STATX_MODE = 2, STATX_UID = 8, STATX_GID = 0x10;

    /// <summary>struct statx: only the fields read here are named; the size is the kernel's 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct StatxBuffer
    {
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
    }

    [DllImport("libc", EntryPoint = "statx", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Statx(int dirfd, byte* path, int flags, uint mask, StatxBuffer* buf);
}
