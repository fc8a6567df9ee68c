// The container's setup as data: what the child will do, in order, before execve. ContainerPlanner makes it
// from config.json; ChildProgram turns it into native steps for the post-clone path. Tests read it as data.
namespace Sandbox.Runtime;

internal enum MountCreate
{
    None = 0,
    Directory = 1,
    File = 2,
}

internal abstract record SetupStep
{
    public abstract string Describe();
}

internal sealed record SetParentDeathSignalStep(int Signal) : SetupStep
{
    public override string Describe() => "set the parent-death signal";
}

internal sealed record WaitForParentStep : SetupStep
{
    public override string Describe() => "wait for the parent to set up id maps";
}

/// <summary>
/// cgroup v1: the child moves itself into the container's cgroup, right after the go-ahead, by writing 0 to each
/// hierarchy's tasks file. The parent writing the child's pid to cgroup.procs takes the kernel's global threadgroup
/// lock for writing, which waits for an RCU grace period (measured: 1.5 ms on one machine, 7.7 ms on another); a single
/// thread moving itself takes no such lock. The child has one thread, and the files are opened by the runtime, whose
/// credentials the kernel checks (so a child in a user namespace may write them too).
/// </summary>
internal sealed record JoinCgroupStep(IReadOnlyList<CgroupTasksFile> Files) : SetupStep
{
    public override string Describe() => "join the container's cgroup";
}

/// <summary>A tasks file, opened for writing by the runtime before the clone.</summary>
internal sealed record CgroupTasksFile(string Path);

/// <summary>
/// JoinCgroupStep for a cgroup the runtime makes after the clone, while the child mounts (on cgroup v1, its hierarchies
/// read then too): the go-ahead is followed by the tasks files' paths (a 32-bit length, then the paths, each ended by a
/// NUL), which the child opens below the runtime's root (a descriptor of "/" opened before the clone) and writes 0 to.
/// Opened with the child's own credentials, so only where the child is host root (ContainerPlanner.AddWaitForCgroup).
/// A go-ahead that says the cgroup was not made (usage figures only, none delegated) comes without paths.
/// </summary>
internal sealed record JoinCgroupFromParentStep : SetupStep
{
    public const int MaxPaths = 4096;

    public override string Describe() => "join the container's cgroup";
}

/// <summary>
/// setresgid and setresuid 0 in the container's user namespace, once the parent has written its maps: setup then acts
/// as the namespace's root (the runtime's own ids need not be mapped there), as runc's does.
/// </summary>
/// <param name="RootMayBeUnmapped">A joined namespace, whose maps the planner does not know: where 0 is not mapped
/// (EINVAL), the ids stay as they were.</param>
internal sealed record BecomeRootStep(bool RootMayBeUnmapped) : SetupStep
{
    public override string Describe() => "become root in the user namespace";
}

internal sealed record JoinNamespaceStep(string Type, string Path, ulong Flag) : SetupStep
{
    public override string Describe() => $"join {Type} namespace {Path}";
}

/// <summary>
/// Joins a pid namespace and forks into it (CLONE_PARENT: the new process is the runtime's child, and goes on with the
/// steps; the one that forked reports its pid and exits). setns only places later children in a pid namespace, and the
/// runtime itself cannot join one owned by a user namespace it is not in: the child joins after the user namespace.
/// </summary>
internal sealed record EnterPidNamespaceStep(string Path) : SetupStep
{
    public override string Describe() => $"join pid namespace {Path}";
}

/// <summary>
/// `process.terminal`: a new pty from the container's own /dev/ptmx, its master sent over the console socket (SCM_RIGHTS,
/// with the pty's name as data, as runc sends it), its slave the process's controlling terminal and stdio.
/// </summary>
internal sealed record ConsoleStep(string SocketPath, uint Uid, uint Gid, ushort Rows, ushort Cols) : SetupStep
{
    /// <summary>The socket path of a terminal the runtime itself receives (`run` in the foreground: TerminalProxy).</summary>
    public const string OwnTerminal = "";

    public override string Describe() => SocketPath == OwnTerminal ? "set up the terminal" : $"set up the terminal for --console-socket {SocketPath}";
}

internal sealed record UnshareStep(ulong Flags) : SetupStep
{
    public override string Describe() => "create namespaces (unshare)";
}

/// <summary>
/// A new time namespace: unshare places only later children in it, so the child then joins it itself through
/// /proc/self/ns/time_for_children (clone cannot take CLONE_NEWTIME: the bit is part of the exit signal).
/// </summary>
internal sealed record EnterTimeNamespaceStep : SetupStep
{
    public override string Describe() => "create and enter a time namespace";
}

internal sealed record SetSidStep : SetupStep
{
    public override string Describe() => "start a new session";
}

internal sealed record HostnameStep(string Name) : SetupStep
{
    public override string Describe() => $"set hostname {Name}";
}

internal sealed record DomainnameStep(string Name) : SetupStep
{
    public override string Describe() => $"set domainname {Name}";
}

internal sealed record LoopbackUpStep : SetupStep
{
    public override string Describe() => "bring up lo in the network namespace";
}

internal sealed record RootPropagationStep(ulong Flags) : SetupStep
{
    public override string Describe() => "make the host's mounts private to the container";
}

/// <param name="ReadonlyBelow">Make every mount found below the rootfs read-only (for a read-only root), so none
/// of them is left writable when the root itself is remounted read-only at the end.</param>
internal sealed record BindRootfsStep(string Rootfs, bool ReadonlyBelow = false) : SetupStep
{
    public override string Describe() => $"bind the rootfs {Rootfs} onto itself";
}

/// <summary>
/// Whether /proc/PID of the child is open to others (ptrace access mode). The runtime runs non-dumpable, so nothing
/// in the container can open the runtime's binary or memory through /proc; a rootless parent needs the child
/// dumpable for the moment it writes its id maps.
/// </summary>
internal sealed record SetDumpableStep(bool Dumpable) : SetupStep
{
    public override string Describe() => Dumpable ? "let the parent write /proc/PID files" : "make the process non-dumpable";
}

/// <summary>A Landlock domain in which only files inside the container's root may be executed.</summary>
internal sealed record RestrictExecutionStep : SetupStep
{
    public override string Describe() => "allow execution only inside the container's root (Landlock)";
}

/// <summary>A new anonymous session keyring, so the container reaches none of the host user's keys.</summary>
internal sealed record JoinSessionKeyringStep : SetupStep
{
    public override string Describe() => "join a new session keyring";
}

/// <param name="Destination">The path inside the container, for messages.</param>
/// <param name="Target">The same path relative to the rootfs, as the child resolves it.</param>
/// <param name="Idmapped">For a bind mount: the parent's id-mapped copy of <paramref name="Source"/>, attached instead of a
/// plain bind.</param>
/// <param name="CopyUp">tmpcopyup: before the tmpfs covers the directory, the child holds it open, and copies its files,
/// directories, symlinks and fifos (owners and modes too) into the new tmpfs, never following a symlink.</param>
internal sealed record MountStep(
    string Destination, string Target, string? Source, string? FsType, ulong Flags, string? Data,
    MountCreate Create, ulong RemountFlags, ulong Propagation, IdmappedTree? Idmapped = null, bool CopyUp = false) : SetupStep
{
    public override string Describe() =>
        "mount " + ((Flags & Interop.Libc.MS_BIND) != 0 ? (Idmapped is null ? "bind " : "id-mapped bind ") + Source : FsType)
        + (CopyUp ? " with a copy of the rootfs's files" : "") + " on " + Destination;
}

/// <summary>
/// An OCI mount of type "cgroup": the container's own cgroups at <paramref name="Destination"/>, as runc and crun make
/// them. The planner cannot expand it (the container's cgroup does not exist yet): the launch replaces it with plain
/// steps (CgroupMounts.Expand) once it does. <paramref name="Flags"/> are the mount's own, without MS_RDONLY;
/// <paramref name="Readonly"/> says whether the whole tree ends read-only.
/// </summary>
internal sealed record CgroupMountStep(string Destination, string Target, ulong Flags, bool Readonly, ulong Propagation) : SetupStep
{
    public override string Describe() => $"mount the container's cgroups on {Destination}";
}

/// <summary>
/// A host directory tree the parent copies with open_tree and id-maps with mount_setattr(MOUNT_ATTR_IDMAP) before the
/// clone (that needs CAP_SYS_ADMIN where the filesystem was mounted, which a child in a user namespace lacks).
/// </summary>
/// <param name="Recursive">Copy the mounts below the path too (rbind).</param>
/// <param name="MapRecursive">Id-map those too ("ridmap"); with "idmap" only the top mount is mapped.</param>
internal sealed record IdmappedTree(string HostPath, bool Recursive, bool MapRecursive, IReadOnlyList<IdMap> UidMap, IReadOnlyList<IdMap> GidMap);

/// <summary>
/// Attaches an id-mapped copy over its own host path, in the container's mount namespace, for the overlay mount that
/// follows to take as a lower layer (an overlay mount itself cannot be id-mapped; its layers can).
/// </summary>
internal sealed record AttachIdmappedStep(IdmappedTree Tree) : SetupStep
{
    public override string Describe() => $"attach an id-mapped copy of {Tree.HostPath} for an overlay";
}

internal sealed record MakeDeviceStep(string Path, string ParentDir, string Name, uint Mode, ulong Device, uint Uid, uint Gid) : SetupStep
{
    public override string Describe() => $"create device {Path}";
}

internal sealed record BindDeviceStep(string Path, string HostPath, string Target) : SetupStep
{
    public override string Describe() => $"bind device {HostPath} on {Path}";
}

internal sealed record SymlinkStep(string Path, string LinkTarget, string ParentDir, string Name) : SetupStep
{
    public override string Describe() => $"link {Path} -> {LinkTarget}";
}

internal sealed record PivotRootStep : SetupStep
{
    public override string Describe() => "pivot_root into the rootfs";
}

/// <summary>
/// Without a mount namespace (the host's is shared): chroot into the rootfs, as runc does, since pivot_root and a
/// move would change the host's mounts.
/// </summary>
internal sealed record ChrootStep(string Rootfs) : SetupStep
{
    public override string Describe() => $"chroot into the rootfs {Rootfs} (no mount namespace)";
}

internal sealed record MoveRootStep(string Rootfs) : SetupStep
{
    public override string Describe() => "move the rootfs to / and chroot (--no-pivot)";
}

internal sealed record RootfsPropagationStep(ulong Flags) : SetupStep
{
    public override string Describe() => "set rootfsPropagation on /";
}

internal sealed record MaskPathStep(string Path) : SetupStep
{
    public override string Describe() => $"mask {Path}";
}

internal sealed record ReadonlyPathStep(string Path) : SetupStep
{
    public override string Describe() => $"make {Path} read-only";
}

internal sealed record WriteFileStep(string Path, string Content) : SetupStep
{
    public override string Describe() => $"write {Path}";
}

internal sealed record RemountRootReadonlyStep : SetupStep
{
    public override string Describe() => "remount / read-only";
}

internal sealed record SyncWithParentStep : SetupStep
{
    public override string Describe() => "wait for the createRuntime hooks";
}

internal sealed record RunHookStep(string Kind, int Index, string Path, string[] Args, string[] Env, int? TimeoutSeconds) : SetupStep
{
    public override string Describe() => $"{Kind} hook {Index} ({Path})";
}

internal sealed record SetRlimitStep(string Name, int Resource, ulong Soft, ulong Hard) : SetupStep
{
    public override string Describe() => $"set {Name} to {Soft}/{Hard}";
}

internal sealed record SetPersonalityStep(string Domain, uint Persona) : SetupStep
{
    public override string Describe() => $"set the execution domain {Domain}";
}

internal sealed record ChdirStep(string Path) : SetupStep
{
    public override string Describe() => $"change directory to {Path}";
}

internal sealed record DropBoundingSetStep(ulong Keep, int LastCapability) : SetupStep
{
    public override string Describe() => "drop capabilities from the bounding set";
}

internal sealed record SetUserStep(uint Uid, uint Gid, uint[]? Groups) : SetupStep
{
    public override string Describe() => $"become uid {Uid} gid {Gid}";
}

internal sealed record SetCapabilitiesStep(ulong Effective, ulong Permitted, ulong Inheritable, ulong Ambient) : SetupStep
{
    public override string Describe() => "set capabilities";
}

internal sealed record NoNewPrivilegesStep : SetupStep
{
    public override string Describe() => "set no_new_privs";
}

internal sealed record UmaskStep(uint Mask) : SetupStep
{
    public override string Describe() => "set umask";
}

/// <summary>
/// Installs a compiled seccomp filter. When it needs a listener, the kernel returns a listener descriptor, which the
/// child sends to the supervisor over the listener socket (SCM_RIGHTS) and closes, before anything else. A recording
/// filter's plain profile is installed instead, without a listener, when the kernel refuses the listener because an
/// enclosing filter already has one (EBUSY: sandbox inside a sandbox).
/// </summary>
internal sealed record SeccompStep(Sandbox.Seccomp.CompiledFilter Filter) : SetupStep
{
    public bool Listener => Filter.NeedsListener;

    public override string Describe() => $"install the seccomp filter ({Filter.Program.Length} instructions)";
}

internal sealed record ReportReadyStep : SetupStep
{
    public override string Describe() => "report the container created";
}

internal sealed record WaitForStartStep : SetupStep
{
    public override string Describe() => "wait for `sandbox start`";
}

internal sealed record ExecStep(string Program, string[] Candidates, string[] Args, string[] Env, bool Reaper) : SetupStep
{
    public override string Describe() => $"exec {Program}";
}

internal sealed record ExitStep(int Code) : SetupStep
{
    public override string Describe() => $"exit {Code}";
}

internal sealed record IdMap(uint ContainerId, uint HostId, uint Size);

/// <summary>Everything needed to start one container: clone flags, the parent's part, and the child's steps.</summary>
internal sealed record SetupPlan
{
    public required ulong CloneFlags { get; init; }
    public required IReadOnlyList<SetupStep> Steps { get; init; }
    public IReadOnlyList<IdMap>? UidMap { get; init; }
    public IReadOnlyList<IdMap>? GidMap { get; init; }
    public bool DenySetgroups { get; init; }
    public string? JoinPidNamespace { get; init; }
    public int? OomScoreAdj { get; init; }
    public int PreserveFds { get; init; }

    /// <summary>The compiled filter, when there is one: its listener (if any) reaches the supervisor at launch.</summary>
    public Sandbox.Seccomp.CompiledFilter? Seccomp
    {
        get
        {
            // A loop, not OfType().FirstOrDefault(): LINQ's first use costs a start 0.3 ms (measured) in type checks.
            for (var i = 0; i < Steps.Count; i++)
            {
                if (Steps[i] is SeccompStep s)
                {
                    return s.Filter;
                }
            }
            return null;
        }
    }

    /// <summary>Why denials are not recorded although a report was asked for (null when they are, or no report).</summary>
    public string? SeccompNotRecorded { get; init; }

    /// <summary>The child mounts before it waits for its cgroup (ContainerPlanner.DeferWaitForParent, or a second wait
    /// after a user namespace's maps: AddWaitForCgroup): on cgroup v1 the parent may make the cgroup after the clone.</summary>
    public bool ChildMountsFirst { get; init; }

    /// <summary>
    /// This plan with the child joining its cgroup v1 itself, right after the go-ahead (JoinCgroupStep); after the
    /// last one where it waits twice (a user namespace's maps first, its cgroup later: WaitsTwice).
    /// </summary>
    public SetupPlan JoiningCgroup(IReadOnlyList<CgroupTasksFile> files) => AfterLastWait(new JoinCgroupStep(files));

    /// <summary>As <see cref="JoiningCgroup"/>, for a cgroup made after the clone (JoinCgroupFromParentStep).</summary>
    public SetupPlan JoiningCgroupFromParent() => AfterLastWait(new JoinCgroupFromParentStep());

    private SetupPlan AfterLastWait(SetupStep join)
    {
        var last = -1;
        for (var i = 0; i < Steps.Count; i++)
        {
            last = Steps[i] is WaitForParentStep ? i : last;
        }
        var steps = new List<SetupStep>(Steps);
        steps.Insert(last + 1, join);
        return this with { Steps = steps };
    }

    /// <summary>The child waits for the parent twice: for its id maps, then for its cgroup (ContainerPlanner.AddWaitForCgroup).</summary>
    public bool WaitsTwice
    {
        get
        {
            var waits = 0;
            foreach (var step in Steps)
            {
                waits += step is WaitForParentStep ? 1 : 0;
            }
            return waits > 1;
        }
    }
}
