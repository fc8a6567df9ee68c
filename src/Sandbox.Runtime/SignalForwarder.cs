using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>
/// How `sandbox run` and a foreground `sandbox exec` pass the signals a terminal or a supervisor sends them on to the
/// container's process, and wait for its end: as C runtimes do (bubblewrap, crun), with no signal handler and no
/// signal-handling thread (.NET's PosixSignalRegistration starts one). The signals, SIGWINCH and SIGCHLD are blocked
/// in every thread of this process and read from a signalfd on the main thread, which is where it waits for the
/// container: SIGCHLD says a child ended.
/// <para>Every process sandbox starts gets the default mask and dispositions back before it execs
/// (PostClone.ResetSignals: the container's process, exec'd processes, hooks, the reaper's program).</para>
/// </summary>
internal sealed unsafe class SignalForwarder : IDisposable
{
    private const int SIGUSR2 = 12;

    /// <summary>The signals passed on to the container; the others that end a process are the kernel's or fatal faults.</summary>
    private static ReadOnlySpan<int> Forwarded => [Libc.SIGINT, Libc.SIGTERM, Libc.SIGHUP, Libc.SIGQUIT, Libc.SIGUSR1, SIGUSR2];

    private readonly int _fd;

    private SignalForwarder(int fd) => _fd = fd;

    /// <summary>
    /// Opens the signalfd that takes the signals. The executables block them in their first thread before the .NET
    /// runtime starts any (src/Sandbox.Cli/SignalMask.c: a thread inherits the mask of the one that starts it, and
    /// the runtime's finalizer thread exists before Main); they are blocked here again for the main thread, which a
    /// command that forwards nothing unblocked (<see cref="Unblock"/>).
    /// </summary>
    public static SignalForwarder Block()
    {
        var set = Set();
        var err = LibC.pthread_sigmask(Libc.SIG_BLOCK, &set, null);
        if (err != 0)
        {
            throw new SandboxException(ErrorCodes.Io, $"block the forwarded signals: {Libc.Describe(err)}", "report this as a bug");
        }
        var fd = Libc.Signalfd(-1, &set, Libc.SFD_CLOEXEC);
        if (fd < 0)
        {
            throw new SandboxException(ErrorCodes.Io, $"signalfd: {Libc.Describe(Libc.Errno)}", "raise the open-file limit");
        }
        return new SignalForwarder(fd);
    }

    /// <summary>
    /// For a command that forwards nothing: the main thread takes the signals again with their default actions (a
    /// SIGTERM ends `sandbox create` as it ends any program). Other threads keep them blocked; the kernel gives a
    /// process's signal to a thread that does not block it.
    /// </summary>
    public static void Unblock()
    {
        var set = Set();
        LibC.pthread_sigmask(Libc.SIG_UNBLOCK, &set, null);
    }

    /// <summary>The forwarded signals, SIGWINCH and SIGCHLD: SignalMask.c's list.</summary>
    private static sigset_t Set()
    {
        sigset_t set;
        LibC.sigemptyset(&set);
        foreach (var signal in Forwarded)
        {
            LibC.sigaddset(&set, signal);
        }
        LibC.sigaddset(&set, Libc.SIGWINCH);
        LibC.sigaddset(&set, Libc.SIGCHLD);
        return set;
    }

    /// <summary>Set once SIGINT, SIGTERM or SIGHUP was passed on to a container.</summary>
    public bool TerminationForwarded { get; private set; }

    /// <summary>
    /// Waits for <paramref name="pid"/> (a child of this process) to end and returns its wait status and rusage (which
    /// covers the children it waited for). Meanwhile every forwarded signal is passed on to it, and a SIGWINCH resizes
    /// <paramref name="terminal"/>'s terminal. The same wait answers an inline seccomp supervisor's notifications
    /// (<paramref name="seccomp"/>) and watches a pidfd of the process that started this one (<paramref name="parent"/>,
    /// whose end calls <paramref name="parentGone"/> once): both without a thread of their own.
    /// </summary>
    public (int Status, Rusage Usage) WaitFor(int pid, TerminalProxy? terminal, SeccompSupervisor? seccomp = null, int parent = -1, Action? parentGone = null)
    {
        const int batch = 8;
        var infos = stackalloc SignalfdSiginfo[batch];
        var fds = stackalloc pollfd[3];
        var listener = seccomp?.Listener ?? -1;
        try
        {
            while (true)
            {
                int status;
                Rusage usage;
                var ended = Libc.Wait4Blocking(pid, &status, Libc.WNOHANG, &usage);
                if (ended == pid)
                {
                    return (status, usage);
                }
                if (ended < 0 && Libc.Errno != Libc.EINTR)
                {
                    throw new SandboxException(ErrorCodes.Io, $"wait for {pid}: {Libc.Describe(Libc.Errno)}", "report this as a bug");
                }
                if (listener >= 0 || parent >= 0)
                {
                    var count = 0;
                    fds[count++] = new pollfd { fd = _fd, events = LibC.POLLIN };
                    var listenerAt = listener >= 0 ? count++ : -1;
                    var parentAt = parent >= 0 ? count++ : -1;
                    if (listenerAt >= 0)
                    {
                        fds[listenerAt] = new pollfd { fd = listener, events = LibC.POLLIN };
                    }
                    if (parentAt >= 0)
                    {
                        fds[parentAt] = new pollfd { fd = parent, events = LibC.POLLIN };
                    }
                    if (LibC.poll(fds, (ulong_t)(ulong)count, -1) < 0)
                    {
                        if (LibC.errno == LibC.EINTR)
                        {
                            continue;
                        }
                        throw new SandboxException(ErrorCodes.Io, $"poll while waiting for {pid}: {Libc.Describe(LibC.errno)}", "report this as a bug");
                    }
                    if (listenerAt >= 0 && fds[listenerAt].revents != 0)
                    {
                        if ((fds[listenerAt].revents & LibC.POLLIN) != 0)
                        {
                            seccomp!.AnswerOne();
                        }
                        else
                        {
                            listener = -1; // POLLHUP: every process under the filter is gone
                        }
                    }
                    if (parentAt >= 0 && fds[parentAt].revents != 0)
                    {
                        LibC.close(parent);
                        parent = -1;
                        parentGone!();
                    }
                    if ((fds[0].revents & LibC.POLLIN) == 0)
                    {
                        continue;
                    }
                }
                // Blocks until a signal is pending. A SIGCHLD of the child's end that came before the wait4 above is
                // pending still (it is blocked), so the end is never missed.
                var n = (long)LibC.read(_fd, infos, batch * sizeof(SignalfdSiginfo));
                if (n < 0 && LibC.errno == LibC.EINTR)
                {
                    continue;
                }
                if (n < 0)
                {
                    throw new SandboxException(ErrorCodes.Io, $"read the signalfd: {Libc.Describe(LibC.errno)}", "report this as a bug");
                }
                for (var i = 0; i < n / sizeof(SignalfdSiginfo); i++)
                {
                    var signal = (int)infos[i].Signo;
                    if (signal == Libc.SIGWINCH)
                    {
                        terminal?.CopySize();
                    }
                    else if (signal != Libc.SIGCHLD)
                    {
                        TerminationForwarded |= signal is Libc.SIGINT or Libc.SIGTERM or Libc.SIGHUP;
                        LibC.kill(pid, signal);
                    }
                }
            }
        }
        finally
        {
            if (parent >= 0)
            {
                LibC.close(parent);
            }
        }
    }

    /// <summary>Closes the signalfd. The signals stay blocked: one that comes during the teardown waits, harmless, until the exit.</summary>
    public void Dispose() => LibC.close(_fd);
}
