// signalfd for the parent (SignalForwarder): ours because Tmds.LibC lacks it. The mask it takes is Tmds.LibC's
// sigset_t, built and applied with Tmds.LibC's sigemptyset, sigaddset and pthread_sigmask.
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const int SFD_CLOEXEC = 0x80000;

    [DllImport("libc", EntryPoint = "signalfd", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Signalfd(int fd, Tmds.Linux.sigset_t* mask, int flags);
}

/// <summary>struct signalfd_siginfo: what a read of a signalfd gives per signal; only the number is used.</summary>
[StructLayout(LayoutKind.Sequential, Size = 128)]
internal struct SignalfdSiginfo
{
    public uint Signo;
}
