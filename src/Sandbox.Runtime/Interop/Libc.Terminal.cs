using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

/// <summary>
/// Pseudo-terminals for `process.terminal` (the console socket). Ours: the post-clone path opens the pty and needs
/// the ioctl numbers as constants (asm-generic/ioctls.h, the same on x86_64 and arm64; KernelHeaderTests checks them).
/// The termios calls are the parent's (TerminalProxy: `run`'s own terminal in raw mode).
/// </summary>
internal static unsafe partial class Libc
{
    public const nuint TIOCSCTTY = 0x540E, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, TIOCGPTPEER = 0x5441, TIOCGPTN = 0x80045430,
        TIOCSPTLCK = 0x40045431;

    public const int TCSANOW = 0;

    [DllImport("libc", EntryPoint = "isatty", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Isatty(int fd);

    [DllImport("libc", EntryPoint = "tcgetattr", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Tcgetattr(int fd, Termios* termios);

    [DllImport("libc", EntryPoint = "tcsetattr", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Tcsetattr(int fd, int actions, Termios* termios);

    [DllImport("libc", EntryPoint = "cfmakeraw", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern void Cfmakeraw(Termios* termios);
}

/// <summary>glibc's struct termios (60 bytes), kept opaque but for its size: only saved, made raw and restored.</summary>
[StructLayout(LayoutKind.Sequential, Size = 60)]
internal struct Termios
{
    public uint InputFlags;
}

/// <summary>struct winsize.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct WinSize
{
    public ushort Rows, Cols, XPixels, YPixels;
}
