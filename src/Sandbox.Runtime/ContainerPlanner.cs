using Sandbox.Oci;
using Sandbox.Seccomp;
using static Sandbox.Runtime.Interop.Libc;

namespace Sandbox.Runtime;

internal sealed record LaunchOptions
{
    public required string Id { get; init; }
    public required string Bundle { get; init; }

    /// <summary>`create`: stop before exec and wait for `start`; otherwise `run`.</summary>
    public bool Detached { get; init; }
    public bool NoPivot { get; init; }
    public bool Reaper { get; init; }
    public int PreserveFds { get; init; }

    /// <summary>`--console-socket`: where the pty master of a process with `terminal: true` goes.</summary>
    public string? ConsoleSocket { get; init; }

    /// <summary>`run`: kill the container after this long (also from the org.sandbox.timeout annotation).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>`run`: write the RunReport JSON here.</summary>
    public string? ReportPath { get; init; }

    /// <summary>Run even when a requested limit's controller is missing; the RunReport lists what went unenforced.</summary>
    public bool AllowUnenforced { get; init; }

    /// <summary>`run --seccomp NAME|PATH`: replaces the bundle's profile for this run ("unconfined" removes it).</summary>
    public string? SeccompOverride { get; init; }

    /// <summary>`run --die-with-parent`: kill the container when the process that started `sandbox run` ends.</summary>
    public bool DieWithParent { get; init; }

    /// <summary>`run --remove-if-orphaned DIR`: a directory of the caller's (a per-run bundle, say) that `run` removes
    /// at its end if the caller is gone by then, since nobody else will.</summary>
    public string? RemoveIfOrphaned { get; init; }
}

/// <summary>
/// Turns a checked config.json into a SetupPlan for this host: validates what depends on the host (rootfs,
/// rlimits, capabilities, id maps) and orders the child's steps as an OCI runtime must.
/// </summary>
internal static partial class ContainerPlanner
{
    private static readonly (string Name, uint Major, uint Minor)[] DefaultDevices =
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

    private const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <param name="seccompCache">Where compiled seccomp filters are kept between runs; null compiles every time.</param>
    public static SetupPlan Build(OciConfig c, LaunchOptions o, HostFacts host, SeccompFilterCache? seccompCache = null)
    {
        var proc = c.Process!;
        var linux = c.Linux ?? new OciLinux();
        var rootfs = ResolveRootfs(c, o.Bundle);
        var namespaces = (linux.Namespaces ?? []).ToDictionary(n => n.Type!, n => n.Path, StringComparer.Ordinal);
        bool New(string type) => namespaces.TryGetValue(type, out var path) && string.IsNullOrEmpty(path);
        bool Has(string type) => namespaces.ContainsKey(type);

        // Without a mount namespace the container shares the runtime's, as the runtime-spec says; it runs chrooted into
        // its root, as runc runs it. Nothing may be mounted then: a mount would be the host's and outlive the container.
        var mountNs = Has("mount");
        if (!mountNs)
        {
            CheckWithoutMountNamespace(c, linux);
        }
        var userNs = Has("user");
        if (!host.IsRoot && !userNs)
        {
            throw new SandboxException(ErrorCodes.UserNamespaceDenied,
                $"$.linux.namespaces: running as uid {host.Uid} needs a user namespace",
                "add {\"type\": \"user\"} with uid/gid mappings, or generate a config with `sandbox spec --rootless`");
        }
        // A hostname goes to the container's own uts namespace, new or joined by path (the runtime-spec says so, and
        // runc sets it there); without one it would be the host's. ChildProgram refuses a joined one that is the runtime's.
        if (c.Hostname is { Length: > 0 } && !Has("uts"))
        {
            throw new SandboxException(ErrorCodes.ConfigInvalid, "$.hostname: needs a uts namespace (new, or joined by path)",
                "add {\"type\": \"uts\"} to linux.namespaces, or remove hostname");
        }
        if (c.Domainname is { Length: > 0 } && !Has("uts"))
        {
            throw new SandboxException(ErrorCodes.ConfigInvalid, "$.domainname: needs a uts namespace (new, or joined by path)",
                "add {\"type\": \"uts\"} to linux.namespaces, or remove domainname");
        }

        if (New("user") && namespaces.Any(n => n.Key != "user" && !string.IsNullOrEmpty(n.Value)))
        {
            // Those namespaces belong to another user namespace, where a process in a new one has no privilege.
            throw new SandboxException(ErrorCodes.Unsupported,
                "$.linux.namespaces: joining a namespace by path while creating a new user namespace is not supported",
                "join the user namespace that owns them by path too, or create the others anew");
        }
        ulong cloneFlags = 0, unshareFlags = 0;
        var steps = new List<SetupStep>();
        // The child dies with the runtime until it is set up; `create`'s child stops that when it reports ready.
        steps.Add(new SetParentDeathSignalStep(SIGKILL));
        var joinsUser = userNs && !New("user");
        foreach (var (type, flag) in NamespaceFlags)
        {
            if (!namespaces.TryGetValue(type, out var path))
            {
                continue;
            }
            if (!string.IsNullOrEmpty(path))
            {
                if (type != "pid")
                {
                    // The user namespace is joined first, so the others are joined with its privileges.
                    var join = new JoinNamespaceStep(type, path, flag);
                    if (type == "user")
                    {
                        steps.Insert(1, join);
                    }
                    else
                    {
                        steps.Add(join);
                    }
                }
            }
            else if (type is "time" or "cgroup")
            {
                continue; // EnterTimeNamespaceStep and the cgroup namespace's UnshareStep, below
            }
            else if (joinsUser && type != "pid")
            {
                unshareFlags |= flag;
            }
            else
            {
                cloneFlags |= flag;
            }
        }
        if (unshareFlags != 0)
        {
            steps.Add(new UnshareStep(unshareFlags));
        }
        if (New("time"))
        {
            steps.Add(new EnterTimeNamespaceStep());
        }

        IReadOnlyList<IdMap>? uidMap = null, gidMap = null;
        if (New("user"))
        {
            uidMap = IdMaps(linux.UidMappings, host.Uid, host, "uidMappings");
            gidMap = IdMaps(linux.GidMappings, host.Gid, host, "gidMappings");
        }
        // The child waits until the parent has written id maps and is ready to supervise it. A parent without root
        // can write the /proc files of a dumpable child only (it inherits the runtime's non-dumpable state).
        if (!host.IsRoot)
        {
            steps.Add(new SetDumpableStep(true));
        }
        steps.Add(new WaitForParentStep());
        if (!host.IsRoot)
        {
            steps.Add(new SetDumpableStep(false));
        }
        if (userNs)
        {
            // Setup acts as the namespace's root, as runc's does: the runtime's own ids need not be mapped there (as
            // root, maps of container 0 to host 100000), and an unmapped id owns nothing it makes (devpts: EOVERFLOW).
            // In a joined namespace whose maps the planner cannot see, a root that is not mapped leaves the ids as they were.
            var rootMapped = joinsUser || (IsMapped(uidMap!, 0) && IsMapped(gidMap!, 0));
            if (rootMapped)
            {
                steps.Add(new BecomeRootStep(RootMayBeUnmapped: joinsUser));
                steps.Add(new SetParentDeathSignalStep(SIGKILL)); // a change of credentials clears it
            }
        }
        if (New("cgroup"))
        {
            // A cgroup namespace is rooted at the cgroup its creator is in: the child makes it once the parent has
            // put it in the container's cgroup (on v1 that happens after the clone), as runc does, so that it sees
            // its own cgroup as "/" (its creator is the child, in its own user namespace where there is one).
            steps.Add(new UnshareStep(CLONE_NEWCGROUP));
        }
        CheckUserMapped(proc.User, uidMap, gidMap);
        steps.Add(new SetSidStep());
        steps.Add(new UmaskStep(0)); // device nodes and mount points get exactly the modes asked for
        if (c.Hostname is { Length: > 0 } hn)
        {
            steps.Add(new HostnameStep(hn));
        }
        if (c.Domainname is { Length: > 0 } dn)
        {
            steps.Add(new DomainnameStep(dn));
        }
        if (New("network"))
        {
            steps.Add(new LoopbackUpStep());
        }

        var propagation = linux.RootfsPropagation;
        if (mountNs)
        {
            steps.Add(new RootPropagationStep(MS_REC | (propagation is "slave" or "rslave" or "shared" or "rshared" ? MS_SLAVE : MS_PRIVATE)));
            steps.Add(new BindRootfsStep(rootfs, c.Root!.Readonly));
            AddMounts(c, o, rootfs, userNs, host, steps);
        }

        var hooks = c.Hooks;
        var needsState = (hooks?.Prestart?.Count ?? 0) + (hooks?.CreateRuntime?.Count ?? 0)
            + (hooks?.CreateContainer?.Count ?? 0) + (hooks?.StartContainer?.Count ?? 0) > 0;
        if (needsState)
        {
            steps.Add(new SyncWithParentStep());
        }
        AddHooks(steps, "createContainer", hooks?.CreateContainer);

        steps.Add(!mountNs ? new ChrootStep(rootfs) : o.NoPivot ? new MoveRootStep(rootfs) : new PivotRootStep());
        if (propagation is not null)
        {
            steps.Add(new RootfsPropagationStep(MountOptions.PropagationFlags(propagation)));
        }
        foreach (var (key, value) in linux.Sysctl ?? [])
        {
            steps.Add(new WriteFileStep(Sysctls.ProcPath(key), value));
        }
        foreach (var path in linux.MaskedPaths ?? [])
        {
            steps.Add(new MaskPathStep(path));
        }
        foreach (var path in linux.ReadonlyPaths ?? [])
        {
            steps.Add(new ReadonlyPathStep(path));
        }
        if (c.Root!.Readonly)
        {
            steps.Add(new RemountRootReadonlyStep());
        }
        if (Console(proc, o.ConsoleSocket ?? (o.Detached ? null : ConsoleStep.OwnTerminal)) is { } console)
        {
            steps.Add(console);
        }
        // Nothing in the container may execute a file outside its root (the runtime's binary above all). Landlock
        // also forbids mounting, which a process that keeps CAP_SYS_ADMIN was given to do: it runs without the domain.
        var keepsSysAdmin = proc.Capabilities?.Effective?.Contains("CAP_SYS_ADMIN") ?? false;
        var mayMount = keepsSysAdmin || (proc.Capabilities?.Permitted?.Contains("CAP_SYS_ADMIN") ?? false);
        if (host.LandlockAbi > 0 && !mayMount)
        {
            steps.Add(new RestrictExecutionStep());
        }
        // Before any seccomp filter, which may allow personality(2) with some personas only (podman's does).
        if (linux.Personality is { Domain: { } domain })
        {
            steps.Add(new SetPersonalityStep(domain, LinuxNames.PersonalityNumber(domain)!.Value));
        }
        var (seccomp, notRecorded) = SeccompFilter(linux.Seccomp, o, seccompCache);
        // Installing a filter takes no_new_privs or CAP_SYS_ADMIN. Without noNewPrivileges, and unless the process
        // keeps CAP_SYS_ADMIN, the filter goes in while setup still holds it (before the capabilities are dropped),
        // as runc does, rather than setting no_new_privs the config did not ask for. The new session keyring is
        // joined before it then: the profiles deny keyctl.
        var seccompBeforeCredentials = seccomp is not null && !proc.NoNewPrivileges && !keepsSysAdmin;
        if (seccompBeforeCredentials)
        {
            steps.Add(new JoinSessionKeyringStep());
            steps.Add(seccomp!);
        }
        AddRlimits(proc, host, steps);
        AddCredentials(proc, host, userNs, !o.Detached, o.Detached, steps);
        steps.Add(new ChdirStep(proc.Cwd!));
        if (!seccompBeforeCredentials)
        {
            steps.Add(new JoinSessionKeyringStep());
        }
        if (proc.NoNewPrivileges)
        {
            steps.Add(new NoNewPrivilegesStep());
        }
        // A filter whose notifications go to listenerPath is installed before `create` returns, as runc does: the
        // create process hands the listener on. Otherwise it is the last step, so hooks and setup are not filtered.
        var seccompFirst = !seccompBeforeCredentials && o.Detached && seccomp is { Listener: true };
        if (seccompFirst)
        {
            steps.Add(seccomp!);
        }
        if (o.Detached)
        {
            steps.Add(new ReportReadyStep());
            steps.Add(new WaitForStartStep());
        }
        AddHooks(steps, "startContainer", hooks?.StartContainer);
        if (seccomp is not null && !seccompFirst && !seccompBeforeCredentials)
        {
            steps.Add(seccomp);
        }
        steps.Add(Exec(proc, o.Reaper));
        var childMountsFirst = host.IsRoot && (!userNs ? DeferWaitForParent(steps)
            : !joinsUser && MapsRootToRoot(uidMap!) && MapsRootToRoot(gidMap!) && AddWaitForCgroup(steps));

        return new SetupPlan
        {
            CloneFlags = cloneFlags,
            Steps = steps,
            UidMap = uidMap,
            GidMap = gidMap,
            DenySetgroups = New("user") && !host.IsRoot,
            JoinPidNamespace = namespaces.TryGetValue("pid", out var pidPath) && !string.IsNullOrEmpty(pidPath) ? pidPath : null,
            OomScoreAdj = proc.OomScoreAdj,
            PreserveFds = o.PreserveFds,
            SeccompNotRecorded = notRecorded,
            ChildMountsFirst = childMountsFirst,
        };
    }

    /// <summary>
    /// As root without a user namespace the parent writes no id maps: what the child waits for is only its cgroup (the
    /// parent makes it after the clone, on cgroup v1, and the child moves itself in: JoinCgroupStep) and the parent's
    /// readiness to supervise it. Both are needed
    /// from the cgroup namespace on (rooted where the child is), and before anything of the container's own runs
    /// (hooks, the program) or the setup could use what the cgroup limits; the mounts need neither.
    /// So the child does those meanwhile, on the other CPU, instead of waiting first (measured: the parent's part after
    /// the clone, the cgroup's directories and limits and the wake-up, about 1 ms of a start), pivot_root and the masked and
    /// read-only paths included (<see cref="MayPrecedeCgroup"/>). Not where a mount step depends on
    /// the cgroup (a cgroup mount, tmpcopyup's copy charged to it, id-mapped layers the parent prepares) or a namespace
    /// is joined (joined pid namespaces fork in the parent's sight first).
    /// </summary>
    private static bool DeferWaitForParent(List<SetupStep> steps)
    {
        var wait = steps.FindIndex(s => s is WaitForParentStep);
        if (wait < 0 || NeedsCgroupFirst(steps))
        {
            return false;
        }
        var moved = steps[wait];
        steps.RemoveAt(wait);
        WaitForCgroupLate(steps, wait, moved);
        return true;
    }

    /// <summary>
    /// A mount that depends on the cgroup (a cgroup mount, tmpcopyup's copy charged to it, id-mapped layers the parent
    /// prepares), or a namespace joined (joined pid namespaces fork in the parent's sight first): the child is in its
    /// cgroup before it mounts.
    /// </summary>
    private static bool NeedsCgroupFirst(List<SetupStep> steps) =>
        steps.Exists(s => s is JoinNamespaceStep or EnterPidNamespaceStep or CgroupMountStep or AttachIdmappedStep or SetDumpableStep
            || s is MountStep { CopyUp: true } or MountStep { Idmapped: not null });

    /// <summary>
    /// As root with a new user namespace the child waits first for its id maps, and then, as without one, for its
    /// cgroup just before the cgroup namespace (<see cref="MayPrecedeCgroup"/>): the parent makes the cgroup on cgroup
    /// v1 after the go-ahead, while the child mounts. Only where the namespace's root is the host's (container 0 is
    /// host 0): the child opens the cgroup's tasks files itself (JoinCgroupStep), which an id mapped elsewhere may not.
    /// </summary>
    private static bool AddWaitForCgroup(List<SetupStep> steps)
    {
        var wait = steps.FindIndex(s => s is WaitForParentStep);
        if (wait < 0 || NeedsCgroupFirst(steps))
        {
            return false;
        }
        WaitForCgroupLate(steps, wait + 1, new WaitForParentStep());
        return true;
    }

    /// <summary>
    /// Puts <paramref name="wait"/>, with the cgroup namespace's unshare right after it, before the first step from
    /// <paramref name="from"/> on that may not precede the cgroup (<see cref="MayPrecedeCgroup"/>; becoming the user
    /// namespace's root and the death signal armed anew after it may).
    /// </summary>
    private static void WaitForCgroupLate(List<SetupStep> steps, int from, SetupStep wait)
    {
        var moved = new List<SetupStep> { wait };
        var cgroupNs = steps.FindIndex(from, s => s is UnshareStep { Flags: CLONE_NEWCGROUP });
        if (cgroupNs >= 0)
        {
            moved.Add(steps[cgroupNs]);
            steps.RemoveAt(cgroupNs);
        }
        var before = steps.FindIndex(from, s => !MayPrecedeCgroup(s) && s is not BecomeRootStep and not SetParentDeathSignalStep);
        steps.InsertRange(before < 0 ? steps.Count - 1 : before, moved);
    }

    private static bool MapsRootToRoot(IReadOnlyList<IdMap> map) => map.Any(m => m.ContainerId == 0 && m.HostId == 0 && m.Size > 0);

    /// <summary>
    /// The steps the child may take before it is in its cgroup: setting up its own namespaces and mounts, pivot_root
    /// and the masked and read-only paths after it, all the runtime's own work with the runtime's privileges. Not hooks,
    /// a sync or a terminal (the parent or something outside takes part), and nothing from the limits and credentials
    /// on (the program's own setting). A step not listed waits: a new kind of step is not moved by accident. The
    /// masked and read-only paths after pivot_root are a dozen or more mounts, done while the parent makes the cgroup.
    /// </summary>
    private static bool MayPrecedeCgroup(SetupStep s) => s is SetSidStep or UmaskStep or HostnameStep or DomainnameStep or LoopbackUpStep
        or RootPropagationStep or BindRootfsStep or MountStep or MakeDeviceStep or BindDeviceStep or SymlinkStep or PivotRootStep or MoveRootStep
        or ChrootStep or RootfsPropagationStep or WriteFileStep or MaskPathStep or ReadonlyPathStep or RemountRootReadonlyStep;

    /// <summary>
    /// Compiles linux.seccomp. `run` with a report records denials through a listener the supervisor answers, where
    /// the kernel has user notification; a profile with NOTIFY rules gets a listener for its listenerPath instead.
    /// </summary>
    private static (SeccompStep? Step, string? NotRecorded) SeccompFilter(OciSeccomp? profile, LaunchOptions o, SeccompFilterCache? cache)
    {
        if (profile is null)
        {
            return (null, null);
        }
        var wantRecord = o.ReportPath is not null && !o.Detached;
        var canNotify = wantRecord && SeccompHost.UserNotificationAvailable();
        const string JsonPath = "$.linux.seccomp";
        var compiled = cache is null ? SeccompCompiler.Compile(profile, JsonPath, canNotify) : cache.Compile(profile, JsonPath, canNotify);
        // Names this machine's tables lack and architectures sandbox does not compile for are left out silently, as
        // libseccomp does: podman's default profile alone names 86 (`sandbox seccomp compile PROFILE` lists them).
        var notRecorded = !wantRecord || compiled.Profile is not null ? null
            : compiled.UsesNotify ? "the profile's notifications go to its listenerPath"
            : "this kernel has no seccomp user notification (SECCOMP_RET_USER_NOTIF, Linux 5.0)";
        return (new SeccompStep(compiled), notRecorded);
    }

    private static readonly (string Type, ulong Flag)[] NamespaceFlags =
    [
        ("user", CLONE_NEWUSER), ("pid", CLONE_NEWPID), ("network", CLONE_NEWNET), ("ipc", CLONE_NEWIPC),
        ("uts", CLONE_NEWUTS), ("mount", CLONE_NEWNS), ("cgroup", CLONE_NEWCGROUP), ("time", CLONE_NEWTIME),
    ];

    private static string ResolveRootfs(OciConfig c, string bundle)
    {
        var path = Path.GetFullPath(c.Root!.Path!, bundle);
        if (!Directory.Exists(path))
        {
            throw new SandboxException(ErrorCodes.RootfsMissing, $"$.root.path: {path} is not a directory",
                "create the root filesystem there, or point root.path at it (relative paths are relative to the bundle)");
        }
        return path.TrimEnd('/');
    }

    private static IReadOnlyList<IdMap> IdMaps(List<OciIdMapping>? given, uint own, HostFacts host, string name)
    {
        if (given is null || given.Count == 0)
        {
            return [new IdMap(0, own, 1)];
        }
        var maps = ToIdMaps(given);
        if (!host.IsRoot && (maps.Count != 1 || maps[0].HostId != own || maps[0].Size != 1))
        {
            throw new SandboxException(ErrorCodes.IdMapping,
                $"$.linux.{name}: without root only your own id ({own}) can be mapped, with size 1",
                $"map exactly one id: {{\"containerID\": 0, \"hostID\": {own}, \"size\": 1}}");
        }
        return maps;
    }

    /// <summary>
    /// What a container without a mount namespace cannot have: everything that mounts. runc refuses maskedPaths and
    /// readonlyPaths there ("unable to restrict sys entries without a private MNT namespace") but makes the other
    /// mounts in the host's namespace, where they stay after the container is gone; sandbox never changes the host's mounts.
    /// </summary>
    private static void CheckWithoutMountNamespace(OciConfig c, OciLinux linux)
    {
        const string Hint = "add {\"type\": \"mount\"} to linux.namespaces: without a mount namespace the container shares the host's, "
            + "where every mount would stay after it (sandbox never changes the host's mounts)";
        void Refuse(string path, string what) =>
            throw new SandboxException(ErrorCodes.ConfigInvalid, $"{path}: {what} without a mount namespace", Hint);
        if (c.Mounts is { Count: > 0 })
        {
            Refuse("$.mounts", "mounts");
        }
        if (linux.MaskedPaths is { Count: > 0 })
        {
            Refuse("$.linux.maskedPaths", "masked paths");
        }
        if (linux.ReadonlyPaths is { Count: > 0 })
        {
            Refuse("$.linux.readonlyPaths", "read-only paths");
        }
        if (c.Root!.Readonly)
        {
            Refuse("$.root.readonly", "a read-only root (a remount)");
        }
        if (linux.RootfsPropagation is not null)
        {
            Refuse("$.linux.rootfsPropagation", "root propagation");
        }
        if (linux.Devices is { Count: > 0 })
        {
            Refuse("$.linux.devices", "devices (made in a fresh /dev, or bound from the host)");
        }
        if (linux.Sysctl is { Count: > 0 })
        {
            Refuse("$.linux.sysctl", "sysctls (written through the container's own /proc)");
        }
        // A chroot holds only a process that cannot chroot again (chroot into a subdirectory, then walk up out of it,
        // even with the capability in its own user namespace) nor mount: in the host's mount namespace, that would reach
        // every host file. pivot_root in a mount namespace of its own leaves nothing above the root to walk to.
        var caps = c.Process!.Capabilities;
        foreach (var (set, names) in new[] { ("bounding", caps?.Bounding), ("effective", caps?.Effective), ("permitted", caps?.Permitted),
                     ("inheritable", caps?.Inheritable), ("ambient", caps?.Ambient) })
        {
            if (names?.FirstOrDefault(n => n is "CAP_SYS_CHROOT" or "CAP_SYS_ADMIN") is { } cap)
            {
                throw new SandboxException(ErrorCodes.ConfigInvalid,
                    $"$.process.capabilities.{set}: {cap} without a mount namespace, where the container is only chrooted into its root",
                    $"remove {cap}, or add {{\"type\": \"mount\"}} to linux.namespaces");
            }
        }
    }

    private static bool IsMapped(IReadOnlyList<IdMap> m, uint id) => m.Any(x => id >= x.ContainerId && id - x.ContainerId < x.Size);

    private static void CheckUserMapped(OciUser? user, IReadOnlyList<IdMap>? uidMap, IReadOnlyList<IdMap>? gidMap)
    {
        if (user is null || uidMap is null || gidMap is null)
        {
            return;
        }
        if (!IsMapped(uidMap, user.Uid))
        {
            throw new SandboxException(ErrorCodes.IdMapping, $"$.process.user.uid: {user.Uid} is not mapped in linux.uidMappings",
                "map that uid, or run as a uid the mappings cover");
        }
        foreach (var gid in (user.AdditionalGids ?? []).Prepend(user.Gid))
        {
            if (!IsMapped(gidMap, gid))
            {
                throw new SandboxException(ErrorCodes.IdMapping, $"$.process.user: gid {gid} is not mapped in linux.gidMappings",
                    "map that gid, or use a gid the mappings cover");
            }
        }
    }

    private static void AddMounts(OciConfig c, LaunchOptions o, string rootfs, bool userNs, HostFacts host, List<SetupStep> steps)
    {
        var mounts = c.Mounts ?? [];
        var destinations = new HashSet<string>(StringComparer.Ordinal);
        var devIsFresh = false;
        var devIsBound = false;
        for (var i = 0; i < mounts.Count; i++)
        {
            var m = mounts[i];
            var path = $"$.mounts[{i}]";
            var rel = RootfsPaths.Relative(m.Destination!);
            RootfsPaths.CheckDestination(rootfs, m.Destination!, path + ".destination");
            var opts = MountOptions.Parse(m.Options, m.Type ?? "", i);
            var idmap = Idmap(m, opts, path, host);
            destinations.Add(rel);
            if (opts.Bind)
            {
                var source = Path.GetFullPath(m.Source!, o.Bundle);
                var isDir = Directory.Exists(source);
                if (!isDir && !File.Exists(source))
                {
                    throw new SandboxException(ErrorCodes.ConfigInvalid, $"{path}.source: {source} does not exist",
                        "bind-mount an existing file or directory (relative sources are relative to the bundle)");
                }
                devIsBound |= rel == "dev";
                steps.Add(new MountStep(m.Destination!, rel, source, null, MS_BIND | (opts.Recursive ? MS_REC : 0), null,
                    isDir ? MountCreate.Directory : MountCreate.File, opts.Flags, opts.Propagation,
                    idmap is null ? null : new IdmappedTree(source, opts.Recursive, opts.IdmapRecursive, idmap.Value.Uid, idmap.Value.Gid)));
            }
            else if (m.Type == "cgroup")
            {
                steps.Add(new CgroupMountStep(m.Destination!, rel, opts.Flags & ~MS_RDONLY, (opts.Flags & MS_RDONLY) != 0, opts.Propagation));
            }
            else
            {
                foreach (var lower in idmap is null ? [] : OverlayLowerDirs(opts.Data, path))
                {
                    steps.Add(new AttachIdmappedStep(new IdmappedTree(lower, false, false, idmap!.Value.Uid, idmap.Value.Gid)));
                }
                devIsFresh |= rel == "dev";
                // A read-only tmpfs gets its copy first, then goes read-only by remount.
                var readonlyLater = opts.CopyUp ? opts.Flags & MS_RDONLY : 0;
                steps.Add(new MountStep(m.Destination!, rel, m.Source ?? m.Type, m.Type, opts.Flags & ~readonlyLater, opts.Data,
                    MountCreate.Directory, readonlyLater, opts.Propagation, CopyUp: opts.CopyUp));
            }
        }
        if (devIsFresh)
        {
            if (!destinations.Contains("dev/pts"))
            {
                var data = userNs ? "newinstance,ptmxmode=0666,mode=0620" : "newinstance,ptmxmode=0666,mode=0620,gid=5";
                steps.Add(new MountStep("/dev/pts", "dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, data, MountCreate.Directory, 0, 0));
            }
            if (!destinations.Contains("dev/shm"))
            {
                steps.Add(new MountStep("/dev/shm", "dev/shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "mode=1777,size=65536k", MountCreate.Directory, 0, 0));
            }
        }
        if (!devIsBound)
        {
            AddDevices(c.Linux?.Devices, userNs, steps);
        }
    }

    /// <summary>
    /// A mount's uidMappings/gidMappings (runtime-spec 1.1): for a bind mount, the source is id-mapped (on-disk
    /// containerID appears as hostID); for an overlay, each lower layer is (an overlay mount itself cannot be).
    /// </summary>
    private static (IReadOnlyList<IdMap> Uid, IReadOnlyList<IdMap> Gid)? Idmap(OciMount m, MountOptions opts, string path, HostFacts host)
    {
        if (m.UidMappings is not { Count: > 0 } && m.GidMappings is not { Count: > 0 })
        {
            if (opts.Idmap)
            {
                throw new SandboxException(ErrorCodes.ConfigInvalid, $"{path}.options: \"idmap\" without uidMappings and gidMappings",
                    "give the mount uidMappings and gidMappings, or drop the option");
            }
            return null;
        }
        if (!opts.Bind && m.Type != "overlay")
        {
            throw new SandboxException(ErrorCodes.Unsupported, $"{path}: an id-mapped mount of type \"{m.Type}\"",
                "id-map bind mounts, or the lower layers of an overlay mount");
        }
        if (!host.IsRoot)
        {
            throw new SandboxException(ErrorCodes.IdMapping, $"{path}: id-mapped mounts need root (CAP_SYS_ADMIN where the source filesystem is mounted)",
                "run as root, or drop uidMappings and gidMappings from the mount");
        }
        return (ToIdMaps(m.UidMappings!), ToIdMaps(m.GidMappings!));
    }

    private static List<IdMap> ToIdMaps(List<OciIdMapping> given) => [.. given.Select(m => new IdMap(m.ContainerId, m.HostId, m.Size))];

    /// <summary>The lowerdir= paths of an overlay's options; escaped separators are refused rather than guessed at.</summary>
    private static IReadOnlyList<string> OverlayLowerDirs(string? data, string path)
    {
        var lower = (data ?? "").Split(',').FirstOrDefault(o => o.StartsWith("lowerdir=", StringComparison.Ordinal))?["lowerdir=".Length..];
        if (string.IsNullOrEmpty(lower) || lower.Contains('\\', StringComparison.Ordinal))
        {
            throw new SandboxException(ErrorCodes.ConfigInvalid, $"{path}.options: an id-mapped overlay needs lowerdir=DIR[:DIR...] (without escapes)",
                "name the lower directories with absolute paths");
        }
        var dirs = lower.Split(':');
        if (dirs.Any(d => !Path.IsPathRooted(d)))
        {
            throw new SandboxException(ErrorCodes.ConfigInvalid, $"{path}.options: the lower directories of an id-mapped overlay must be absolute paths",
                "name the lower directories with absolute paths");
        }
        return dirs;
    }

    private static void AddDevices(List<OciDevice>? configured, bool userNs, List<SetupStep> steps)
    {
        var devices = DefaultDevices
            .Select(d => new OciDevice { Type = "c", Path = "/dev/" + d.Name, Major = d.Major, Minor = d.Minor, FileMode = 438 })
            .Where(d => configured?.All(x => x.Path != d.Path) ?? true)
            .Concat(configured ?? []);
        foreach (var d in devices)
        {
            var rel = RootfsPaths.Relative(d.Path!);
            if (userNs)
            {
                // mknod is refused in a user namespace: bind the host's node instead.
                steps.Add(new BindDeviceStep(d.Path!, d.Path!, rel));
                continue;
            }
            var typeBits = d.Type switch { "b" => S_IFBLK, "p" => S_IFIFO, _ => S_IFCHR };
            var slash = rel.LastIndexOf('/');
            steps.Add(new MakeDeviceStep(d.Path!, slash < 0 ? "." : rel[..slash], rel[(slash + 1)..],
                typeBits | ((d.FileMode ?? 438) & 0xfff), MakeDev((ulong)d.Major, (ulong)d.Minor), d.Uid ?? 0, d.Gid ?? 0));
        }
        foreach (var (name, target) in new[]
                 {
                     ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"),
                 })
        {
            steps.Add(new SymlinkStep("/dev/" + name, target, "dev", name));
        }
    }

    /// <summary>glibc's makedev: major and minor spread over a 64-bit dev_t.</summary>
    public static ulong MakeDev(ulong major, ulong minor) =>
        ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);

    private static void AddHooks(List<SetupStep> steps, string kind, List<OciHook>? hooks)
    {
        for (var i = 0; i < (hooks?.Count ?? 0); i++)
        {
            steps.Add(ToStep(kind, i, hooks![i]));
        }
    }

    public static RunHookStep ToStep(string kind, int index, OciHook h) =>
        new(kind, index, h.Path!, [.. h.Args ?? []], [.. h.Env ?? []], h.Timeout);

    private static void AddRlimits(OciProcess proc, HostFacts host, List<SetupStep> steps)
    {
        for (var i = 0; i < (proc.Rlimits?.Count ?? 0); i++)
        {
            var r = proc.Rlimits![i];
            var resource = LinuxNames.RlimitNumber(r.Type!);
            var hostHard = host.HardRlimit(resource);
            if (r.Hard > hostHard && !host.Has(24))
            {
                throw new SandboxException(ErrorCodes.RlimitImpossible,
                    $"$.process.rlimits[{i}]: {r.Type} hard limit {r.Hard} is above this host's hard limit {hostHard}, and raising it needs CAP_SYS_RESOURCE, which sandbox does not have",
                    $"lower the hard limit to at most {hostHard}");
            }
            steps.Add(new SetRlimitStep(r.Type!, resource, r.Soft, r.Hard));
        }
    }

    private static void AddCredentials(OciProcess proc, HostFacts host, bool userNs, bool killWithParent, bool warnOnStderr, List<SetupStep> steps)
    {
        var caps = proc.Capabilities ?? new OciCapabilities();
        ulong Mask(List<string>? names, string set)
        {
            ulong mask = 0;
            foreach (var n in names ?? [])
            {
                var bit = LinuxNames.CapabilityNumber(n);
                if (bit > host.LastCap)
                {
                    throw new SandboxException(ErrorCodes.CapabilityUnknown,
                        $"$.process.capabilities.{set}: {n} is not known to this kernel (last capability: {LinuxNames.Capabilities[host.LastCap]})",
                        $"remove {n}");
                }
                if ((host.BoundingCaps & (1UL << bit)) == 0)
                {
                    throw new SandboxException(ErrorCodes.CapabilityUnknown,
                        $"$.process.capabilities.{set}: {n} is not in this host's bounding set, so no process here can have it",
                        $"remove {n}");
                }
                mask |= 1UL << bit;
            }
            return mask;
        }
        var bounding = Mask(caps.Bounding, "bounding");
        var effective = Mask(caps.Effective, "effective");
        var permitted = Mask(caps.Permitted, "permitted");
        var inheritable = Mask(caps.Inheritable, "inheritable");
        var ambient = Mask(caps.Ambient, "ambient");
        if ((effective & ~permitted) != 0)
        {
            throw new SandboxException(ErrorCodes.ConfigInvalid, "$.process.capabilities.effective: holds capabilities not in permitted",
                "add them to permitted too");
        }
        if ((ambient & ~(permitted & inheritable)) is var unraisable && unraisable != 0)
        {
            // The kernel raises an ambient capability only when it is permitted and inheritable; `runc spec` writes
            // ambient ones that are not inheritable. Run it as runc does: without them, said once (on stderr only
            // where it is not the container's: `create`).
            ambient &= permitted & inheritable;
            if (warnOnStderr)
            {
                var names = Enumerable.Range(0, 64).Where(b => (unraisable & (1UL << b)) != 0).Select(b => b < LinuxNames.Capabilities.Length ? LinuxNames.Capabilities[b] : $"capability {b}");
                RuntimeLog.Warnings.WriteLine($"sandbox: warning: $.process.capabilities.ambient: {string.Join(", ", names)} not both permitted and inheritable, so the kernel cannot raise them; left out");
            }
        }
        var user = proc.User ?? new OciUser();
        uint[]? groups = [.. user.AdditionalGids ?? []];
        if (userNs && !host.IsRoot)
        {
            if (groups.Length > 0)
            {
                throw new SandboxException(ErrorCodes.IdMapping, "$.process.user.additionalGids: supplementary groups need root",
                    "remove additionalGids when running rootless");
            }
            groups = null; // setgroups is denied in a rootless user namespace; there is nothing to clear.
        }
        steps.Add(new DropBoundingSetStep(bounding, host.LastCap));
        steps.Add(new SetUserStep(user.Uid, user.Gid, groups));
        if (killWithParent)
        {
            steps.Add(new SetParentDeathSignalStep(SIGKILL)); // a change of credentials clears it
        }
        steps.Add(new SetCapabilitiesStep(effective, permitted, inheritable, ambient));
        steps.Add(new UmaskStep(user.Umask ?? 0x12));
    }

    /// <summary>
    /// The terminal step for `terminal: true`, which takes --console-socket (as runc: the pty master has to go somewhere;
    /// `run` in the foreground keeps it itself, <see cref="ConsoleStep.OwnTerminal"/>, and joins it to its own stdio);
    /// null for a process without one, which must not be given a socket.
    /// </summary>
    private static ConsoleStep? Console(OciProcess proc, string? socket)
    {
        if (!proc.Terminal)
        {
            return socket is null or ConsoleStep.OwnTerminal ? null : throw new SandboxException(ErrorCodes.Usage,
                "--console-socket is for a process with a terminal, and process.terminal is false", "set \"terminal\": true, or drop --console-socket");
        }
        if (socket is null)
        {
            throw new SandboxException(ErrorCodes.Usage, "$.process.terminal: a terminal needs --console-socket, where its pty master is sent",
                "pass --console-socket PATH (a unix socket something listens on, such as podman's conmon or runc's recvtty), or set \"terminal\": false");
        }
        var user = proc.User ?? new OciUser();
        return new ConsoleStep(socket, user.Uid, user.Gid, (ushort)(proc.ConsoleSize?.Height ?? 0), (ushort)(proc.ConsoleSize?.Width ?? 0));
    }

    private static ExecStep Exec(OciProcess proc, bool reaper)
    {
        var env = proc.Env ?? [];
        var program = proc.Args![0];
        string[] candidates;
        if (program.Contains('/', StringComparison.Ordinal))
        {
            candidates = [program];
        }
        else
        {
            var path = env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? DefaultPath;
            candidates = [.. path.Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => d.TrimEnd('/') + "/" + program)];
        }
        return new ExecStep(program, candidates, [.. proc.Args], [.. env], reaper);
    }
}
