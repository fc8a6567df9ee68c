// Processes and signals for the post-clone path: execve, _exit, kill, setsid, umask, prctl, waitpid, sigprocmask,
// sigwaitinfo, signal, poll and their constants. Ours because that path needs compile-time constants and imports
// bound at link time (Tmds.LibC's constants are properties, its imports lazily bound). prctl, wait4 and execv are
// ours for the parent too: Tmds.LibC lacks them. The parent's kill, getuid, getgid, getppid and poll use Tmds.LibC.
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGPIPE = 13, SIGTERM = 15,
        SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22, SIGWINCH = 28, SIGSYS = 31;

    public const int WNOHANG = 1, __WALL = 0x40000000;

    public const int PR_SET_PDEATHSIG = 1, PR_SET_DUMPABLE = 4, PR_SET_KEEPCAPS = 8, PR_CAPBSET_READ = 23, PR_CAPBSET_DROP = 24,
        PR_SET_CHILD_SUBREAPER = 36, PR_SET_NO_NEW_PRIVS = 38, PR_CAP_AMBIENT = 47, PR_CAP_AMBIENT_RAISE = 2,
        PR_CAP_AMBIENT_CLEAR_ALL = 4;

    public const int SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;

    [DllImport("libc", EntryPoint = "execve", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Execve(byte* path, byte** argv, byte** envp);

    /// <summary>execve with this process's environment: `sandbox` hands the sandbox.yaml commands to `sandbox-build`.</summary>
    [DllImport("libc", EntryPoint = "execv", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Execv(byte* path, byte** argv);

    [DllImport("libc", EntryPoint = "_exit", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern void Exit(int status);





    [DllImport("libc", EntryPoint = "kill", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Kill(int pid, int sig);

    [DllImport("libc", EntryPoint = "setsid", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Setsid();

    [DllImport("libc", EntryPoint = "umask", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern uint Umask(uint mask);

    /// <summary>personality(2): sets the execution domain; returns the previous persona, or -1.</summary>
    [DllImport("libc", EntryPoint = "personality", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Personality(nuint persona);

    [DllImport("libc", EntryPoint = "prctl", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Prctl(int option, nuint a2, nuint a3, nuint a4, nuint a5);

    /// <summary>waitpid for the child's side (a reaper or hook runner): no GC transition.</summary>
    [DllImport("libc", EntryPoint = "waitpid", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Waitpid(int pid, int* status, int options);

    /// <summary>wait4 for the supervisor: blocking, with a GC transition.</summary>
    [DllImport("libc", EntryPoint = "wait4", ExactSpelling = true)]
    public static extern int Wait4Blocking(int pid, int* status, int options, Rusage* rusage);

    [DllImport("libc", EntryPoint = "sigprocmask", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Sigprocmask(int how, ulong* set, ulong* oldset);

    [DllImport("libc", EntryPoint = "sigwaitinfo", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Sigwaitinfo(ulong* set, SigInfo* info);

    [DllImport("libc", EntryPoint = "signal", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern nint Signal(int sig, nint handler);

    [DllImport("libc", EntryPoint = "poll", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Poll(PollFd* fds, nuint nfds, int timeout);

    public static bool WifExited(int status) => (status & 0x7f) == 0;

    public static int WexitStatus(int status) => (status >> 8) & 0xff;

    public static int WtermSig(int status) => status & 0x7f;
}

[StructLayout(LayoutKind.Sequential)]
internal struct Rusage
{
    public long UtimeSec, UtimeUsec, StimeSec, StimeUsec;
    public long Maxrss, Ixrss, Idrss, Isrss, Minflt, Majflt, Nswap, Inblock, Oublock, Msgsnd, Msgrcv, Nsignals, Nvcsw, Nivcsw;
}

/// <summary>siginfo_t is 128 bytes; only the signal number (first int) is read here.</summary>
[StructLayout(LayoutKind.Sequential, Size = 128)]
internal struct SigInfo
{
    public int Signo;
}

[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events, Revents;
}
