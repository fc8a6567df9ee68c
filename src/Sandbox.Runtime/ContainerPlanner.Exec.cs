using Sandbox.Oci;
using static Sandbox.Runtime.Interop.Libc;

namespace Sandbox.Runtime;

/// <summary>`sandbox exec`: a process started in a running container.</summary>
internal sealed record ExecOptions
{
    public required string Id { get; init; }

    /// <summary>Return once the process runs (podman's conmon reaps it); otherwise wait and return its exit code.</summary>
    public bool Detached { get; init; }
    public int PreserveFds { get; init; }
    public string? PidFile { get; init; }

    /// <summary>`--console-socket`, for a process with a terminal (`--tty`, or `terminal: true` in --process).</summary>
    public string? ConsoleSocket { get; init; }
}

internal static partial class ContainerPlanner
{
    /// <summary>
    /// The steps that put a new process where the container's first one (<paramref name="initPid"/>) is: every namespace
    /// the container has (the user namespace first, so the others are joined with its privileges; the pid namespace last,
    /// with a fork into it), its cgroup (on v1 as root the child moves itself in after the go-ahead, JoinCgroupStep;
    /// otherwise the parent moves it while it waits),
    /// its root (a container without a mount namespace is chrooted, as its first process is), and then the process's
    /// own credentials, limits and the container's seccomp profile and Landlock rule, as `create` sets them up.
    /// Nothing is mounted and nothing written: the container is already set up, and is not trusted to be as it was.
    /// </summary>
    public static SetupPlan BuildExec(OciConfig container, OciProcess proc, string bundle, int initPid, ExecOptions o, HostFacts host,
        SeccompFilterCache? seccompCache = null)
    {
        var linux = container.Linux ?? new OciLinux();
        var types = new HashSet<string>((linux.Namespaces ?? []).Select(n => n.Type!), StringComparer.Ordinal);
        var mountNs = types.Contains("mount");
        if (!mountNs)
        {
            // The caps a chrooted process must not have (CAP_SYS_CHROOT, CAP_SYS_ADMIN) apply to this one too.
            CheckWithoutMountNamespace(new OciConfig { Root = new OciRoot { Path = "." }, Process = proc }, new OciLinux());
        }
        var userNs = types.Contains("user");
        if (!host.IsRoot && !userNs)
        {
            throw new SandboxException(ErrorCodes.UserNamespaceDenied,
                $"container \"{o.Id}\" has no user namespace, and joining its other namespaces needs root", "run `sandbox exec` as root");
        }
        var steps = new List<SetupStep> { new SetParentDeathSignalStep(SIGKILL) };
        foreach (var (type, flag) in NamespaceFlags)
        {
            if (types.Contains(type) && type != "pid")
            {
                steps.Add(new JoinNamespaceStep(type, $"/proc/{initPid}/ns/{NamespaceFile(type)}", flag));
            }
        }
        if (types.Contains("pid"))
        {
            // Last, in the container's user namespace (which owns it: the runtime could not join it rootless).
            steps.Add(new EnterPidNamespaceStep($"/proc/{initPid}/ns/pid"));
            steps.Add(new SetParentDeathSignalStep(SIGKILL)); // the forked process is armed anew
        }
        steps.Add(new WaitForParentStep());
        if (userNs)
        {
            steps.Add(new BecomeRootStep(RootMayBeUnmapped: true));
            steps.Add(new SetParentDeathSignalStep(SIGKILL)); // a change of credentials clears it
        }
        steps.Add(new SetSidStep());
        if (!mountNs)
        {
            steps.Add(new ChrootStep(ResolveRootfs(container, bundle)));
        }
        if (Console(proc, o.ConsoleSocket ?? (o.Detached ? null : ConsoleStep.OwnTerminal)) is { } console)
        {
            steps.Add(console); // from the container's /dev/ptmx, in its root
        }
        var keepsSysAdmin = proc.Capabilities?.Effective?.Contains("CAP_SYS_ADMIN") ?? false;
        var mayMount = keepsSysAdmin || (proc.Capabilities?.Permitted?.Contains("CAP_SYS_ADMIN") ?? false);
        if (host.LandlockAbi > 0 && !mayMount)
        {
            steps.Add(new RestrictExecutionStep());
        }
        // No report for an exec'd process: denials are not recorded, and the filter is the profile itself.
        var (seccomp, _) = SeccompFilter(linux.Seccomp, new LaunchOptions { Id = o.Id, Bundle = bundle, Detached = true }, seccompCache);
        var seccompBeforeCredentials = seccomp is not null && !proc.NoNewPrivileges && !keepsSysAdmin;
        if (seccompBeforeCredentials)
        {
            steps.Add(new JoinSessionKeyringStep());
            steps.Add(seccomp!);
        }
        AddRlimits(proc, host, steps);
        AddCredentials(proc, host, userNs, killWithParent: !o.Detached, warnOnStderr: o.Detached, steps);
        steps.Add(new ChdirStep(proc.Cwd!));
        if (!seccompBeforeCredentials)
        {
            steps.Add(new JoinSessionKeyringStep());
        }
        if (proc.NoNewPrivileges)
        {
            steps.Add(new NoNewPrivilegesStep());
        }
        if (seccomp is not null && !seccompBeforeCredentials)
        {
            steps.Add(seccomp);
        }
        if (o.Detached)
        {
            // `sandbox exec --detach` returns once the process runs; its caller (conmon) reaps it.
            steps.Add(new SetParentDeathSignalStep(0));
        }
        steps.Add(Exec(proc, reaper: false));
        return new SetupPlan
        {
            CloneFlags = 0,
            Steps = steps,
            OomScoreAdj = proc.OomScoreAdj,
            PreserveFds = o.PreserveFds,
        };
    }

    /// <summary>The name of a namespace's file under /proc/PID/ns.</summary>
    private static string NamespaceFile(string type) => type switch { "mount" => "mnt", "network" => "net", _ => type };
}
