using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const uint LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    [DllImport("libc", EntryPoint = "setresuid", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Setresuid(uint r, uint e, uint s);

    [DllImport("libc", EntryPoint = "setresgid", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Setresgid(uint r, uint e, uint s);

    // glibc's setgroups would broadcast to all threads (setxid); the child is single-threaded, so the raw
    // syscall through glibc's wrapper is fine either way.
    [DllImport("libc", EntryPoint = "setgroups", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Setgroups(nuint size, uint* list);
}

[StructLayout(LayoutKind.Sequential)]
internal struct CapHeader
{
    public uint Version;
    public int Pid;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CapData
{
    public uint Effective, Permitted, Inheritable;
}
