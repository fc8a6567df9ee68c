using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

/// <summary>
/// Pseudo-terminals for `process.terminal` (the console socket). Ours, though Tmds.LibC has TIOC* and struct winsize:
/// the post-clone path opens the pty and sends its master, and needs the ioctl numbers as compile-time constants
/// (asm-generic/ioctls.h, the same on x86_64 and arm64; KernelHeaderTests checks them), not Tmds.LibC's properties.
/// The parent's side (TerminalProxy: `run`'s own terminal in raw mode) takes isatty, tcgetattr, tcsetattr, struct
/// termios and TIOCGWINSZ from Tmds.LibC; cfmakeraw, which it lacks, is ours.
/// </summary>
internal static unsafe partial class Libc
{
    public const nuint TIOCSCTTY = 0x540E, TIOCSWINSZ = 0x5414, TIOCGPTPEER = 0x5441, TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431;

    [DllImport("libc", EntryPoint = "cfmakeraw", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern void Cfmakeraw(Tmds.Linux.termios* termios);
}

/// <summary>struct winsize.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct WinSize
{
    public ushort Rows, Cols, XPixels, YPixels;
}
