// The loopback interface brought up inside a new network namespace (socket, SIOCSIFFLAGS). Ours: only the post-clone
// path uses it, with compile-time constants and link-time imports.
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const int AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0x80000;
    public const nuint SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914;
    public const short IFF_UP = 1, IFF_RUNNING = 0x40;

    [DllImport("libc", EntryPoint = "socket", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Socket(int domain, int type, int protocol);

    [DllImport("libc", EntryPoint = "ioctl", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Ioctl(int fd, nuint request, void* arg);
}

/// <summary>struct ifreq: a 16-byte interface name and a union whose first member here is the flags.</summary>
[StructLayout(LayoutKind.Sequential, Size = 40)]
internal unsafe struct IfReq
{
    public fixed byte Name[16];
    public short Flags;
}
