using System.Runtime.InteropServices;
using Sandbox.Runtime.Interop;

namespace Sandbox.Runtime;

/// <summary>
/// `sandbox run` of a process with `terminal: true` and no --console-socket, as runc runs it: the runtime receives the
/// pty master itself and joins it to its own stdio (stdin to the terminal, the terminal to stdout), with its own
/// terminal, if stdin is one, in raw mode (keys such as Ctrl+C reach the container's terminal, whose line discipline
/// signals the container's foreground processes) and its size passed on, also when it changes (SIGWINCH).
/// </summary>
internal sealed unsafe class TerminalProxy : IDisposable
{
    private readonly int _master;
    private readonly Thread _output;
    private readonly Termios* _saved;
    private readonly PosixSignalRegistration? _resize;
    private bool _disposed;

    private TerminalProxy(int master)
    {
        _master = master;
        if (Libc.Isatty(0) == 1)
        {
            _saved = (Termios*)NativeMemory.AllocZeroed((nuint)sizeof(Termios));
            if (Libc.Tcgetattr(0, _saved) == 0)
            {
                var raw = *_saved;
                Libc.Cfmakeraw(&raw);
                Libc.Tcsetattr(0, Libc.TCSANOW, &raw);
            }
            else
            {
                NativeMemory.Free(_saved);
                _saved = null;
            }
            CopySize();
            _resize = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, c =>
            {
                c.Cancel = true;
                CopySize();
            });
        }
        // The output ends when every holder of the slave is gone (read gives EIO); the input when stdin ends.
        _output = new Thread(() => Copy(master, 1)) { IsBackground = true, Name = "terminal output" };
        _output.Start();
        new Thread(() => Copy(0, master)) { IsBackground = true, Name = "terminal input" }.Start();
    }

    /// <summary>Receives the master the container's process sent on <paramref name="socket"/> (and closes the socket).</summary>
    public static TerminalProxy Start(int socket)
    {
        try
        {
            var name = stackalloc byte[64];
            CmsgFd cmsg = default;
            var iov = new IoVec { Base = name, Length = 64 };
            var msg = new MsgHdr { Iov = &iov, IovLength = 1, Control = &cmsg, ControlLength = CmsgFd.Size };
            // Sent before the container's process exec'd, which the launch waited for: it is there.
            var n = Libc.Recvmsg(socket, &msg, Libc.MSG_CMSG_CLOEXEC | Libc.MSG_DONTWAIT);
            if (n <= 0 || msg.ControlLength < CmsgFd.LengthOfOne || cmsg.Level != Libc.SOL_SOCKET || cmsg.Type != Libc.SCM_RIGHTS)
            {
                throw new SandboxException(ErrorCodes.SetupFailed, $"receive the container's terminal: {(n < 0 ? Libc.Describe(Libc.Errno) : "nothing was sent")}",
                    "report this as a bug");
            }
            return new TerminalProxy(cmsg.Fd);
        }
        finally
        {
            Libc.Close(socket);
        }
    }

    private void CopySize()
    {
        WinSize size;
        if (Libc.Ioctl(0, Libc.TIOCGWINSZ, &size) == 0)
        {
            Libc.Ioctl(_master, Libc.TIOCSWINSZ, &size);
        }
    }

    private static void Copy(int from, int to)
    {
        var buffer = stackalloc byte[4096];
        while (true)
        {
            var n = Libc.ReadBlocking(from, buffer, 4096);
            if (n < 0 && Libc.Errno == Libc.EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                return;
            }
            for (nint done = 0; done < n;)
            {
                var w = Libc.WriteBlocking(to, buffer + done, n - done);
                if (w < 0 && Libc.Errno == Libc.EINTR)
                {
                    continue;
                }
                if (w <= 0)
                {
                    return;
                }
                done += w;
            }
        }
    }

    /// <summary>
    /// Once the container has ended: what its terminal still holds is written out (a process it left holding the
    /// slave is given a second), then the runtime's terminal is restored.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _output.Join(TimeSpan.FromSeconds(1));
        _resize?.Dispose();
        if (_saved is not null)
        {
            Libc.Tcsetattr(0, Libc.TCSANOW, _saved);
            NativeMemory.Free(_saved);
        }
        Libc.Close(_master);
    }
}
