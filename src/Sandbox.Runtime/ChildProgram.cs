using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>
/// A SetupPlan laid out in unmanaged memory for the post-clone path, plus the descriptors it needs
/// (namespace files to join) and the pipes between parent and child.
/// </summary>
internal sealed unsafe class ChildProgram : IDisposable
{
    public const int StateCapacity = 64 * 1024;

    private readonly NativeArena _arena = new();
    private readonly List<int> _parentOnlyFds = [];
    private readonly Dictionary<string, int> _idmapNamespaces = new(StringComparer.Ordinal);

    public ChildContext* Context { get; }

    public IReadOnlyList<SetupStep> Steps { get; }

    /// <summary>
    /// The tasks files of a cgroup made after the clone, sent after the go-ahead (JoinCgroupFromParentStep). Empty when
    /// it could not be made (usage figures only, nothing delegated) or is not one the child can join itself: the
    /// go-ahead then tells the child to skip its join.
    /// </summary>
    public IReadOnlyList<string>? CgroupTasksFiles { get; set; }

    /// <summary>The supervisor's end of the socket pair the child sends its seccomp listener over; -1 without one.</summary>
    public int ListenerSocket { get; private set; } = -1;

    /// <summary>Whether the child waits on <see cref="ListenerSocket"/> for a go-ahead once it has sent the listener.</summary>
    public bool ListenerGoAhead { get; private set; }

    /// <summary>The runtime's end of the socket pair a terminal's master comes over (ConsoleStep.OwnTerminal); -1 without one.</summary>
    private int _consoleSocket = -1;

    /// <summary>Hands the terminal socket over (the caller closes it); -1 without one.</summary>
    public int TakeConsoleSocket()
    {
        var fd = _consoleSocket;
        _consoleSocket = -1;
        return fd;
    }

    private ChildProgram(IReadOnlyList<SetupStep> steps)
    {
        Steps = steps;
        Context = _arena.Alloc<ChildContext>();
        Context->Sys = SyscallNumbers.ForCurrentArchitecture();
        Context->RootFd = -1;
        Context->StartFd = -1;
        Context->SyncFd = -1;
        Context->ReportFd = -1;
        Context->ListenerFd = -1;
    }

    public static ChildProgram Create(SetupPlan plan, int startFd = -1)
    {
        var program = new ChildProgram(plan.Steps);
        try
        {
            program.Fill(plan, startFd);
            return program;
        }
        catch
        {
            program.Dispose();
            throw;
        }
    }

    private void Fill(SetupPlan plan, int startFd)
    {
        var ctx = Context;
        ctx->PreserveFds = plan.PreserveFds;
        ctx->StartFd = startFd;
        ctx->StepCount = plan.Steps.Count;
        ctx->Steps = _arena.Alloc<ChildStep>(plan.Steps.Count);
        if (plan.Steps.Any(s => s is SyncWithParentStep or RunHookStep))
        {
            ctx->StateBuffer = _arena.AllocBytes(StateCapacity);
            ctx->StateCapacity = StateCapacity;
        }
        for (var i = 0; i < plan.Steps.Count; i++)
        {
            var n = ctx->Steps + i;
            n->Description = _arena.Str(plan.Steps[i].Describe());
            Encode(plan.Steps[i], n);
        }
        RefuseHostNamespaces(plan);
    }

    /// <summary>
    /// A namespace joined by path may be the runtime's own (or init's: /proc/self/ns/mnt, /proc/1/ns/uts), which is
    /// the host's. Setting up a root in the host's mount namespace would change its propagation, leave mounts behind and
    /// pivot the root of every process there; a hostname, a domainname or a sysctl would rename the host or change its
    /// network or IPC settings. Compared by the descriptors opened to join, so what is checked is what is joined.
    /// </summary>
    private void RefuseHostNamespaces(SetupPlan plan)
    {
        for (var i = 0; i < plan.Steps.Count; i++)
        {
            if (plan.Steps[i] is not JoinNamespaceStep { Type: "mount" or "uts" or "network" or "ipc" } join)
            {
                continue;
            }
            var what = join.Type == "mount" ? "$.linux.namespaces" : plan.Steps.Select(s => WrittenIn(s, join.Type)).FirstOrDefault(w => w is not null);
            if (what is null)
            {
                continue;
            }
            var file = join.Type switch { "mount" => "mnt", "network" => "net", _ => join.Type };
            var joined = new FileInfo($"/proc/self/fd/{Context->Steps[i].I1}").LinkTarget;
            if (joined is null || !new[] { "self", "1" }.Any(pid => LinkTargetOrNull($"/proc/{pid}/ns/{file}") == joined))
            {
                continue;
            }
            if (join.Type == "mount")
            {
                throw new SandboxException(ErrorCodes.ConfigInvalid,
                    $"$.linux.namespaces: the mount namespace joined by path ({join.Path}) is the host's: setting up the root there would pivot the host's root and leave mounts behind",
                    "leave the mount namespace out to share the host's (the container is then chrooted into its root), or create a new one");
            }
            throw new SandboxException(ErrorCodes.ConfigInvalid,
                $"{what}: the {join.Type} namespace joined by path ({join.Path}) is the host's, so this would change the host's",
                $"join the container's own {join.Type} namespace, create a new one, or remove {what}");
        }
    }

    private static string? LinkTargetOrNull(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The config field that writes into the container's namespace of this type, if the step does.</summary>
    private static string? WrittenIn(SetupStep step, string type) => (step, type) switch
    {
        (HostnameStep, "uts") => "$.hostname",
        (DomainnameStep, "uts") => "$.domainname",
        (WriteFileStep w, _) when w.Path.StartsWith("/proc/sys/", StringComparison.Ordinal) && SysctlNamespace(w.Path) == type => $"$.linux.sysctl ({w.Path})",
        _ => null,
    };

    /// <summary>The namespace a /proc/sys file belongs to, among the keys a config may set (SBX1016).</summary>
    private static string SysctlNamespace(string path) =>
        path.StartsWith("/proc/sys/net/", StringComparison.Ordinal) ? "network"
        : path is "/proc/sys/kernel/hostname" or "/proc/sys/kernel/domainname" ? "uts"
        : "ipc";

    /// <summary>Fills one native step from its managed form. Host descriptors (namespace files) open here.</summary>
    private void Encode(SetupStep step, ChildStep* n)
    {
        switch (step)
        {
            case SetParentDeathSignalStep s:
                n->Op = ChildOp.SetParentDeathSignal;
                n->I1 = s.Signal;
                break;
            case WaitForParentStep:
                n->Op = ChildOp.WaitForParent;
                break;
            case JoinCgroupStep s:
                n->Op = ChildOp.JoinCgroup;
                EncodeJoinCgroup(s, n);
                break;
            case JoinCgroupFromParentStep:
                n->Op = ChildOp.JoinCgroupFromParent;
                n->I1 = OpenHostRoot();
                break;
            case JoinNamespaceStep s:
                n->Op = ChildOp.SetNs;
                n->I1 = OpenForParent(s.Path, $"{s.Type} namespace");
                n->I2 = (int)s.Flag;
                break;
            case EnterPidNamespaceStep s:
                n->Op = ChildOp.EnterPidNamespace;
                n->I1 = OpenForParent(s.Path, "pid namespace");
                break;
            case ConsoleStep s:
                n->Op = ChildOp.SetupConsole;
                n->I1 = ConnectConsoleSocket(s.SocketPath);
                n->L1 = s.Uid;
                n->L2 = s.Gid;
                n->I2 = s.Rows;
                n->I3 = s.Cols;
                break;
            case UnshareStep s:
                n->Op = ChildOp.Unshare;
                n->I1 = (int)s.Flags;
                break;
            case EnterTimeNamespaceStep:
                n->Op = ChildOp.EnterTimeNamespace;
                break;
            case SetSidStep:
                n->Op = ChildOp.SetSid;
                break;
            case HostnameStep s:
                n->Op = ChildOp.SetHostname;
                n->S1 = _arena.Str(s.Name);
                n->I1 = System.Text.Encoding.UTF8.GetByteCount(s.Name);
                break;
            case DomainnameStep s:
                n->Op = ChildOp.SetDomainname;
                n->S1 = _arena.Str(s.Name);
                n->I1 = System.Text.Encoding.UTF8.GetByteCount(s.Name);
                break;
            case LoopbackUpStep:
                n->Op = ChildOp.LoopbackUp;
                break;
            case RootPropagationStep s:
                n->Op = ChildOp.SetRootPropagation;
                n->L1 = s.Flags;
                break;
            case BindRootfsStep s:
                n->Op = ChildOp.BindRootfs;
                n->S1 = _arena.Str(s.Rootfs);
                n->I1 = s.ReadonlyBelow ? 1 : 0;
                break;
            case SetDumpableStep s:
                n->Op = ChildOp.SetDumpable;
                n->I1 = s.Dumpable ? 1 : 0;
                break;
            case RestrictExecutionStep:
                n->Op = ChildOp.RestrictExecution;
                break;
            case JoinSessionKeyringStep:
                n->Op = ChildOp.JoinSessionKeyring;
                break;
            case MountStep s:
                n->Op = ChildOp.Mount;
                n->S1 = _arena.Str(s.Source);
                n->S2 = _arena.Str(s.Target);
                n->S3 = _arena.Str(s.FsType);
                n->S4 = _arena.Str(s.Data);
                n->L1 = s.Flags;
                n->L2 = s.RemountFlags;
                n->L3 = s.Propagation;
                n->I1 = (int)s.Create;
                n->I2 = s.Idmapped is null ? -1 : OpenIdmapped(s.Idmapped);
                n->I3 = s.CopyUp ? 1 : 0;
                break;
            case AttachIdmappedStep s:
                n->Op = ChildOp.AttachIdmapped;
                n->S1 = _arena.Str(s.Tree.HostPath);
                n->I1 = OpenIdmapped(s.Tree);
                break;
            case MakeDeviceStep s:
                n->Op = ChildOp.MakeDevice;
                n->S1 = _arena.Str(s.ParentDir);
                n->S2 = _arena.Str(s.Name);
                n->I1 = (int)s.Mode;
                n->I2 = (int)s.Uid;
                n->I3 = (int)s.Gid;
                n->L1 = s.Device;
                break;
            case BindDeviceStep s:
                n->Op = ChildOp.BindDevice;
                n->S1 = _arena.Str(s.HostPath);
                n->S2 = _arena.Str(s.Target);
                break;
            case SymlinkStep s:
                n->Op = ChildOp.Symlink;
                n->S1 = _arena.Str(s.LinkTarget);
                n->S2 = _arena.Str(s.ParentDir);
                n->S3 = _arena.Str(s.Name);
                break;
            case PivotRootStep:
                n->Op = ChildOp.PivotRoot;
                break;
            case ChrootStep s:
                n->Op = ChildOp.Chroot;
                n->S1 = _arena.Str(s.Rootfs);
                break;
            case BecomeRootStep s:
                n->Op = ChildOp.BecomeRoot;
                n->I1 = s.RootMayBeUnmapped ? 1 : 0;
                break;
            case MoveRootStep s:
                n->Op = ChildOp.MoveRoot;
                n->S1 = _arena.Str(s.Rootfs);
                break;
            case RootfsPropagationStep s:
                n->Op = ChildOp.SetRootfsPropagationAfterPivot;
                n->L1 = s.Flags;
                break;
            case MaskPathStep s:
                n->Op = ChildOp.MaskPath;
                n->S1 = _arena.Str(s.Path);
                break;
            case ReadonlyPathStep s:
                n->Op = ChildOp.ReadonlyPath;
                n->S1 = _arena.Str(s.Path);
                break;
            case WriteFileStep s:
                n->Op = ChildOp.WriteFile;
                n->S1 = _arena.Str(s.Path);
                n->S2 = _arena.Str(s.Content);
                n->I1 = System.Text.Encoding.UTF8.GetByteCount(s.Content);
                break;
            case RemountRootReadonlyStep:
                n->Op = ChildOp.RemountRootReadonly;
                break;
            case SyncWithParentStep:
                n->Op = ChildOp.SyncWithParent;
                break;
            case RunHookStep s:
                n->Op = ChildOp.RunHook;
                EncodeHook(s, n);
                break;
            case SetRlimitStep s:
                n->Op = ChildOp.SetRlimit;
                n->I1 = s.Resource;
                n->L1 = s.Soft;
                n->L2 = s.Hard;
                break;
            case SetPersonalityStep s:
                n->Op = ChildOp.SetPersonality;
                n->L1 = s.Persona;
                break;
            case ChdirStep s:
                n->Op = ChildOp.Chdir;
                n->S1 = _arena.Str(s.Path);
                break;
            case DropBoundingSetStep s:
                n->Op = ChildOp.DropBoundingSet;
                n->L1 = s.Keep;
                n->I1 = s.LastCapability;
                break;
            case SetUserStep s:
                n->Op = ChildOp.SetUser;
                n->I1 = (int)s.Uid;
                n->I2 = (int)s.Gid;
                n->I3 = s.Groups?.Length ?? -1;
                if (s.Groups is { Length: > 0 } groups)
                {
                    var g = _arena.Alloc<uint>(groups.Length);
                    for (var i = 0; i < groups.Length; i++)
                    {
                        g[i] = groups[i];
                    }
                    n->V1 = (byte**)g;
                }
                break;
            case SetCapabilitiesStep s:
                n->Op = ChildOp.SetCapabilities;
                n->L1 = s.Effective;
                n->L2 = s.Permitted;
                n->L3 = s.Inheritable;
                n->L4 = s.Ambient;
                break;
            case NoNewPrivilegesStep:
                n->Op = ChildOp.NoNewPrivileges;
                break;
            case UmaskStep s:
                n->Op = ChildOp.Umask;
                n->I1 = (int)s.Mask;
                break;
            case SeccompStep s:
                {
                    n->Op = ChildOp.Seccomp;
                    if (s.Listener)
                    {
                        PrepareListenerTransfer(n);
                        // Only a listener that leaves the runtime (the profile's listenerPath agent) holds the container
                        // until it is there; the runtime's own supervisor answers whatever was held up meanwhile.
                        ListenerGoAhead = s.Filter.UsesNotify;
                        n->I2 = ListenerGoAhead ? 1 : 0;
                    }
                    n->S1 = (byte*)Fprog(s.Filter.Program);
                    n->S4 = s.Filter.Profile is null ? null : (byte*)Fprog(s.Filter.Profile);
                    n->I1 = (int)s.Filter.Flags;
                    break;
                }
            case ReportReadyStep:
                n->Op = ChildOp.ReportReady;
                break;
            case WaitForStartStep:
                n->Op = ChildOp.WaitForStart;
                break;
            case ExecStep s:
                n->Op = ChildOp.Exec;
                n->V1 = _arena.StrArray(s.Candidates);
                n->V2 = _arena.StrArray(s.Args);
                n->V3 = _arena.StrArray(s.Env);
                n->I1 = s.Reaper ? 1 : 0;
                if (s.Reaper)
                {
                    SetWipeRanges();
                }
                break;
            case ExitStep s:
                n->Op = ChildOp.Exit;
                n->I1 = s.Code;
                break;
            default:
                throw new InvalidOperationException($"no native form for {step.GetType().Name}");
        }
    }

    /// <summary>
    /// The reaper is a fork of the runtime that stays PID 1 for the container's life: it must not show the host's
    /// command line or environment in /proc/1/cmdline and /proc/1/environ, so it overwrites where they lie.
    /// Fields 48-51 of /proc/self/stat (arg_start, arg_end, env_start, env_end) say where that is.
    /// </summary>
    private void SetWipeRanges()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Field 3 (state) is fields[0] here, so field N is fields[N - 3].
        Context->ArgStart = nuint.Parse(fields[48 - 3], System.Globalization.CultureInfo.InvariantCulture);
        Context->ArgEnd = nuint.Parse(fields[49 - 3], System.Globalization.CultureInfo.InvariantCulture);
        Context->EnvStart = nuint.Parse(fields[50 - 3], System.Globalization.CultureInfo.InvariantCulture);
        Context->EnvEnd = nuint.Parse(fields[51 - 3], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Lays out the descriptors the child keeps (the pipes to the parent, the start fifo, the listener socket, the
    /// namespace files it joins); it closes every other one before its first step, so nothing the runtime holds (a
    /// cgroup directory for CLONE_INTO_CGROUP, the parent's pipe ends, the runtime's own files) reaches the container.
    /// </summary>
    public void KeepDescriptors(int syncFd, int reportFd)
    {
        var keep = new List<int> { syncFd, reportFd, Context->StartFd, Context->ListenerFd };
        for (var i = 0; i < Context->StepCount; i++)
        {
            var step = Context->Steps[i];
            if (step.Op is ChildOp.SetNs or ChildOp.AttachIdmapped or ChildOp.EnterPidNamespace or ChildOp.SetupConsole)
            {
                keep.Add(step.I1);
            }
            else if (step.Op == ChildOp.Mount)
            {
                keep.Add(step.I2);
            }
            else if (step.Op == ChildOp.JoinCgroupFromParent)
            {
                keep.Add(step.I1);
            }
            else if (step.Op == ChildOp.JoinCgroup)
            {
                for (var j = 0; j < step.I1; j++)
                {
                    keep.Add(((int*)step.S1)[j]);
                }
            }
        }
        // Sorted and without duplicates or -1, by hand (LINQ's first use costs a NativeAOT run about 0.06 ms).
        keep.Sort();
        var native = _arena.Alloc<int>(Math.Max(1, keep.Count));
        var count = 0;
        foreach (var fd in keep)
        {
            if (fd >= 0 && (count == 0 || native[count - 1] != fd))
            {
                native[count++] = fd;
            }
        }
        Context->KeepFds = native;
        Context->KeepFdCount = count;
    }

    /// <summary>A hook step on its own, for hooks the parent runs in the runtime namespace.</summary>
    public static ChildStep* EncodeHook(NativeArena arena, RunHookStep s)
    {
        var n = arena.Alloc<ChildStep>();
        n->Op = ChildOp.RunHook;
        n->S1 = arena.Str(s.Path);
        n->V1 = arena.StrArray(s.Args.Length > 0 ? s.Args : [s.Path]);
        n->V2 = arena.StrArray(s.Env);
        n->I1 = s.TimeoutSeconds is int t ? t * 1000 : -1;
        n->Description = arena.Str(s.Describe());
        return n;
    }

    private void EncodeHook(RunHookStep s, ChildStep* n)
    {
        var encoded = EncodeHook(_arena, s);
        *n = *encoded;
    }

    private int OpenForParent(string path, string what)
    {
        var p = _arena.Str(path);
        var fd = LibC.open(p, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new SandboxException(ErrorCodes.SetupFailed, $"open {what} {path}: {Libc.Describe(LibC.errno)}",
                "check linux.namespaces[].path: it must name a namespace file such as /proc/PID/ns/net");
        }
        _parentOnlyFds.Add(fd);
        return fd;
    }

    /// <summary>S1: the tasks files' descriptors (int*), opened here for writing; I1: how many.</summary>
    private void EncodeJoinCgroup(JoinCgroupStep s, ChildStep* n)
    {
        var fds = _arena.Alloc<int>(s.Files.Count);
        n->I1 = s.Files.Count;
        n->S1 = (byte*)fds;
        for (var i = 0; i < s.Files.Count; i++)
        {
            var fd = LibC.open(_arena.Str(s.Files[i].Path), LibC.O_WRONLY | LibC.O_CLOEXEC, 0);
            if (fd < 0)
            {
                throw new SandboxException(ErrorCodes.CgroupFailed, $"open {s.Files[i].Path}: {Libc.Describe(LibC.errno)}",
                    "check that the cgroup v1 hierarchies under /sys/fs/cgroup are mounted and writable by root");
            }
            _parentOnlyFds.Add(fd);
            fds[i] = fd;
        }
    }

    /// <summary>The runtime's root (O_PATH), below which the child opens the tasks files it is sent (JoinCgroupFromParentStep).</summary>
    private int OpenHostRoot()
    {
        var fd = LibC.open(_arena.Str("/"), LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new SandboxException(ErrorCodes.CgroupFailed, $"open /: {Libc.Describe(LibC.errno)}", "report this as a bug");
        }
        _parentOnlyFds.Add(fd);
        return fd;
    }

    /// <summary>The console socket, connected by the runtime (its path is the caller's, on the host); the child sends on it.</summary>
    private int ConnectConsoleSocket(string path)
    {
        if (path == ConsoleStep.OwnTerminal)
        {
            var pair = stackalloc int[2];
            if (LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, pair) != 0)
            {
                throw new SandboxException(ErrorCodes.SetupFailed, $"socketpair for the terminal: {Libc.Describe(LibC.errno)}", "raise the open-file limit");
            }
            _consoleSocket = pair[0];
            _parentOnlyFds.Add(pair[1]);
            return pair[1];
        }
        var fd = UnixSocket.Connect(path, (what, errno) => new SandboxException(ErrorCodes.SetupFailed,
            $"--console-socket {path}: {what}: {Libc.Describe(errno)}",
            "pass the path of a unix socket something listens on for the terminal (podman's conmon, runc's recvtty)"));
        _parentOnlyFds.Add(fd);
        return fd;
    }

    /// <summary>
    /// A detached, id-mapped copy of a host tree (open_tree, then mount_setattr with MOUNT_ATTR_IDMAP), for the child to
    /// attach in its own mount namespace. One user namespace serves every tree with the same maps.
    /// </summary>
    private int OpenIdmapped(IdmappedTree tree)
    {
        var key = string.Join(';', tree.UidMap) + "|" + string.Join(';', tree.GidMap);
        if (!_idmapNamespaces.TryGetValue(key, out var userns))
        {
            userns = IdmapNamespace.Create(tree.UidMap, tree.GidMap);
            _parentOnlyFds.Add(userns);
            _idmapNamespaces[key] = userns;
        }
        var sys = Context->Sys;
        var fd = (int)Libc.Syscall(sys.OpenTree, Libc.AT_FDCWD, (nint)_arena.Str(tree.HostPath),
            Libc.OPEN_TREE_CLONE | Libc.OPEN_TREE_CLOEXEC | (tree.Recursive ? Libc.AT_RECURSIVE : 0), 0, 0);
        if (fd < 0)
        {
            var err = Libc.Errno;
            throw new SandboxException(ErrorCodes.SetupFailed, $"copy {tree.HostPath} for an id-mapped mount (open_tree): {Libc.Describe(err)}",
                err == Libc.ENOSYS ? "id-mapped mounts need Linux 5.12 or later" : "check that the path exists and that sandbox runs as root");
        }
        _parentOnlyFds.Add(fd);
        MountAttr attr = default;
        attr.AttrSet = Libc.MOUNT_ATTR_IDMAP;
        attr.UsernsFd = (ulong)userns;
        if (Libc.Syscall(sys.MountSetattr, fd, (nint)_arena.Str(""), Libc.AT_EMPTY_PATH | (tree.MapRecursive ? Libc.AT_RECURSIVE : 0), (nint)(&attr), sizeof(MountAttr)) != 0)
        {
            var err = Libc.Errno;
            throw new SandboxException(ErrorCodes.SetupFailed, $"id-map {tree.HostPath} (mount_setattr): {Libc.Describe(err)}",
                err == Libc.EINVAL
                    ? "the filesystem holding it cannot be id-mapped (ext4, xfs, btrfs, tmpfs and overlay layers can, on Linux 5.12 and later)"
                    : "id-mapped mounts need root (CAP_SYS_ADMIN where the filesystem was mounted)");
        }
        return fd;
    }

    /// <summary>struct sock_fprog and its instructions, in native memory.</summary>
    private SockFprog* Fprog(Sandbox.Seccomp.BpfInstruction[] program)
    {
        var prog = _arena.Alloc<SockFprog>();
        var filter = _arena.Alloc<Sandbox.Seccomp.BpfInstruction>(program.Length);
        for (var i = 0; i < program.Length; i++)
        {
            filter[i] = program[i];
        }
        prog->Length = (ushort)program.Length;
        prog->Filter = filter;
        return prog;
    }

    /// <summary>
    /// A socket pair for the listener, and the message the child sends on it: one byte of data and one SCM_RIGHTS
    /// descriptor, which the child writes into the control buffer (S3) once the kernel has given it the listener.
    /// </summary>
    private void PrepareListenerTransfer(ChildStep* n)
    {
        var pair = stackalloc int[2];
        if (LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_SEQPACKET | LibC.SOCK_CLOEXEC, 0, pair) != 0)
        {
            throw new SandboxException(ErrorCodes.SetupFailed, $"socketpair for the seccomp listener: {Libc.Describe(LibC.errno)}", "raise the open-file limit");
        }
        ListenerSocket = pair[0];
        Context->ListenerFd = pair[1];
        _parentOnlyFds.Add(pair[1]);
        var msg = _arena.Alloc<MsgHdr>();
        var iov = _arena.Alloc<IoVec>();
        var cmsg = _arena.Alloc<CmsgFd>();
        iov->Base = _arena.AllocBytes(1);
        iov->Length = 1;
        cmsg->Length = CmsgFd.LengthOfOne;
        cmsg->Level = Libc.SOL_SOCKET;
        cmsg->Type = Libc.SCM_RIGHTS;
        cmsg->Fd = -1;
        msg->Iov = iov;
        msg->IovLength = 1;
        msg->Control = cmsg;
        msg->ControlLength = CmsgFd.Size;
        n->S2 = (byte*)msg;
        n->S3 = (byte*)&cmsg->Fd;
    }

    /// <summary>Closes the descriptors only the child needed (namespace files), once it has been cloned.</summary>
    public void CloseChildDescriptors()
    {
        foreach (var fd in _parentOnlyFds)
        {
            LibC.close(fd);
        }
        _parentOnlyFds.Clear();
    }

    public void Dispose()
    {
        CloseChildDescriptors();
        if (ListenerSocket >= 0)
        {
            LibC.close(ListenerSocket);
            ListenerSocket = -1;
        }
        if (_consoleSocket >= 0)
        {
            Libc.Close(_consoleSocket);
            _consoleSocket = -1;
        }
        _arena.Dispose();
    }
}
