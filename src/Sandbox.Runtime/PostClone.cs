// ============================================================================================================
// THE POST-CLONE PATH. Everything in this file runs in a child of clone()/fork, in a copy of a .NET process
// whose other threads did not survive the clone. C's rules apply here (docs/design.md, "the one rule"):
//   - no allocation: no new objects, strings, arrays, boxing, lambdas, string interpolation, LINQ;
//   - no exceptions: no checked arithmetic, no array indexing (raw pointers only), no casts that can throw;
//   - no lazily bound code: only DllImports with [SuppressGCTransition] into libc, which the `sandbox`
//     executable links directly (DirectPInvoke), and no static fields of types with static constructors;
//   - only data prepared by the parent before the clone (ChildContext, ChildStep) and stack buffers.
//     Managed objects are not merely off limits: the heap's allocation block is not even mapped here
//     (ContainerLauncher.KeepHeapFromChild), so a read of one is a SIGSEGV.
// tests/Sandbox.Runtime.Tests/PostCloneRulesTests.cs checks this file for the constructs above.
// ============================================================================================================
using System.Runtime.CompilerServices;
using Sandbox.Runtime.Interop;
using static Sandbox.Runtime.Interop.Libc;

namespace Sandbox.Runtime;

internal static unsafe class PostClone
{
    public const int SetupFailedExit = 125;

    /// <summary>Runs the steps and never returns: it ends in execve, _exit, or as a reaper's _exit.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run(ChildContext* ctx)
    {
        var closed = CloseInheritedDescriptors(ctx);
        if (closed != 0)
        {
            Fail(ctx, CloseDescriptorsStep, closed, 0);
        }
        for (var i = 0; i < ctx->StepCount; i++)
        {
            var step = ctx->Steps + i;
            if (step->Op != ChildOp.MakeDevice && step->Op != ChildOp.Symlink)
            {
                ForgetDeviceDir(ctx);
            }
            var err = RunStep(ctx, step);
            if (err != 0)
            {
                Fail(ctx, i, err, 0);
            }
        }
        Exit(0);
    }

    /// <summary>The step index a report gives when closing the inherited descriptors failed (before any step).</summary>
    public const int CloseDescriptorsStep = -1;

    /// <summary>ChildReport.Detail of a chdir that ended outside the container's root.</summary>
    public const int DetailOutsideRoot = 1;

    /// <summary>
    /// Closes every descriptor the child does not need (ctx->KeepFds, stdio and the preserved ones): whatever the
    /// runtime held open, such as a cgroup directory, must not reach the container, where a cwd of
    /// /proc/self/fd/N would lead back into the host's filesystem.
    /// </summary>
    private static int CloseInheritedDescriptors(ChildContext* ctx)
    {
        var next = 3 + ctx->PreserveFds;
        for (var i = 0; i < ctx->KeepFdCount; i++)
        {
            var fd = ctx->KeepFds[i];
            if (fd < next)
            {
                continue;
            }
            if (fd > next && Syscall(ctx->Sys.CloseRange, next, fd - 1, 0, 0, 0) != 0)
            {
                return Errno;
            }
            next = fd + 1;
        }
        return Syscall(ctx->Sys.CloseRange, next, unchecked((nint)0xFFFFFFFFu), 0, 0, 0) == 0 ? 0 : Errno;
    }

    private static int RunStep(ChildContext* ctx, ChildStep* s)
    {
        switch (s->Op)
        {
            case ChildOp.SetParentDeathSignal:
                if (Prctl(PR_SET_PDEATHSIG, (nuint)s->I1, 0, 0, 0) != 0)
                {
                    return Errno;
                }
                if (ParentGone(ctx))
                {
                    // It died before the signal was armed (it may have sent the go-ahead first): nobody would kill us.
                    Exit(SetupFailedExit);
                }
                return 0;
            case ChildOp.WaitForParent:
                return WaitForParent(ctx);
            case ChildOp.JoinCgroup:
                return JoinCgroup(s);
            case ChildOp.JoinCgroupFromParent:
                return JoinCgroupFromParent(ctx, s);
            case ChildOp.SetNs:
                return Setns(s->I1, s->I2) == 0 ? 0 : Errno;
            case ChildOp.EnterPidNamespace:
                return EnterPidNamespace(ctx, s);
            case ChildOp.SetupConsole:
                return SetupConsole(s);
            case ChildOp.Unshare:
                return Unshare(s->I1) == 0 ? 0 : Errno;
            case ChildOp.EnterTimeNamespace:
                return EnterTimeNamespace();
            case ChildOp.SetSid:
                return Setsid() >= 0 ? 0 : Errno;
            case ChildOp.SetHostname:
                return Sethostname(s->S1, (nuint)s->I1) == 0 ? 0 : Errno;
            case ChildOp.SetDomainname:
                return Setdomainname(s->S1, (nuint)s->I1) == 0 ? 0 : Errno;
            case ChildOp.LoopbackUp:
                return LoopbackUp();
            case ChildOp.SetRootPropagation:
                return Mount(null, Lit("/\0"u8), null, s->L1, null) == 0 ? 0 : Errno;
            case ChildOp.BindRootfs:
                return BindRootfs(ctx, s);
            case ChildOp.Mount:
                return DoMount(ctx, s);
            case ChildOp.AttachIdmapped:
                // Over its own host path, in this mount namespace only: the overlay mounted next resolves its
                // lowerdir to this copy. It goes with the host's tree when the root is pivoted.
                return Syscall(ctx->Sys.MoveMount, s->I1, (nint)Lit("\0"u8), AT_FDCWD, (nint)s->S1, MOVE_MOUNT_F_EMPTY_PATH) == 0 ? 0 : Errno;
            case ChildOp.MakeDevice:
                return MakeDevice(ctx, s);
            case ChildOp.BindDevice:
                return BindIntoRoot(ctx, s->S1, s->S2, CreateFile);
            case ChildOp.Symlink:
                return MakeSymlink(ctx, s);
            case ChildOp.PivotRoot:
                return PivotRoot(ctx);
            case ChildOp.MoveRoot:
                return MoveRoot(ctx, s);
            case ChildOp.Chroot:
                return ChrootIntoRootfs(ctx, s);
            case ChildOp.BecomeRoot:
                return BecomeRoot(ctx, s);
            case ChildOp.SetRootfsPropagationAfterPivot:
                return Mount(null, Lit("/\0"u8), null, s->L1, null) == 0 ? 0 : Errno;
            case ChildOp.MaskPath:
                return MaskPath(ctx, s);
            case ChildOp.ReadonlyPath:
                return ReadonlyPath(ctx, s);
            case ChildOp.WriteFile:
                return WriteFile(s);
            case ChildOp.RemountRootReadonly:
                return Remount(Lit("/\0"u8), MS_RDONLY);
            case ChildOp.SyncWithParent:
                return SyncWithParent(ctx, (int)(s - ctx->Steps));
            case ChildOp.RunHook:
                return RunHook(ctx, s);
            case ChildOp.SetRlimit:
                {
                    Rlimit r;
                    r.Cur = s->L1;
                    r.Max = s->L2;
                    return Prlimit(0, s->I1, &r, null) == 0 ? 0 : Errno;
                }
            case ChildOp.SetPersonality:
                return Personality((nuint)s->L1) == -1 ? Errno : 0;
            case ChildOp.Chdir:
                return ChdirInsideRoot(ctx, s);
            case ChildOp.SetDumpable:
                return Prctl(PR_SET_DUMPABLE, (nuint)s->I1, 0, 0, 0) == 0 ? 0 : Errno;
            case ChildOp.RestrictExecution:
                return RestrictExecution(ctx);
            case ChildOp.JoinSessionKeyring:
                return JoinSessionKeyring(ctx);
            case ChildOp.DropBoundingSet:
                return DropBoundingSet(s);
            case ChildOp.SetUser:
                return SetUser(ctx, s);
            case ChildOp.SetCapabilities:
                return SetCapabilities(ctx, s);
            case ChildOp.NoNewPrivileges:
                return Prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : Errno;
            case ChildOp.Umask:
                Umask((uint)s->I1);
                return 0;
            case ChildOp.Seccomp:
                return InstallSeccomp(ctx, s);
            case ChildOp.ReportReady:
                {
                    // A program that cannot be executed fails `create`, with the reason, rather than `start`
                    // (whose caller sees 0). As runc does: a PATH lookup, here access(X_OK) on each candidate.
                    if (FindExec(ctx) is var exec && exec != null && Executable(exec->V1) is var missing && missing != 0)
                    {
                        Fail(ctx, (int)(exec - ctx->Steps), missing, 0);
                    }
                    // `sandbox create` exits once it reads this: from here on the container outlives it.
                    Prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
                    ChildReport r = default;
                    r.Kind = ChildReport.KindReady;
                    if (!WriteAll(ctx->ReportFd, &r, sizeof(ChildReport)))
                    {
                        Exit(SetupFailedExit); // `sandbox create` is gone: nobody would ever start this container
                    }
                    Close(ctx->ReportFd);
                    ctx->ReportFd = -1;
                    return 0;
                }
            case ChildOp.WaitForStart:
                return WaitForStart(ctx);
            case ChildOp.Exec:
                return s->I1 != 0 ? ExecUnderReaper(ctx, s) : Exec(ctx, s);
            case ChildOp.Exit:
                Exit(s->I1);
                return 0;
            default:
                return EINVAL;
        }
    }

    // ---- failure reporting -------------------------------------------------------------------------------

    private static void Fail(ChildContext* ctx, int step, int errno, int detail)
    {
        if (ctx->ReportFd >= 0)
        {
            ChildReport r;
            r.Kind = ChildReport.KindError;
            r.Step = step;
            r.Errno = errno;
            r.Detail = detail;
            WriteAll(ctx->ReportFd, &r, sizeof(ChildReport));
        }
        else
        {
            // After "ready" nobody reads the report pipe (create mode): say it on stderr instead.
            var line = stackalloc byte[512];
            var n = Append(line, 0, 512, "sandbox: "u8);
            n = step >= 0 ? AppendZ(line, n, 512, (ctx->Steps + step)->Description) : Append(line, n, 512, "close descriptors"u8);
            n = Append(line, n, 512, ": errno "u8);
            n = AppendInt(line, n, 512, errno);
            n = Append(line, n, 512, "\n"u8);
            Write(2, line, n);
        }
        Exit(SetupFailedExit);
    }

    /// <summary>
    /// Whether the runtime is gone: it holds the only read end of the report pipe, so once it has died a poll of the
    /// write end reports POLLERR. (getppid cannot tell: in a new pid namespace it is 0 either way.)
    /// </summary>
    private static bool ParentGone(ChildContext* ctx)
    {
        if (ctx->ReportFd < 0)
        {
            return false;
        }
        PollFd p;
        p.Fd = ctx->ReportFd;
        p.Events = POLLOUT;
        p.Revents = 0;
        return Poll(&p, 1, 0) > 0 && (p.Revents & POLLERR) != 0;
    }

    /// <summary>
    /// setns into the pid namespace, then a fork with CLONE_PARENT: the new process, in that namespace and the runtime's
    /// own child, goes on with the steps; this one reports its pid (as the runtime sees it) and exits.
    /// </summary>
    private static int EnterPidNamespace(ChildContext* ctx, ChildStep* s)
    {
        if (Setns(s->I1, (int)CLONE_NEWPID) != 0)
        {
            return Errno;
        }
        Close(s->I1);
        var pid = Syscall(ctx->Sys.Clone, unchecked((nint)(CLONE_PARENT | (ulong)SIGCHLD)), 0, 0, 0, 0);
        if (pid < 0)
        {
            return Errno;
        }
        if (pid == 0)
        {
            return 0;
        }
        ChildReport r = default;
        r.Kind = ChildReport.KindForked;
        r.Step = (int)(s - ctx->Steps);
        r.Detail = (int)pid;
        Exit(WriteAll(ctx->ReportFd, &r, sizeof(ChildReport)) ? 0 : SetupFailedExit);
        return 0;
    }

    /// <summary>
    /// A pty from the container's /dev/ptmx: the master goes over the console socket (I1) and is closed here; the slave,
    /// opened from the master (TIOCGPTPEER, no path to race on) and owned by the process's user (L1, L2), becomes the
    /// controlling terminal (the process leads a new session already) and stdin, stdout and stderr. I2, I3: rows, columns.
    /// </summary>
    private static int SetupConsole(ChildStep* s)
    {
        var master = Open(Lit("/dev/ptmx\0"u8), O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
        if (master < 0)
        {
            return Errno;
        }
        var err = SendPtyMaster(s, master);
        Close(master);
        Close(s->I1);
        if (err < 0)
        {
            return -err;
        }
        var slave = err;
        if (Fchownat(slave, Lit("\0"u8), (uint)s->L1, (uint)s->L2, AT_EMPTY_PATH) != 0 || Ioctl(slave, TIOCSCTTY, null) != 0)
        {
            return Errno;
        }
        for (var fd = 0; fd < 3; fd++)
        {
            if (Dup3(slave, fd, 0) < 0)
            {
                return Errno;
            }
        }
        Close(slave);
        return 0;
    }

    /// <summary>Unlocks the pty, opens its slave, sizes it and sends the master; the slave's descriptor, or -errno.</summary>
    private static int SendPtyMaster(ChildStep* s, int master)
    {
        int unlock = 0;
        uint number;
        if (Ioctl(master, TIOCSPTLCK, &unlock) != 0 || Ioctl(master, TIOCGPTN, &number) != 0)
        {
            return -Errno;
        }
        var slave = Ioctl(master, TIOCGPTPEER, (void*)(nint)(O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (slave < 3)
        {
            return slave < 0 ? -Errno : -EBADF; // stdio is always open here: a slave below 3 would be replaced by dup3
        }
        WinSize size = default;
        size.Rows = (ushort)s->I2;
        size.Cols = (ushort)s->I3;
        if ((size.Rows != 0 || size.Cols != 0) && Ioctl(slave, TIOCSWINSZ, &size) != 0)
        {
            return -Errno;
        }
        // The data is the pty's name, "/dev/pts/N", as runc sends it.
        var name = stackalloc byte[24];
        var prefix = Lit("/dev/pts/\0"u8);
        var len = 0;
        while (prefix[len] != 0)
        {
            name[len] = prefix[len];
            len++;
        }
        var digits = stackalloc byte[10];
        var count = 0;
        do
        {
            digits[count++] = (byte)('0' + (number % 10));
            number /= 10;
        }
        while (number != 0);
        while (count > 0)
        {
            name[len++] = digits[--count];
        }
        IoVec iov;
        iov.Base = name;
        iov.Length = (nuint)len;
        CmsgFd cmsg;
        cmsg.Length = CmsgFd.LengthOfOne;
        cmsg.Level = SOL_SOCKET;
        cmsg.Type = SCM_RIGHTS;
        cmsg.Fd = master;
        MsgHdr msg = default;
        msg.Iov = &iov;
        msg.IovLength = 1;
        msg.Control = &cmsg;
        msg.ControlLength = CmsgFd.Size;
        return Sendmsg(s->I1, &msg, MSG_NOSIGNAL) < 0 ? -Errno : slave;
    }

    private static int WaitForParent(ChildContext* ctx)
    {
        byte b;
        nint n;
        do
        {
            n = Read(ctx->SyncFd, &b, 1);
        }
        while (n < 0 && Errno == EINTR);
        if (n != 1)
        {
            // The parent died or gave up: nobody is left to report to.
            Exit(SetupFailedExit);
        }
        ctx->Go = b;
        return 0;
    }

    /// <summary>
    /// Writes 0 (this thread, the child's only one) to each tasks file (JoinCgroupStep): no global lock, no RCU grace
    /// period. Every descriptor is closed, joined or not.
    /// </summary>
    private static int JoinCgroup(ChildStep* s)
    {
        var fds = (int*)s->S1;
        var err = 0;
        for (var i = 0; i < s->I1; i++)
        {
            byte zero = (byte)'0';
            if (err == 0 && Write(fds[i], &zero, 1) != 1)
            {
                err = Errno;
            }
            Close(fds[i]);
        }
        return err;
    }

    /// <summary>
    /// JoinCgroupFromParentStep: the tasks files' paths follow the go-ahead on the sync pipe; each is opened below the
    /// runtime's root (s->I1), without following a symlink at its end, and written 0 to. The root is closed either way.
    /// </summary>
    private static int JoinCgroupFromParent(ChildContext* ctx, ChildStep* s)
    {
        var err = 0;
        if (ctx->Go != ChildContext.GoWithoutCgroup)
        {
            var paths = stackalloc byte[JoinCgroupFromParentStep.MaxPaths];
            int len;
            if (!ReadAll(ctx->SyncFd, &len, sizeof(int)) || len <= 0 || len > JoinCgroupFromParentStep.MaxPaths || !ReadAll(ctx->SyncFd, paths, len)
                || paths[len - 1] != 0)
            {
                err = EINVAL;
            }
            var start = 0;
            for (var i = 0; err == 0 && i < len; i++)
            {
                if (paths[i] != 0)
                {
                    continue;
                }
                var tasks = Openat(s->I1, paths + start, O_WRONLY | O_CLOEXEC | ctx->Sys.ONoFollow, 0);
                byte zero = (byte)'0';
                if (tasks < 0 || Write(tasks, &zero, 1) != 1)
                {
                    err = Errno;
                }
                if (tasks >= 0)
                {
                    Close(tasks);
                }
                start = i + 1;
            }
        }
        Close(s->I1);
        return err;
    }

    private static int SyncWithParent(ChildContext* ctx, int step)
    {
        ChildReport r = default;
        r.Kind = ChildReport.KindSync;
        r.Step = step;
        if (!WriteAll(ctx->ReportFd, &r, sizeof(ChildReport)))
        {
            return Errno;
        }
        // The parent answers with the length of the state JSON, then the JSON, which hooks read on stdin.
        int len;
        if (!ReadAll(ctx->SyncFd, &len, sizeof(int)) || len < 0 || len > ctx->StateCapacity)
        {
            Exit(SetupFailedExit);
        }
        if (len > 0 && !ReadAll(ctx->SyncFd, ctx->StateBuffer, len))
        {
            Exit(SetupFailedExit);
        }
        ctx->StateLength = len;
        return 0;
    }

    private static int WaitForStart(ChildContext* ctx)
    {
        byte b;
        nint n;
        do
        {
            n = Read(ctx->StartFd, &b, 1);
        }
        while (n < 0 && Errno == EINTR);
        Close(ctx->StartFd);
        return n == 1 ? 0 : EPIPE;
    }

    private static int EnterTimeNamespace()
    {
        if (Unshare((int)CLONE_NEWTIME) != 0)
        {
            return Errno;
        }
        var fd = Open(Lit("/proc/self/ns/time_for_children\0"u8), O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            return Errno;
        }
        var err = Setns(fd, (int)CLONE_NEWTIME) == 0 ? 0 : Errno;
        Close(fd);
        return err;
    }

    // ---- paths inside the rootfs -------------------------------------------------------------------------

    private const int CreateNone = 0, CreateDir = 1, CreateFile = 2;

    /// <summary>
    /// Opens a rootfs-relative path with O_PATH, resolving symlinks as if the rootfs were "/" (RESOLVE_IN_ROOT),
    /// so nothing resolves outside it; creates the missing components when asked.
    /// </summary>
    private static int OpenInRoot(ChildContext* ctx, byte* rel, int create)
    {
        var fd = Openat2(ctx, ctx->RootFd, rel, O_PATH | O_CLOEXEC);
        if (fd >= 0 || create == CreateNone || Errno != ENOENT)
        {
            return fd;
        }
        var len = StrLen(rel);
        if (len >= 4096)
        {
            return -1;
        }
        var buf = stackalloc byte[4097];
        for (var i = 0; i <= len; i++)
        {
            buf[i] = rel[i];
        }
        // Create each component in turn: "a", then "a/b", then "a/b/c".
        for (var end = 0; end <= len; end++)
        {
            if (end != len && buf[end] != (byte)'/')
            {
                continue;
            }
            if (end == 0)
            {
                continue;
            }
            var saved = buf[end];
            buf[end] = 0;
            var last = end == len;
            var err = CreateComponent(ctx, buf, end, last && create == CreateFile);
            buf[end] = saved;
            if (err != 0)
            {
                *ErrnoLocation() = err;
                return -1;
            }
        }
        return Openat2(ctx, ctx->RootFd, rel, O_PATH | O_CLOEXEC);
    }

    private static int CreateComponent(ChildContext* ctx, byte* path, int len, bool asFile)
    {
        var slash = len - 1;
        while (slash >= 0 && path[slash] != (byte)'/')
        {
            slash--;
        }
        int dirfd;
        byte* name;
        if (slash < 0)
        {
            dirfd = ctx->RootFd;
            name = path;
        }
        else
        {
            path[slash] = 0;
            dirfd = Openat2(ctx, ctx->RootFd, path, O_PATH | ctx->Sys.ODirectory | O_CLOEXEC);
            path[slash] = (byte)'/';
            if (dirfd < 0)
            {
                return Errno;
            }
            name = path + slash + 1;
        }
        int rc;
        if (asFile)
        {
            rc = Openat(dirfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | ctx->Sys.ONoFollow, 0x1a4);
            if (rc >= 0)
            {
                Close(rc);
                rc = 0;
            }
        }
        else
        {
            rc = Mkdirat(dirfd, name, 0x1ed);
        }
        var err = rc < 0 ? Errno : 0;
        if (dirfd != ctx->RootFd)
        {
            Close(dirfd);
        }
        return err == EEXIST ? 0 : err;
    }

    private static int Openat2(ChildContext* ctx, int dirfd, byte* path, int flags)
    {
        OpenHow how;
        how.Flags = (ulong)flags;
        how.Mode = 0;
        how.Resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        return (int)Syscall(ctx->Sys.Openat2, dirfd, (nint)path, (nint)(&how), sizeof(OpenHow), 0);
    }

    /// <summary>Writes "/proc/self/fd/N" into buf: the path through which the kernel reaches an O_PATH fd.</summary>
    private static byte* FdPath(byte* buf, int fd)
    {
        var n = Append(buf, 0, 64, "/proc/self/fd/"u8);
        n = AppendInt(buf, n, 64, fd);
        buf[n] = 0;
        return buf;
    }

    // ---- mounts ------------------------------------------------------------------------------------------

    private static int BindRootfs(ChildContext* ctx, ChildStep* s)
    {
        if (Mount(s->S1, s->S1, null, MS_BIND | MS_REC, null) != 0)
        {
            return Errno;
        }
        var fd = Open(s->S1, O_PATH | ctx->Sys.ODirectory | O_CLOEXEC, 0);
        if (fd < 0)
        {
            return Errno;
        }
        ctx->RootFd = fd;
        if (s->I1 == 0)
        {
            return 0;
        }
        // A read-only root: every mount that lay below the rootfs on the host becomes read-only now; the root itself
        // stays writable (if it was) until its own remount at the end, so mount points can still be made in it.
        var buf = stackalloc byte[64];
        StatFs st;
        var wasReadonly = Statfs(FdPath(buf, fd), &st) == 0 && (st.Flags & ST_RDONLY) != 0;
        var err = SetReadonly(ctx, fd, null, true);
        if (err == 0 && !wasReadonly)
        {
            MountAttr a = default;
            a.AttrClr = MOUNT_ATTR_RDONLY;
            err = Syscall(ctx->Sys.MountSetattr, fd, (nint)Lit("\0"u8), AT_EMPTY_PATH, (nint)(&a), sizeof(MountAttr)) == 0 ? 0 : Errno;
        }
        return err;
    }

    /// <summary>
    /// mount_setattr(MOUNT_ATTR_RDONLY) on the mount at dirfd/path, with AT_RECURSIVE on every mount below it too:
    /// a remount with MS_RDONLY changes only the one mount, and a submount would stay writable.
    /// </summary>
    private static int SetReadonly(ChildContext* ctx, int dirfd, byte* path, bool recursive)
    {
        MountAttr a = default;
        a.AttrSet = MOUNT_ATTR_RDONLY;
        var flags = (path == null ? AT_EMPTY_PATH : 0) | (recursive ? AT_RECURSIVE : 0);
        var p = path == null ? Lit("\0"u8) : path;
        return Syscall(ctx->Sys.MountSetattr, dirfd, (nint)p, flags, (nint)(&a), sizeof(MountAttr)) == 0 ? 0 : Errno;
    }

    /// <summary>S1 source, S2 rootfs-relative target, S3 fstype, S4 data; L1 flags, L2 flags to apply by remount, L3 propagation; I1 create.</summary>
    private static int DoMount(ChildContext* ctx, ChildStep* s)
    {
        var fd = OpenInRoot(ctx, s->S2, s->I1);
        if (fd < 0)
        {
            return Errno;
        }
        var buf = stackalloc byte[64];
        // tmpcopyup (I3): hold the directory the tmpfs is about to cover, to copy from once it is mounted.
        var from = s->I3 != 0 ? Open(FdPath(buf, fd), O_RDONLY | ctx->Sys.ODirectory | O_CLOEXEC, 0) : -1;
        if (s->I3 != 0 && from < 0)
        {
            var e = Errno;
            Close(fd);
            return e;
        }
        var rc = s->I2 >= 0
            // The parent's id-mapped copy of the source, attached where a plain bind would go.
            ? (int)Syscall(ctx->Sys.MoveMount, s->I2, (nint)Lit("\0"u8), fd, (nint)Lit("\0"u8), MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
            : Mount(s->S1, FdPath(buf, fd), s->S3, s->L1, s->S4);
        var err = rc == 0 ? 0 : Errno;
        Close(fd);
        if (from >= 0)
        {
            err = err == 0 ? CopyUp(ctx, s, from) : err;
            Close(from);
        }
        if (err != 0 || (s->L2 == 0 && s->L3 == 0))
        {
            return err;
        }
        // Reopen: the new fd lands on the mount just made, which the old one lies beneath.
        fd = OpenInRoot(ctx, s->S2, CreateNone);
        if (fd < 0)
        {
            return Errno;
        }
        FdPath(buf, fd);
        err = s->L2 != 0 ? Remount(buf, s->L2) : 0;
        if (err == 0 && (s->L2 & MS_RDONLY) != 0 && (s->L1 & MS_REC) != 0)
        {
            err = SetReadonly(ctx, fd, null, true);
        }
        if (err == 0 && s->L3 != 0 && Mount(null, buf, null, s->L3, null) != 0)
        {
            err = Errno;
        }
        Close(fd);
        return err;
    }

    private const int CopyUpMaxDepth = 64, CopyBufferSize = 16384, DentsSize = 2048;

    /// <summary>
    /// tmpcopyup: copies what the rootfs had at the mount point (held open as <paramref name="from"/>) into the tmpfs
    /// now mounted there. The rootfs is a stranger's: every name is one component opened relative to its directory's
    /// descriptor with O_NOFOLLOW, so no symlink is ever followed (symlinks are copied as symlinks); device nodes and
    /// sockets are left out; a tree deeper than 64 levels fails (ELOOP), as does one the tmpfs has no room for (ENOSPC).
    /// </summary>
    private static int CopyUp(ChildContext* ctx, ChildStep* s, int from)
    {
        var at = OpenInRoot(ctx, s->S2, CreateNone);
        if (at < 0)
        {
            return Errno;
        }
        var buf = stackalloc byte[64];
        var to = Open(FdPath(buf, at), O_RDONLY | ctx->Sys.ODirectory | O_CLOEXEC, 0);
        var err = to < 0 ? Errno : 0;
        Close(at);
        if (err != 0)
        {
            return err;
        }
        var scratch = stackalloc byte[CopyBufferSize];
        err = CopyTree(ctx, from, to, scratch, 0);
        Close(to);
        return err;
    }

    private static int CopyTree(ChildContext* ctx, int from, int to, byte* scratch, int depth)
    {
        if (depth >= CopyUpMaxDepth)
        {
            return ELOOP;
        }
        var dents = stackalloc byte[DentsSize];
        while (true)
        {
            var n = Getdents64(from, dents, DentsSize);
            if (n <= 0)
            {
                return n == 0 ? 0 : Errno;
            }
            // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name
            nint off = 0;
            while (off < n)
            {
                var reclen = *(ushort*)(dents + off + 16);
                var name = dents + off + 19;
                if (reclen == 0)
                {
                    return EINVAL;
                }
                off += reclen;
                if (name[0] == (byte)'.' && (name[1] == 0 || (name[1] == (byte)'.' && name[2] == 0)))
                {
                    continue;
                }
                var err = CopyEntry(ctx, from, to, name, scratch, depth);
                if (err != 0)
                {
                    return err;
                }
            }
        }
    }

    private static int CopyEntry(ChildContext* ctx, int from, int to, byte* name, byte* scratch, int depth)
    {
        StatxBuffer st;
        if (Statx(from, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID, &st) != 0)
        {
            return Errno;
        }
        var type = st.Mode & S_IFMT;
        var mode = st.Mode & 0xfffu;
        if (type == S_IFLNK)
        {
            var len = Readlinkat(from, name, scratch, CopyBufferSize - 1);
            if (len < 0)
            {
                return Errno;
            }
            scratch[len] = 0;
            return Symlinkat(scratch, to, name) != 0 ? Errno : Chown(to, name, &st, AT_SYMLINK_NOFOLLOW);
        }
        if (type == S_IFIFO)
        {
            // umask is 0 during setup: the mode is the rootfs's.
            return Mknodat(to, name, S_IFIFO | mode, 0) != 0 ? Errno : Chown(to, name, &st, AT_SYMLINK_NOFOLLOW);
        }
        if (type != S_IFDIR && type != S_IFREG)
        {
            return 0;
        }
        var noFollow = ctx->Sys.ONoFollow | O_CLOEXEC;
        int src, dst;
        if (type == S_IFDIR)
        {
            if (Mkdirat(to, name, 0x1c0) != 0)
            {
                return Errno;
            }
            src = Openat(from, name, O_RDONLY | ctx->Sys.ODirectory | noFollow, 0);
            dst = src < 0 ? -1 : Openat(to, name, O_RDONLY | ctx->Sys.ODirectory | noFollow, 0);
        }
        else
        {
            // O_NONBLOCK: should the entry have become a fifo since, the open does not wait for a writer.
            src = Openat(from, name, O_RDONLY | O_NONBLOCK | noFollow, 0);
            dst = src < 0 ? -1 : Openat(to, name, O_WRONLY | O_CREAT | O_EXCL | noFollow, 0x180);
        }
        var err = src < 0 || dst < 0 ? Errno : 0;
        if (err == 0)
        {
            err = type == S_IFDIR ? CopyTree(ctx, src, dst, scratch, depth + 1) : CopyData(src, dst, scratch);
        }
        if (err == 0)
        {
            err = Chown(dst, Lit("\0"u8), &st, AT_EMPTY_PATH);
        }
        if (err == 0 && Fchmod(dst, mode) != 0)
        {
            err = Errno;
        }
        if (src >= 0)
        {
            Close(src);
        }
        if (dst >= 0)
        {
            Close(dst);
        }
        return err;
    }

    /// <summary>The rootfs's owner for a copy; one the container's user namespace does not map (EINVAL) stays its root's.</summary>
    private static int Chown(int dirfd, byte* name, StatxBuffer* st, int flags) =>
        Fchownat(dirfd, name, st->Uid, st->Gid, flags) == 0 || Errno == EINVAL ? 0 : Errno;

    private static int CopyData(int src, int dst, byte* scratch)
    {
        StatxBuffer st;
        if (Statx(src, Lit("\0"u8), AT_EMPTY_PATH, STATX_TYPE, &st) != 0)
        {
            return Errno;
        }
        if ((st.Mode & S_IFMT) != S_IFREG)
        {
            return EINVAL; // swapped for something else since it was listed
        }
        while (true)
        {
            var n = Read(src, scratch, CopyBufferSize);
            if (n < 0 && Errno == EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                return n == 0 ? 0 : Errno;
            }
            if (!WriteAll(dst, scratch, (int)n))
            {
                return Errno;
            }
        }
    }

    private static int BindIntoRoot(ChildContext* ctx, byte* source, byte* rel, int create)
    {
        var fd = OpenInRoot(ctx, rel, create);
        if (fd < 0)
        {
            return Errno;
        }
        var buf = stackalloc byte[64];
        var err = Mount(source, FdPath(buf, fd), null, MS_BIND, null) == 0 ? 0 : Errno;
        Close(fd);
        return err;
    }

    /// <summary>
    /// A bind mount's flags change only by remount, and in a user namespace the kernel refuses to clear flags
    /// the source mount has locked (nosuid, nodev, noexec, ro, atime): keep those that are set.
    /// </summary>
    private static int Remount(byte* target, ulong flags)
    {
        StatFs st;
        ulong locked = 0;
        if (Statfs(target, &st) == 0)
        {
            if ((st.Flags & ST_NOSUID) != 0) locked |= MS_NOSUID;
            if ((st.Flags & ST_NODEV) != 0) locked |= MS_NODEV;
            if ((st.Flags & ST_NOEXEC) != 0) locked |= MS_NOEXEC;
            if ((st.Flags & ST_NOATIME) != 0) locked |= MS_NOATIME;
            if ((st.Flags & ST_NODIRATIME) != 0) locked |= MS_NODIRATIME;
            if ((st.Flags & ST_RELATIME) != 0 && (flags & (MS_NOATIME | MS_STRICTATIME)) == 0) locked |= MS_RELATIME;
        }
        return Mount(null, target, null, MS_BIND | MS_REMOUNT | flags | locked, null) == 0 ? 0 : Errno;
    }

    /// <summary>S1 parent dir (rootfs-relative), S2 name; I1 mode with type bits, I2 uid, I3 gid; L1 device number.</summary>
    private static int MakeDevice(ChildContext* ctx, ChildStep* s)
    {
        var dir = DeviceDir(ctx, s->S1);
        if (dir < 0)
        {
            return Errno;
        }
        if (Mknodat(dir, s->S2, (uint)s->I1, s->L1) != 0 && Errno != EEXIST)
        {
            return Errno;
        }
        return Fchownat(dir, s->S2, (uint)s->I2, (uint)s->I3, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : Errno;
    }

    /// <summary>S1 link target, S2 parent dir (rootfs-relative), S3 name.</summary>
    private static int MakeSymlink(ChildContext* ctx, ChildStep* s)
    {
        var dir = DeviceDir(ctx, s->S2);
        if (dir < 0)
        {
            return Errno;
        }
        return Symlinkat(s->S1, dir, s->S3) == 0 || Errno == EEXIST ? 0 : Errno;
    }

    /// <summary>
    /// The directory <paramref name="rel"/> (rootfs-relative, made if missing) for mknodat and symlinkat, or -1 with the
    /// errno: resolved within the root once, then kept open while the steps that follow write into the same one (the
    /// dozen entries of a /dev took four calls each to open and close it again). Any other step closes it first.
    /// </summary>
    private static int DeviceDir(ChildContext* ctx, byte* rel)
    {
        if (ctx->DevDirRel != null && SameString(ctx->DevDirRel, rel))
        {
            return ctx->DevDirFd;
        }
        ForgetDeviceDir(ctx);
        var dir = OpenInRoot(ctx, rel, CreateDir);
        if (dir < 0)
        {
            return -1;
        }
        // O_PATH descriptors cannot be used with mknodat; reopen the directory for real.
        var buf = stackalloc byte[64];
        var real = Open(FdPath(buf, dir), O_RDONLY | ctx->Sys.ODirectory | O_CLOEXEC, 0);
        var err = Errno;
        Close(dir);
        if (real < 0)
        {
            *ErrnoLocation() = err; // the close must not hide why the open failed
            return -1;
        }
        ctx->DevDirFd = real;
        ctx->DevDirRel = rel;
        return real;
    }

    private static void ForgetDeviceDir(ChildContext* ctx)
    {
        if (ctx->DevDirRel != null)
        {
            Close(ctx->DevDirFd);
            ctx->DevDirRel = null;
        }
    }

    private static bool SameString(byte* a, byte* b)
    {
        while (*a == *b)
        {
            if (*a == 0)
            {
                return true;
            }
            a++;
            b++;
        }
        return false;
    }

    private static int PivotRoot(ChildContext* ctx)
    {
        if (Fchdir(ctx->RootFd) != 0)
        {
            return Errno;
        }
        // pivot_root(".", "."): the old root ends up stacked under the new one, then is lazily detached.
        var dot = Lit(".\0"u8);
        if (Syscall(ctx->Sys.PivotRoot, (nint)dot, (nint)dot, 0, 0, 0) != 0)
        {
            return Errno;
        }
        if (Umount2(dot, MNT_DETACH) != 0)
        {
            return Errno;
        }
        return Chdir(Lit("/\0"u8)) == 0 ? 0 : Errno;
    }

    private static int MoveRoot(ChildContext* ctx, ChildStep* s)
    {
        if (Fchdir(ctx->RootFd) != 0)
        {
            return Errno;
        }
        if (Mount(s->S1, Lit("/\0"u8), null, MS_MOVE, null) != 0)
        {
            return Errno;
        }
        return ChrootToCwd();
    }

    /// <summary>The root becomes the current directory (set by the caller), and the cwd its "/".</summary>
    private static int ChrootToCwd()
    {
        if (Chroot(Lit(".\0"u8)) != 0)
        {
            return Errno;
        }
        return Chdir(Lit("/\0"u8)) == 0 ? 0 : Errno;
    }

    /// <summary>S1 the rootfs. No mount namespace: chroot, which changes no mount (pivot_root and MS_MOVE would the host's).</summary>
    private static int ChrootIntoRootfs(ChildContext* ctx, ChildStep* s)
    {
        var fd = Open(s->S1, O_PATH | ctx->Sys.ODirectory | O_CLOEXEC, 0);
        if (fd < 0)
        {
            return Errno;
        }
        ctx->RootFd = fd;
        if (Fchdir(fd) != 0)
        {
            return Errno;
        }
        return ChrootToCwd();
    }

    private static int MaskPath(ChildContext* ctx, ChildStep* s)
    {
        var fd = Open(s->S1, O_PATH | ctx->Sys.ODirectory | O_CLOEXEC, 0);
        if (fd >= 0)
        {
            Close(fd);
            return Mount(Lit("tmpfs\0"u8), s->S1, Lit("tmpfs\0"u8), MS_RDONLY, Lit("size=0k\0"u8)) == 0 ? 0 : Errno;
        }
        var e = Errno;
        if (e == ENOENT)
        {
            return 0;
        }
        if (e != ENOTDIR)
        {
            return e;
        }
        return Mount(Lit("/dev/null\0"u8), s->S1, null, MS_BIND, null) == 0 ? 0 : Errno;
    }

    /// <summary>
    /// A bind of the path onto itself made read-only with every mount below it by one mount_setattr, which keeps the
    /// mount's other flags as they are: the remount before it (a statfs to find those flags, and the remount) changed
    /// nothing the mount_setattr did not, two calls of each of the five read-only paths in every start.
    /// </summary>
    private static int ReadonlyPath(ChildContext* ctx, ChildStep* s)
    {
        if (Mount(s->S1, s->S1, null, MS_BIND | MS_REC, null) != 0)
        {
            return Errno == ENOENT ? 0 : Errno;
        }
        return SetReadonly(ctx, AT_FDCWD, s->S1, true);
    }

    // ---- what the container may reach -------------------------------------------------------------------

    /// <summary>
    /// chdir, then make sure the directory is inside the container's root: through a descriptor or a magic link a
    /// cwd could land in the host's filesystem, and the kernel's getcwd then answers "(unreachable)/...".
    /// </summary>
    private static int ChdirInsideRoot(ChildContext* ctx, ChildStep* s)
    {
        if (Chdir(s->S1) != 0)
        {
            return Errno;
        }
        var buf = stackalloc byte[4100];
        if (Syscall(ctx->Sys.Getcwd, (nint)buf, 4100, 0, 0, 0) < 0)
        {
            return Errno;
        }
        if (buf[0] != (byte)'/')
        {
            Fail(ctx, (int)(s - ctx->Steps), ENOENT, DetailOutsideRoot);
        }
        return 0;
    }

    /// <summary>
    /// A Landlock domain that handles execution only, allowing it beneath the container's root: the runtime's own
    /// binary (reached as /proc/self/exe, a script's interpreter, an ELF interpreter or a descriptor) and every other
    /// file outside the root can no longer be executed by anything in the container.
    /// </summary>
    private static int RestrictExecution(ChildContext* ctx)
    {
        LandlockRulesetAttr attr;
        attr.HandledAccessFs = LANDLOCK_ACCESS_FS_EXECUTE;
        var ruleset = (int)Syscall(ctx->Sys.LandlockCreateRuleset, (nint)(&attr), sizeof(LandlockRulesetAttr), 0, 0, 0);
        if (ruleset < 0)
        {
            return Errno;
        }
        var root = Open(Lit("/\0"u8), O_PATH | ctx->Sys.ODirectory | O_CLOEXEC, 0);
        var err = root < 0 ? Errno : 0;
        if (err == 0)
        {
            LandlockPathBeneathAttr rule;
            rule.AllowedAccess = LANDLOCK_ACCESS_FS_EXECUTE;
            rule.ParentFd = root;
            if (Syscall(ctx->Sys.LandlockAddRule, ruleset, LANDLOCK_RULE_PATH_BENEATH, (nint)(&rule), 0, 0) != 0
                || Syscall(ctx->Sys.LandlockRestrictSelf, ruleset, 0, 0, 0, 0) != 0)
            {
                err = Errno;
            }
            Close(root);
        }
        Close(ruleset);
        return err;
    }

    /// <summary>
    /// A new anonymous session keyring: the container no longer possesses the keys of the session it was started
    /// from. Where the kernel has no keyrings (ENOSYS), or an enclosing seccomp filter already denies keyctl (EPERM:
    /// a sandbox inside a sandbox), there is nothing the container could reach either.
    /// </summary>
    private static int JoinSessionKeyring(ChildContext* ctx)
    {
        if (Syscall(ctx->Sys.Keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0) >= 0)
        {
            return 0;
        }
        var e = Errno;
        return e is ENOSYS or EPERM ? 0 : e;
    }

    private static int WriteFile(ChildStep* s)
    {
        var fd = Open(s->S1, O_WRONLY | O_CLOEXEC | O_TRUNC, 0);
        if (fd < 0)
        {
            return Errno;
        }
        var ok = WriteAll(fd, s->S2, s->I1);
        var err = ok ? 0 : Errno;
        Close(fd);
        return err;
    }

    // ---- network -----------------------------------------------------------------------------------------

    private static int LoopbackUp()
    {
        var sock = Socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0)
        {
            return Errno;
        }
        IfReq req = default;
        req.Name[0] = (byte)'l';
        req.Name[1] = (byte)'o';
        var err = 0;
        if (Ioctl(sock, SIOCGIFFLAGS, &req) != 0)
        {
            err = Errno;
        }
        else
        {
            req.Flags |= IFF_UP | IFF_RUNNING;
            if (Ioctl(sock, SIOCSIFFLAGS, &req) != 0)
            {
                err = Errno;
            }
        }
        Close(sock);
        return err;
    }

    // ---- credentials -------------------------------------------------------------------------------------

    /// <summary>L1: bit mask of the capabilities to keep in the bounding set; I1: the last capability the kernel knows.</summary>
    private static int DropBoundingSet(ChildStep* s)
    {
        for (var cap = 0; cap <= s->I1; cap++)
        {
            if ((s->L1 & (1UL << cap)) == 0 && Prctl(PR_CAPBSET_DROP, (nuint)cap, 0, 0, 0) != 0 && Errno != EINVAL)
            {
                return Errno;
            }
        }
        return 0;
    }

    /// <summary>
    /// I1 uid, I2 gid, I3 number of supplementary groups (-1: leave them alone), V1 the groups as uint*.
    /// Raw syscalls: glibc's wrappers would wait for the parent's threads to acknowledge (setxid), forever.
    /// </summary>
    private static int SetUser(ChildContext* ctx, ChildStep* s)
    {
        if (Prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        {
            return Errno;
        }
        if (s->I3 >= 0 && Syscall(ctx->Sys.Setgroups, s->I3, (nint)s->V1, 0, 0, 0) != 0)
        {
            return Errno;
        }
        if (Syscall(ctx->Sys.Setresgid, s->I2, s->I2, s->I2, 0, 0) != 0)
        {
            return Errno;
        }
        if (Syscall(ctx->Sys.Setresuid, s->I1, s->I1, s->I1, 0, 0) != 0)
        {
            return Errno;
        }
        return Prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == 0 ? 0 : Errno;
    }

    /// <summary>
    /// setresgid(0) and setresuid(0) in the user namespace (raw syscalls, as in SetUser); I1 set: a namespace joined by
    /// path, where 0 may not be mapped (EINVAL), and the ids then stay as they were. The capabilities stay: the process
    /// holds them in the namespace, and becoming uid 0 there keeps them.
    /// </summary>
    private static int BecomeRoot(ChildContext* ctx, ChildStep* s)
    {
        if (Syscall(ctx->Sys.Setresgid, 0, 0, 0, 0, 0) != 0 && (s->I1 == 0 || Errno != EINVAL))
        {
            return Errno;
        }
        if (Syscall(ctx->Sys.Setresuid, 0, 0, 0, 0, 0) != 0 && (s->I1 == 0 || Errno != EINVAL))
        {
            return Errno;
        }
        return 0;
    }

    /// <summary>L1 effective, L2 permitted, L3 inheritable, L4 ambient (bit masks).</summary>
    private static int SetCapabilities(ChildContext* ctx, ChildStep* s)
    {
        CapHeader h;
        h.Version = LINUX_CAPABILITY_VERSION_3;
        h.Pid = 0;
        var data = stackalloc CapData[2];
        data[0].Effective = (uint)s->L1;
        data[1].Effective = (uint)(s->L1 >> 32);
        data[0].Permitted = (uint)s->L2;
        data[1].Permitted = (uint)(s->L2 >> 32);
        data[0].Inheritable = (uint)s->L3;
        data[1].Inheritable = (uint)(s->L3 >> 32);
        if (Syscall(ctx->Sys.Capset, (nint)(&h), (nint)data, 0, 0, 0) != 0)
        {
            return Errno;
        }
        if (Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && Errno != EINVAL)
        {
            return Errno;
        }
        for (var cap = 0; cap < 64; cap++)
        {
            if ((s->L4 & (1UL << cap)) != 0 && Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (nuint)cap, 0, 0) != 0)
            {
                return Errno;
            }
        }
        return 0;
    }

    // ---- hooks -------------------------------------------------------------------------------------------

    /// <summary>
    /// Runs an OCI hook (S1 path, V1 argv, V2 envp, I1 timeout in ms or -1) with the state JSON on its stdin.
    /// Used by the container's child for createContainer/startContainer and by the parent for the others.
    /// Returns 0, or an errno; *status receives the hook's wait status.
    /// </summary>
    public static int SpawnHook(ChildContext* ctx, ChildStep* s, byte* state, int stateLength, int* status)
    {
        var pipe = stackalloc int[2];
        if (Pipe2(pipe, O_CLOEXEC) != 0)
        {
            return Errno;
        }
        var pid = (int)Syscall(ctx->Sys.Clone, SIGCHLD, 0, 0, 0, 0);
        if (pid < 0)
        {
            var e = Errno;
            Close(pipe[0]);
            Close(pipe[1]);
            return e;
        }
        if (pid == 0)
        {
            // Hook process: stdin from the pipe, default signal handling, then exec.
            Dup3(pipe[0], 0, 0);
            ResetSignals();
            Execve(s->S1, s->V1, s->V2);
            Exit(127);
        }
        Close(pipe[0]);
        var oldPipe = Signal(SIGPIPE, 1); // SIG_IGN: a hook that does not read its stdin must not kill us.
        WriteAll(pipe[1], state, stateLength);
        Close(pipe[1]);
        Signal(SIGPIPE, oldPipe);
        var err = 0;
        if (s->I1 > 0)
        {
            var pidfd = (int)Syscall(ctx->Sys.PidfdOpen, pid, 0, 0, 0, 0);
            if (pidfd >= 0)
            {
                PollFd p;
                p.Fd = pidfd;
                p.Events = 1;
                p.Revents = 0;
                int n;
                do
                {
                    n = Poll(&p, 1, s->I1);
                }
                while (n < 0 && Errno == EINTR);
                if (n == 0)
                {
                    Kill(pid, SIGKILL);
                    err = 110; // ETIMEDOUT
                }
                Close(pidfd);
            }
        }
        int w;
        do
        {
            w = Waitpid(pid, status, 0);
        }
        while (w < 0 && Errno == EINTR);
        return err;
    }

    private static int RunHook(ChildContext* ctx, ChildStep* s)
    {
        int status = 0;
        var err = SpawnHook(ctx, s, ctx->StateBuffer, ctx->StateLength, &status);
        if (err != 0)
        {
            return err;
        }
        if (status != 0)
        {
            Fail(ctx, (int)(s - ctx->Steps), 0, status);
        }
        return 0;
    }

    // ---- exec --------------------------------------------------------------------------------------------

    private static void ResetSignals()
    {
        // .NET ignores SIGPIPE and installs its own handlers; the container gets the defaults, nothing blocked.
        for (var sig = 1; sig < 65; sig++)
        {
            if (sig != SIGKILL && sig != SIGSTOP)
            {
                Signal(sig, 0);
            }
        }
        ulong none = 0;
        Sigprocmask(SIG_SETMASK, &none, null);
    }

    private static ChildStep* FindExec(ChildContext* ctx)
    {
        for (var i = ctx->StepCount - 1; i >= 0; i--)
        {
            if (ctx->Steps[i].Op == ChildOp.Exec)
            {
                return ctx->Steps + i;
            }
        }
        return null;
    }

    /// <summary>0 when one of the candidates may be executed, else the errno execve would give (EACCES over ENOENT).</summary>
    private static int Executable(byte** candidates)
    {
        var denied = false;
        for (var c = candidates; *c != null; c++)
        {
            if (Access(*c, X_OK) == 0)
            {
                return 0;
            }
            denied |= Errno == EACCES;
        }
        return denied ? EACCES : ENOENT;
    }

    /// <summary>V1 candidate paths (PATH search done by the parent as a list), V2 argv, V3 envp.</summary>
    private static int Exec(ChildContext* ctx, ChildStep* s)
    {
        // Every descriptor beyond stdio (and any the caller asked to preserve) closes on exec.
        Syscall(ctx->Sys.CloseRange, 3 + ctx->PreserveFds, -1, (nint)CLOSE_RANGE_CLOEXEC, 0, 0);
        ResetSignals();
        var denied = false;
        var other = 0;
        for (var c = s->V1; *c != null; c++)
        {
            Execve(*c, s->V2, s->V3);
            var e = Errno;
            if (e == EACCES)
            {
                denied = true;
            }
            else if (e != ENOENT && e != ENOTDIR)
            {
                other = e;
            }
        }
        return other != 0 ? other : denied ? EACCES : ENOENT;
    }

    /// <summary>
    /// A minimal init as PID 1: the program runs as its child; this process forwards every signal to it,
    /// reaps every zombie, and exits as the program did (128+signal if it was killed).
    /// </summary>
    private static int ExecUnderReaper(ChildContext* ctx, ChildStep* s)
    {
        ulong all = ~0UL, old;
        Sigprocmask(SIG_SETMASK, &all, &old);
        var pid = (int)Syscall(ctx->Sys.Clone, SIGCHLD, 0, 0, 0, 0);
        if (pid < 0)
        {
            return Errno;
        }
        if (pid == 0)
        {
            var err = Exec(ctx, s);
            Fail(ctx, (int)(s - ctx->Steps), err, 0);
        }
        if (ctx->ReportFd >= 0)
        {
            Close(ctx->ReportFd);
            ctx->ReportFd = -1;
        }
        Syscall(ctx->Sys.CloseRange, 3, -1, 0, 0, 0);
        // Nothing of the host stays readable in /proc/1/cmdline and /proc/1/environ (the process is non-dumpable too).
        Wipe(ctx->ArgStart, ctx->ArgEnd);
        Wipe(ctx->EnvStart, ctx->EnvEnd);
        while (true)
        {
            SigInfo info;
            var sig = Sigwaitinfo(&all, &info);
            if (sig < 0)
            {
                continue;
            }
            if (sig != SIGCHLD)
            {
                Kill(pid, sig);
                continue;
            }
            int status, w;
            while ((w = Waitpid(-1, &status, WNOHANG)) > 0)
            {
                if (w == pid)
                {
                    Exit(WifExited(status) ? WexitStatus(status) : 128 + WtermSig(status));
                }
            }
        }
    }

    /// <summary>
    /// seccomp(SECCOMP_SET_MODE_FILTER, flags, &amp;prog). With a listener (S2 set), the call returns its descriptor,
    /// which goes to the runtime over the listener socket in the prepared message, and is closed here; then, where the
    /// listener goes on to the profile's agent (I2 set), the child waits on the same socket until it is there. The
    /// runtime's own supervisor needs no wait: what the filter holds up waits in the kernel for its answer.
    /// </summary>
    private static int InstallSeccomp(ChildContext* ctx, ChildStep* s)
    {
        var rc = Syscall(ctx->Sys.Seccomp, SECCOMP_SET_MODE_FILTER, s->I1, (nint)s->S1, 0, 0);
        if (rc < 0 && Errno == EBUSY && s->S4 != null)
        {
            // An enclosing filter has the listener (sandbox in a sandbox): the profile's own filter, unrecorded.
            // Closing the listener socket unsent tells the supervisor so.
            rc = Syscall(ctx->Sys.Seccomp, SECCOMP_SET_MODE_FILTER, s->I1 & ~(int)SECCOMP_FILTER_FLAG_NEW_LISTENER, (nint)s->S4, 0, 0);
            Close(ctx->ListenerFd);
            ctx->ListenerFd = -1;
            return rc < 0 ? Errno : 0;
        }
        if (rc < 0)
        {
            return Errno;
        }
        if (s->S2 == null)
        {
            return 0;
        }
        var listener = (int)rc;
        *(int*)s->S3 = listener;
        var sent = Sendmsg(ctx->ListenerFd, (MsgHdr*)s->S2, MSG_NOSIGNAL);
        var err = sent < 0 ? Errno : 0;
        Close(listener);
        if (err == 0 && s->I2 != 0)
        {
            // Nothing of the container's runs before the runtime has passed the listener on to the agent at
            // listenerPath: wait for its one-byte go-ahead, which a failure never sends.
            var got = Recvmsg(ctx->ListenerFd, (MsgHdr*)s->S2, 0);
            err = got == 1 ? 0 : got < 0 ? Errno : EPIPE;
        }
        Close(ctx->ListenerFd);
        ctx->ListenerFd = -1;
        return err;
    }

    // ---- small no-allocation helpers ---------------------------------------------------------------------

    private static void Wipe(nuint start, nuint end)
    {
        for (var p = (byte*)start; p < (byte*)end; p++)
        {
            *p = 0;
        }
    }

    private static byte* Lit(ReadOnlySpan<byte> nulTerminatedLiteral)
    {
        // The literal carries its own "\0"; u8 literals live in the image's read-only data.
        return (byte*)Unsafe.AsPointer(ref Unsafe.AsRef(in nulTerminatedLiteral[0]));
    }

    private static int StrLen(byte* s)
    {
        var n = 0;
        while (s[n] != 0)
        {
            n++;
        }
        return n;
    }

    private static bool WriteAll(int fd, void* buf, int len)
    {
        var p = (byte*)buf;
        while (len > 0)
        {
            var n = Write(fd, p, len);
            if (n < 0)
            {
                if (Errno == EINTR)
                {
                    continue;
                }
                return false;
            }
            p += n;
            len -= (int)n;
        }
        return true;
    }

    private static bool ReadAll(int fd, void* buf, int len)
    {
        var p = (byte*)buf;
        while (len > 0)
        {
            var n = Read(fd, p, len);
            if (n < 0 && Errno == EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                return false;
            }
            p += n;
            len -= (int)n;
        }
        return true;
    }

    private static int Append(byte* buf, int at, int cap, ReadOnlySpan<byte> text)
    {
        for (var i = 0; i < text.Length && at < cap - 1; i++)
        {
            buf[at++] = text[i];
        }
        return at;
    }

    private static int AppendZ(byte* buf, int at, int cap, byte* text)
    {
        if (text == null)
        {
            return at;
        }
        for (var i = 0; text[i] != 0 && at < cap - 1; i++)
        {
            buf[at++] = text[i];
        }
        return at;
    }

    private static int AppendInt(byte* buf, int at, int cap, int value)
    {
        var digits = stackalloc byte[12];
        var n = 0;
        var neg = value < 0;
        var v = neg ? -(long)value : value;
        do
        {
            digits[n++] = (byte)('0' + (int)(v % 10));
            v /= 10;
        }
        while (v != 0);
        if (neg && at < cap - 1)
        {
            buf[at++] = (byte)'-';
        }
        while (n > 0 && at < cap - 1)
        {
            buf[at++] = digits[--n];
        }
        return at;
    }
}
