/* Blocks the signals `sandbox run` and a foreground `sandbox exec` forward (and SIGCHLD, SIGWINCH) before the .NET
 * runtime starts: its finalizer thread, started before Main, inherits the mask, so no thread of this process takes
 * them but the main thread's signalfd (src/Sandbox.Runtime/SignalForwarder.cs, which holds the same list). Commands
 * that forward nothing unblock them on the main thread (SignalForwarder.Unblock). Linked into both executables as a
 * linker input (Cli.props): the compiler driver builds it for the target the link is for. */
#include <pthread.h>
#include <signal.h>

__attribute__((constructor)) static void sandbox_block_forwarded_signals(void)
{
    static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD };
    sigset_t set;
    sigemptyset(&set);
    for (unsigned i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
    {
        sigaddset(&set, forwarded[i]);
    }
    pthread_sigmask(SIG_BLOCK, &set, 0);
}
