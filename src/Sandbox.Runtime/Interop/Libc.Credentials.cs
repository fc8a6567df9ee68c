// Capabilities (linux/capability.h) for capset/capget, made as raw syscalls. Ours: Tmds.LibC has neither the calls
// nor the structs, and only the post-clone path uses them. setresuid, setresgid and setgroups are raw syscalls too
// (SyscallNumbers says why).
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const uint LINUX_CAPABILITY_VERSION_3 = 0x20080522;
    // setresuid, setresgid and setgroups are made as raw syscalls (SyscallNumbers): see the note there.
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
