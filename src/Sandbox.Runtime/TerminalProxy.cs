using System.Runtime.InteropServices;
using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>
/// `sandbox run` of a process with `terminal: true` and no --console-socket, as runc runs it: the runtime receives the
/// pty master itself and joins it to its own stdio (stdin to the terminal, the terminal to stdout), with its own
/// terminal, if stdin is one, in raw mode (keys such as Ctrl+C reach the container's terminal, whose line discipline
/// signals the container's foreground processes) and its size passed on, also when it changes (SIGWINCH, which
/// SignalForwarder takes).
/// </summary>
internal sealed unsafe class TerminalProxy : IDisposable
{
    private readonly int _master;
    private readonly Thread _output;
    private readonly termios* _saved;
    private bool _disposed;

    private TerminalProxy(int master)
    {
        _master = master;
        if (LibC.isatty(0) == 1)
        {
            _saved = (termios*)NativeMemory.AllocZeroed((nuint)sizeof(termios));
            if (LibC.tcgetattr(0, _saved) == 0)
            {
                var raw = *_saved;
                Libc.Cfmakeraw(&raw);
                LibC.tcsetattr(0, (int)LibC.TCSANOW, &raw);
            }
            else
            {
                NativeMemory.Free(_saved);
                _saved = null;
            }
            CopySize();
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
            // Sent before the container's process exec'd, which the launch waited for: it is there (its data, the
            // pty's name, is left unread).
            return ContainerLauncher.ReceiveFd(socket) is { } master ? new TerminalProxy(master)
                : throw new SandboxException(ErrorCodes.SetupFailed, "receive the container's terminal: nothing was sent", "report this as a bug");
        }
        finally
        {
            LibC.close(socket);
        }
    }

    /// <summary>Gives the container's terminal the size of this one's (again on SIGWINCH: SignalForwarder.WaitFor).</summary>
    public void CopySize()
    {
        winsize size;
        if (LibC.ioctl(0, LibC.TIOCGWINSZ, &size) == 0)
        {
            LibC.ioctl(_master, LibC.TIOCSWINSZ, &size);
        }
    }

    private static void Copy(int from, int to)
    {
        var buffer = stackalloc byte[4096];
        while (true)
        {
            var n = (nint)LibC.read(from, buffer, 4096);
            if (n < 0 && LibC.errno == LibC.EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                return;
            }
            for (nint done = 0; done < n;)
            {
                var w = (nint)LibC.write(to, buffer + done, (int)(n - done));
                if (w < 0 && LibC.errno == LibC.EINTR)
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
        if (_saved is not null)
        {
            LibC.tcsetattr(0, (int)LibC.TCSANOW, _saved);
            NativeMemory.Free(_saved);
        }
        LibC.close(_master);
    }
}
