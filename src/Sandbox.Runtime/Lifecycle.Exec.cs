using Sandbox.Oci;
using Sandbox.Runtime.Cgroups;
using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

internal sealed unsafe partial class Lifecycle
{
    /// <summary>
    /// `sandbox exec`: starts the process <paramref name="process"/> makes of the container's config in the container's namespaces, cgroup and root, with the
    /// container's seccomp profile (ContainerPlanner.BuildExec). Returns its exit code (128+signal), or 0 at once
    /// with <see cref="ExecOptions.Detached"/>.
    /// </summary>
    public int Exec(ExecOptions o, Func<OciConfig, OciProcess> process)
    {
        // In the foreground, signals are passed on to the process (before any thread is started: see SignalForwarder).
        using var signals = o.Detached ? null : SignalForwarder.Block();
        var record = store.Read(o.Id);
        var status = store.Status(record);
        if (status is not (OciStatus.Created or OciStatus.Running))
        {
            throw new SandboxException(ErrorCodes.WrongState, $"container \"{o.Id}\" is {status}: a process can only join a created or running container",
                status == OciStatus.Paused ? $"resume it first (`sandbox resume {o.Id}`)" : $"start a new container; `sandbox state {o.Id}` says what it is");
        }
        var config = store.ReadConfig(o.Id) ?? throw new SandboxException(ErrorCodes.StateCorrupt,
            $"container \"{o.Id}\" has no config.json beside its state (made by an older sandbox)", "create the container again");
        if (record.SeccompOverride is { } seccomp)
        {
            config = config with { Linux = (config.Linux ?? new OciLinux()) with { Seccomp = Sandbox.Seccomp.BuiltInProfiles.Resolve(seccomp) } };
        }
        var plan = ContainerPlanner.BuildExec(config, process(config), record.Bundle, record.Pid, o, host, SeccompCache);
        // The container's first process, pinned by a pidfd: if it is still alive once every namespace file is open,
        // those files are its own, not those of a process that reused its pid meanwhile.
        var pidfd = (int)Libc.Syscall(SyscallNumbers.ForCurrentArchitecture().PidfdOpen, record.Pid, 0, 0, 0, 0);
        try
        {
            if (pidfd < 0 || !ProcessInfo.IsAlive(record.Pid, record.PidStartTime))
            {
                throw Stopped(o.Id);
            }
            var childJoins = ChildJoins(ref plan, record.Cgroups);
            using var program = ChildProgram.Create(plan);
            if (Exited(pidfd))
            {
                throw Stopped(o.Id);
            }
            TerminalProxy? terminal = null;
            try
            {
                var pid = ContainerLauncher.Launch(plan, program, _ => [], (p, _) =>
                {
                    if (childJoins)
                    {
                        return;
                    }
                    // Every directory the container has (named v1 hierarchies such as name=systemd too), before it goes on.
                    var text = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    foreach (var dir in record.Cgroups)
                    {
                        CgroupFiles.Write(dir, "cgroup.procs", text);
                    }
                }, onListener: (p, listener) => TakeListener(config, plan, record, p, listener));
                if (program.TakeConsoleSocket() is var console && console >= 0)
                {
                    terminal = TerminalProxy.Start(console);
                }
                WritePidFile(o.PidFile, pid);
                if (signals is null)
                {
                    return 0;
                }
                var (exitStatus, _) = signals.WaitFor(pid, terminal);
                return Libc.WifExited(exitStatus) ? Libc.WexitStatus(exitStatus) : 128 + Libc.WtermSig(exitStatus);
            }
            finally
            {
                terminal?.Dispose();
            }
        }
        finally
        {
            if (pidfd >= 0)
            {
                LibC.close(pidfd);
            }
        }
    }

    private static SandboxException Stopped(string id) => new(ErrorCodes.WrongState, $"container \"{id}\" has stopped",
        $"delete it with `sandbox delete {id}`");

    /// <summary>Whether the process a pidfd refers to has ended (the pidfd reads as ready then).</summary>
    private static bool Exited(int pidfd)
    {
        var p = new pollfd { fd = pidfd, events = LibC.POLLIN };
        return LibC.poll(&p, 1, 0) != 0;
    }
}
