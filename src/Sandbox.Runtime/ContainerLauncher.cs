using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>
/// The parent's side of starting a container: clone, id maps, the go-ahead, and reading the child's report
/// until it execs (run), reports ready (create) or fails. Only the `sandbox` executable calls this.
/// </summary>
internal static unsafe class ContainerLauncher
{
    /// <param name="onSync">Called when the child waits for the createRuntime hooks; returns the state JSON for its own hooks.</param>
    /// <param name="onCloned">Called as soon as the child exists, before it may go on (e.g. to forward signals to it);
    /// its argument says whether the child was born in <paramref name="cgroupFd"/>'s cgroup already.</param>
    /// <param name="cgroupFd">A cgroup v2 directory: the child is created inside it with clone3(CLONE_INTO_CGROUP),
    /// when the kernel can; -1 otherwise.</param>
    /// <param name="onListener">Given the seccomp listener descriptor (to keep) as soon as the child has sent it: its
    /// notifications must be answered from then on, even while setup goes on.</param>
    /// <param name="onReady">Called once the child may go on to set itself up (its id maps written), before it may be in
    /// its cgroup: where it waits twice (SetupPlan.WaitsTwice), after the first go-ahead, while it mounts; otherwise just
    /// before the go-ahead. Makes a cgroup made after the clone (and sets ChildProgram.CgroupTasksFiles).</param>
    public static int Launch(SetupPlan plan, ChildProgram program, Func<int, byte[]> onSync, Action<int, bool>? onCloned = null, int cgroupFd = -1,
        Action<int, int>? onListener = null, Action<int>? onReady = null)
    {
        var ctx = program.Context;
        var sync = stackalloc int[2];
        var report = stackalloc int[2];
        if (LibC.pipe2(sync, LibC.O_CLOEXEC) != 0 || LibC.pipe2(report, LibC.O_CLOEXEC) != 0)
        {
            throw new SandboxException(ErrorCodes.CloneFailed, $"pipe: {Libc.Describe(LibC.errno)}", "raise the open-file limit");
        }
        ctx->SyncFd = sync[0];
        ctx->ReportFd = report[1];
        program.KeepDescriptors(sync[0], report[1]);
        // Joined for the clone only: while this process's children go to another pid namespace, the kernel refuses it
        // new threads (EINVAL), and .NET starts some lazily (signal handling, timers).
        var ownPidNs = plan.JoinPidNamespace is { } pidNs ? JoinPidNamespace(pidNs) : -1;

        // The fork rule: from here to the child's execve no managed code may allocate. After a collection,
        // finalizers are drained so the finalizer thread is idle; this thread is the only one that allocates.
        if (GC.CollectionCount(0) > 0)
        {
            GC.WaitForPendingFinalizers();
        }
        KeepHeapFromChild();
        var pid = -1;
        var inCgroup = false;
        if (cgroupFd >= 0)
        {
            // clone3 with no stack continues the child on a copy of this one, as clone and fork do.
            CloneArgs args = default;
            args.Flags = plan.CloneFlags | CloneArgs.CLONE_INTO_CGROUP;
            args.ExitSignal = Libc.SIGCHLD;
            args.Cgroup = (ulong)cgroupFd;
            pid = (int)Libc.Syscall(ctx->Sys.Clone3, (nint)(&args), sizeof(CloneArgs), 0, 0, 0);
            if (pid == 0)
            {
                PostClone.Run(ctx);
            }
            inCgroup = pid > 0;
        }
        if (pid < 0)
        {
            // No clone3 or no CLONE_INTO_CGROUP here, or a real failure that plain clone reports the usual way;
            // the child then joins its cgroup by pid (onCloned).
            pid = (int)Libc.Syscall(ctx->Sys.Clone, (nint)(plan.CloneFlags | Libc.SIGCHLD), 0, 0, 0, 0);
            if (pid == 0)
            {
                PostClone.Run(ctx);
            }
        }
        var cloneErrno = Libc.Errno;
        if (ownPidNs >= 0)
        {
            LeavePidNamespace(ownPidNs);
        }
        LibC.close(sync[0]);
        LibC.close(report[1]);
        program.CloseChildDescriptors();
        if (pid < 0)
        {
            LibC.close(sync[1]);
            LibC.close(report[0]);
            throw CloneError(cloneErrno, plan);
        }
        try
        {
            if (plan.Steps.Any(s => s is EnterPidNamespaceStep))
            {
                pid = AwaitFork(pid, report[0], plan);
            }
            onCloned?.Invoke(pid, inCgroup);
            WriteIdMaps(pid, plan);
            if (plan.OomScoreAdj is int adj)
            {
                var err = RawFiles.Write($"/proc/{pid}/oom_score_adj", adj.ToString(System.Globalization.CultureInfo.InvariantCulture), create: false);
                if (err != 0)
                {
                    throw new SandboxException(ErrorCodes.SetupFailed, $"set oom_score_adj to {adj}: {Libc.Describe(err)}",
                        "lowering oomScoreAdj below the current value needs CAP_SYS_RESOURCE");
                }
            }
            if (plan.WaitsTwice)
            {
                GoAhead(sync[1], ChildContext.GoJoin);
            }
            onReady?.Invoke(pid);
            var tasks = program.CgroupTasksFiles;
            GoAhead(sync[1], tasks is { Count: 0 } ? ChildContext.GoWithoutCgroup : ChildContext.GoJoin, tasks is { Count: > 0 } ? tasks : null);
            ReadReports(pid, report[0], sync[1], plan, onSync, program.ListenerSocket, program.ListenerGoAhead, onListener);
            return pid;
        }
        catch (SandboxException) when (ReportedError(report[0], plan) is { } childError)
        {
            // The child may fail before it waits for the parent (ContainerPlanner.DeferWaitForParent): then what went
            // wrong here (a cgroup.procs write for a dead child, the go-ahead's EPIPE) follows from its error, which it
            // reported first.
            LibC.kill(pid, LibC.SIGKILL);
            int status;
            Libc.Wait4Blocking(pid, &status, 0, null);
            throw childError;
        }
        catch
        {
            LibC.kill(pid, LibC.SIGKILL);
            int status;
            Libc.Wait4Blocking(pid, &status, 0, null);
            throw;
        }
        finally
        {
            LibC.close(sync[1]);
            LibC.close(report[0]);
        }
    }

    /// <summary>The go-ahead's byte, and after it the tasks files a JoinCgroupFromParentStep opens (in one write).</summary>
    private static void GoAhead(int syncFd, int what, IReadOnlyList<string>? tasksFiles = null)
    {
        var message = new List<byte> { (byte)what };
        if (tasksFiles is not null)
        {
            var paths = new List<byte>();
            foreach (var file in tasksFiles)
            {
                paths.AddRange(System.Text.Encoding.UTF8.GetBytes(file.TrimStart('/')));
                paths.Add(0);
            }
            if (paths.Count > JoinCgroupFromParentStep.MaxPaths)
            {
                throw new SandboxException(ErrorCodes.CgroupFailed, $"the cgroup's paths are {paths.Count} bytes long, over {JoinCgroupFromParentStep.MaxPaths}",
                    "use a shorter linux.cgroupsPath");
            }
            message.AddRange(BitConverter.GetBytes(paths.Count));
            message.AddRange(paths);
        }
        var bytes = message.ToArray();
        fixed (byte* b = bytes)
        {
            if (LibC.write(syncFd, b, bytes.Length) != bytes.Length)
            {
                throw new SandboxException(ErrorCodes.SetupFailed, $"signal the container to go on: {Libc.Describe(LibC.errno)}",
                    "the container's first process died during setup");
            }
        }
    }

    /// <summary>
    /// The child joins a pid namespace and forks into it (EnterPidNamespaceStep): the process that goes on is its
    /// sibling, this process's child too. Reaps the first and returns the second's pid.
    /// </summary>
    private static int AwaitFork(int first, int reportFd, SetupPlan plan)
    {
        ChildReport r = default;
        var got = ReadReport(reportFd, &r);
        int status;
        Libc.Wait4Blocking(first, &status, 0, null);
        if (got == sizeof(ChildReport) && r.Kind == ChildReport.KindForked && r.Detail > 0)
        {
            return r.Detail;
        }
        throw got == sizeof(ChildReport) && r.Kind == ChildReport.KindError ? SetupError(plan, r)
            : new SandboxException(ErrorCodes.SetupFailed, "the container's setup ended before it entered the pid namespace", "report this as a bug");
    }

    /// <summary>The error the child has reported already, if it has (never waits for one).</summary>
    private static SandboxException? ReportedError(int reportFd, SetupPlan plan)
    {
        var p = new pollfd { fd = reportFd, events = LibC.POLLIN };
        if (LibC.poll(&p, 1, 0) != 1 || (p.revents & LibC.POLLIN) == 0)
        {
            return null;
        }
        ChildReport r = default;
        return ReadReport(reportFd, &r) == sizeof(ChildReport) && r.Kind == ChildReport.KindError ? SetupError(plan, r) : null;
    }

    /// <summary>One report, or fewer bytes than one at end of file (0: the pipe closed).</summary>
    private static int ReadReport(int reportFd, ChildReport* r)
    {
        var got = 0;
        while (got < sizeof(ChildReport))
        {
            var n = (nint)LibC.read(reportFd, (byte*)r + got, sizeof(ChildReport) - got);
            if (n < 0 && LibC.errno == LibC.EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                break;
            }
            got += (int)n;
        }
        return got;
    }

    private static void ReadReports(int pid, int reportFd, int syncFd, SetupPlan plan, Func<int, byte[]> onSync, int listenerSocket, bool goAhead,
        Action<int, int>? onListener)
    {
        while (true)
        {
            // The listener is sent before anything else of the child's can report or exec, so when both are ready it
            // is taken first (WaitForReportOrListener).
            if (listenerSocket >= 0 && WaitForReportOrListener(reportFd, listenerSocket))
            {
                TakeListener(pid, listenerSocket, goAhead, onListener);
                listenerSocket = -1;
                continue;
            }
            ChildReport r = default;
            var got = ReadReport(reportFd, &r);
            if (got == 0)
            {
                return; // EOF: the report pipe closed on execve (a child with a listener sent it first)
            }
            if (got != sizeof(ChildReport))
            {
                throw new SandboxException(ErrorCodes.SetupFailed, "the container's setup ended with a torn report", "report this as a bug");
            }
            switch (r.Kind)
            {
                case ChildReport.KindReady:
                    return;
                case ChildReport.KindSync:
                    var state = onSync(pid);
                    var len = state.Length;
                    fixed (byte* s = state)
                    {
                        if (LibC.write(syncFd, &len, sizeof(int)) != sizeof(int) || (len > 0 && LibC.write(syncFd, s, len) != len))
                        {
                            throw new SandboxException(ErrorCodes.SetupFailed, "hand the state to the container: " + Libc.Describe(LibC.errno),
                                "the container's first process died during setup");
                        }
                    }
                    break;
                default:
                    throw SetupError(plan, r);
            }
        }
    }

    /// <summary>Waits until the report pipe or the listener socket has something; true for the listener socket.</summary>
    private static bool WaitForReportOrListener(int reportFd, int listenerSocket)
    {
        var fds = stackalloc pollfd[2];
        while (true)
        {
            fds[0] = new pollfd { fd = listenerSocket, events = LibC.POLLIN };
            fds[1] = new pollfd { fd = reportFd, events = LibC.POLLIN };
            if (LibC.poll(fds, 2, -1) >= 0)
            {
                return (fds[0].revents & LibC.POLLIN) != 0;
            }
            if (LibC.errno != LibC.EINTR)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// The listener, or -1 when the child closed the socket unsent (it installed its filter without one). Once the
    /// listener is where it goes, a child that waits for it (<paramref name="goAhead"/>: the listener went to the
    /// profile's agent) gets its go-ahead on the same socket; if that fails, the error kills it. One that does not wait
    /// went on meanwhile (measured: the wait cost a run of the default recording profile about 0.3 ms): a call its
    /// filter notifies waits in the kernel until the supervisor, attached here, answers it.
    /// </summary>
    private static void TakeListener(int pid, int listenerSocket, bool goAhead, Action<int, int>? onListener)
    {
        var fd = ReceiveFd(listenerSocket) ?? -1;
        if (onListener is not null)
        {
            onListener(pid, fd);
        }
        else if (fd >= 0)
        {
            LibC.close(fd);
        }
        byte go = 1;
        if (goAhead && fd >= 0 && LibC.write(listenerSocket, &go, 1) != 1)
        {
            throw new SandboxException(ErrorCodes.SetupFailed, $"let the container go on after the seccomp listener: {Libc.Describe(LibC.errno)}",
                "the container's first process died during setup");
        }
    }

    /// <summary>One SCM_RIGHTS descriptor from the socket, received close-on-exec; null when none is waiting.</summary>
    internal static int? ReceiveFd(int socket)
    {
        byte data;
        var space = LibC.CMSG_SPACE(sizeof(int));
        var control = stackalloc byte[space];
        new Span<byte>(control, space).Clear();
        var iov = new iovec { iov_base = &data, iov_len = 1 };
        var msg = new msghdr { msg_iov = &iov, msg_iovlen = 1, msg_control = control, msg_controllen = space };
        long n = LibC.recvmsg(socket, &msg, LibC.MSG_DONTWAIT | LibC.MSG_CMSG_CLOEXEC);
        var cmsg = LibC.CMSG_FIRSTHDR(&msg);
        return n > 0 && cmsg != null && cmsg->cmsg_len >= UnixSocket.CmsgLenOfOneFd && cmsg->cmsg_level == LibC.SOL_SOCKET
            && cmsg->cmsg_type == LibC.SCM_RIGHTS ? *(int*)LibC.CMSG_DATA(cmsg) : null;
    }

    private static SandboxException SetupError(SetupPlan plan, ChildReport r)
    {
        if (r.Step == PostClone.CloseDescriptorsStep)
        {
            return new SandboxException(ErrorCodes.SetupFailed, $"close the runtime's descriptors in the container: {Libc.Describe(r.Errno)}",
                "close_range(2) needs Linux 5.9 or later");
        }
        var step = r.Step >= 0 && r.Step < plan.Steps.Count ? plan.Steps[r.Step] : null;
        if (step is ChdirStep chdir && r.Detail == PostClone.DetailOutsideRoot)
        {
            return new SandboxException(ErrorCodes.SetupFailed, $"change directory to {chdir.Path}: the directory is outside the container's root",
                "process.cwd must name a directory inside the rootfs");
        }
        if (step is RunHookStep hook)
        {
            return new SandboxException(ErrorCodes.HookFailed, HookRunner.Explain(hook, r.Errno, r.Detail) ?? hook.Describe(),
                $"fix or remove hooks.{hook.Kind}[{hook.Index}]");
        }
        if (step is ExecStep exec)
        {
            var where = exec.Candidates.Length == 1 ? exec.Candidates[0] : "PATH (" + string.Join(", ", exec.Candidates) + ")";
            return new SandboxException(ErrorCodes.ExecFailed, $"exec {exec.Program}: {Libc.Describe(r.Errno)}, looked for {where}",
                r.Errno == Libc.ENOENT ? "check process.args[0] and the PATH in process.env against the rootfs"
                : "check that the program is executable inside the rootfs: nothing outside the container's root (such as a /proc/PID/exe "
                  + "or /proc/PID/fd link, or a script or ELF interpreter there) may be executed");
        }
        var what = step?.Describe() ?? $"step {r.Step}";
        return new SandboxException(ErrorCodes.SetupFailed, $"{what}: {Libc.Describe(r.Errno)}", Hint(step, r.Errno));
    }

    private static string Hint(SetupStep? step, int errno) => (step, errno) switch
    {
        (MountStep, Libc.EPERM) => "this mount needs privileges the container's user namespace lacks; run as root or drop the mount",
        (MountStep, Libc.ENOENT) => "the mount source does not exist",
        (MountStep or BindDeviceStep, Libc.ENODEV) => "the kernel does not know this filesystem type",
        (SetRlimitStep, Libc.EPERM) => "the hard limit can't be raised without CAP_SYS_RESOURCE",
        (SetCapabilitiesStep, Libc.EPERM) => "a capability asked for is not available to sandbox",
        (SeccompStep { Listener: true }, Libc.EPERM) =>
            "the profile denies sendmsg or recvmsg, which hand the seccomp listener over; allow them, or run without --report",
        (SeccompStep, Libc.EBUSY) => "an enclosing seccomp filter already has a listener (sandbox inside a sandbox), and a filter chain has one; "
            + "remove the SCMP_ACT_NOTIFY rules, or run this outside the other sandbox",
        (JoinNamespaceStep, _) => "check linux.namespaces[].path",
        _ => "see docs/errors.md for this step",
    };

    private static SandboxException CloneError(int errno, SetupPlan plan)
    {
        var hint = errno switch
        {
            Libc.EPERM or Libc.ENOSPC when (plan.CloneFlags & Libc.CLONE_NEWUSER) != 0 =>
                "this host refuses new user namespaces to this user; `sandbox doctor` says why",
            Libc.EPERM => "creating namespaces needs root, or a user namespace in the config",
            Libc.EINVAL => "the kernel does not support a namespace asked for",
            _ => "see `sandbox doctor`",
        };
        return new SandboxException(ErrorCodes.CloneFailed, $"clone: {Libc.Describe(errno)}", hint);
    }

    private static void WriteIdMaps(int pid, SetupPlan plan)
    {
        if (plan.UidMap is null || plan.GidMap is null)
        {
            return;
        }
        WaitUntilWritable(pid);
        if (plan.DenySetgroups)
        {
            WriteProcFile(pid, "setgroups", "deny");
        }
        WriteProcFile(pid, "uid_map", string.Concat(plan.UidMap.Select(m => $"{m.ContainerId} {m.HostId} {m.Size}\n")));
        WriteProcFile(pid, "gid_map", string.Concat(plan.GidMap.Select(m => $"{m.ContainerId} {m.HostId} {m.Size}\n")));
    }

    /// <summary>
    /// A parent without root may write the child's /proc files only once the child has made itself dumpable (its
    /// first step, ContainerPlanner): until then they belong to root, and the child may not have run yet. Waits
    /// (up to 10 s) until they are this user's; a child that dies meanwhile is reported by the write that follows.
    /// </summary>
    private static void WaitUntilWritable(int pid)
    {
        uint uid = LibC.getuid();
        if (uid == 0)
        {
            return;
        }
        var path = System.Text.Encoding.UTF8.GetBytes($"/proc/{pid}/uid_map\0");
        var deadline = Environment.TickCount64 + 10_000;
        fixed (byte* p = path)
        {
            statx st;
            while (LibC.statx(LibC.AT_FDCWD, p, 0, LibC.STATX_UID, &st) == 0 && st.stx_uid != uid && Environment.TickCount64 < deadline)
            {
                Thread.Sleep(1);
            }
        }
    }

    private static void WriteProcFile(int pid, string name, string content)
    {
        // One write(2): the kernel accepts an id map only whole.
        var err = RawFiles.Write($"/proc/{pid}/{name}", content, create: false);
        if (err != 0)
        {
            throw new SandboxException(ErrorCodes.IdMapping, $"write /proc/{pid}/{name} ({content.Trim()}): {Libc.Describe(err)}",
                "check linux.uidMappings and linux.gidMappings: each host id must be one this user may map");
        }
    }

    /// <summary>The least a GC region can be here (the GC picks 1, 2 or 4 MiB unless DOTNET_GCRegionSize says otherwise).</summary>
    private const int MinRegionSize = 1024 * 1024;

    /// <summary>
    /// Leaves the first MiB of the .NET heap's allocation region out of the child (MADV_DONTFORK). The child never
    /// touches managed memory (the post-clone rules: only ChildContext, in native memory, and its stack), so a copy of
    /// it is pure cost: the clone copies its page tables, and each page of it this process writes again before the
    /// child's execve is copied first (about ten pages a run, 22 us each measured on the CI machine; 0.27 and 0.52 ms a
    /// run in all, in two paired A/B runs on the .NET hello world's bundle). The block is the one holding a fresh
    /// object, aligned down to the least region size: regions are aligned to their size inside the GC's own
    /// reservation, so the block is all heap, never the stack, libc's data or the native memory the child reads.
    /// Skipped when DOTNET_GCRegionSize sets a size this cannot know to be at least that.
    /// </summary>
    private static void KeepHeapFromChild()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_GCRegionSize") is not null)
        {
            return;
        }
        var probe = new byte[1];
        fixed (byte* p = probe)
        {
            var block = (byte*)((nint)p & ~(nint)(MinRegionSize - 1));
            // Advice only: a failure leaves the heap copied, as before.
            _ = LibC.madvise(block, MinRegionSize, LibC.MADV_DONTFORK);
        }
    }

    /// <summary>Makes <paramref name="path"/> the pid namespace of this process's next child; returns a descriptor of the current one.</summary>
    private static int JoinPidNamespace(string path)
    {
        var own = OpenNamespaceFile("/proc/self/ns/pid");
        var fd = OpenNamespaceFile(path);
        var ok = own >= 0 && fd >= 0 && LibC.setns(fd, LibC.CLONE_NEWPID) == 0;
        var e = LibC.errno;
        if (fd >= 0)
        {
            LibC.close(fd);
        }
        if (!ok)
        {
            if (own >= 0)
            {
                LibC.close(own);
            }
            throw new SandboxException(ErrorCodes.SetupFailed, $"join pid namespace {path}: {Libc.Describe(e)}",
                "check linux.namespaces[].path for the pid namespace");
        }
        return own;
    }

    /// <summary>Back to this process's own pid namespace for its children (an ancestor of the joined one, so always allowed).</summary>
    private static void LeavePidNamespace(int own)
    {
        var ok = LibC.setns(own, LibC.CLONE_NEWPID) == 0;
        var e = LibC.errno;
        LibC.close(own);
        if (!ok)
        {
            // Not fatal to the child, but this process could start no thread: better stop here than hang later.
            throw new SandboxException(ErrorCodes.SetupFailed, $"return to the runtime's pid namespace: {Libc.Describe(e)}", "report this as a bug");
        }
    }

    private static int OpenNamespaceFile(string path)
    {
        fixed (byte* b = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
        {
            return LibC.open(b, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        }
    }
}
