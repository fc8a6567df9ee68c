using System.Runtime.InteropServices;
using System.Text;
using Sandbox.Oci;
using Sandbox.Runtime.Cgroups;
using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>The OCI lifecycle: create, start, state, kill, delete, and run (all of them in one, supervised).</summary>
internal sealed unsafe partial class Lifecycle(StateStore store, HostFacts host, TextWriter warnings)
{
    public const int ExecNotFoundExit = 127, ExecDeniedExit = 126;

    private SeccompFilterCache SeccompCache => SeccompFilterCache.In(store.Root);

    /// <summary>
    /// Runs the container in the foreground and returns its exit code, or 128+signal. <paramref name="configOverride"/>
    /// (a config.json's bytes) replaces the bundle's config.json (`run --spec` with a command of its own): bytes, so
    /// that `sandbox`, which never passes one, does not carry the serializer that writes a config.
    /// </summary>
    public int Run(LaunchOptions o, string? pidFile, byte[]? configOverride = null)
    {
        var caller = (int)LibC.getppid();
        // Before any thread is started: every thread started from here on inherits the mask.
        using var signals = SignalForwarder.Block();
        try
        {
            return RunContainer(o, pidFile, configOverride, signals);
        }
        finally
        {
            if (o.RemoveIfOrphaned is { } dir && CallerGone(caller, signals.TerminationForwarded))
            {
                RemoveCallersDirectory(dir);
            }
        }
    }

    /// <summary>
    /// Whether the caller is gone. After a terminal's SIGINT or a SIGTERM, which reach the caller too, it is given a
    /// few seconds to go: a caller that ends on the same signal may not live to clean up after this run, and a caller
    /// that survives it only waits a little longer for this run to end.
    /// </summary>
    private static bool CallerGone(int caller, bool terminationForwarded)
    {
        var until = Environment.TickCount64 + (terminationForwarded ? 5000 : 0);
        while ((int)LibC.getppid() == caller && Environment.TickCount64 < until)
        {
            Thread.Sleep(20);
        }
        return (int)LibC.getppid() != caller;
    }

    /// <summary>
    /// Removes <paramref name="dir"/> for a caller that died: only a real directory (not a link) of this user's,
    /// never one of the system's; its contents go without following links.
    /// </summary>
    private void RemoveCallersDirectory(string dir)
    {
        try
        {
            var info = new DirectoryInfo(dir);
            if (!info.Exists || info.LinkTarget is not null || Path.GetDirectoryName(dir) is null or "/" || OwnerOf(dir) != host.Uid)
            {
                warnings.WriteLine($"sandbox: warning: --remove-if-orphaned {dir}: not a directory of this user's below a top-level one; left in place");
                return;
            }
            info.Delete(recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warnings.WriteLine($"sandbox: warning: --remove-if-orphaned {dir}: {e.Message}");
        }
    }

    /// <summary>The uid that owns <paramref name="path"/> (the link itself if it is one), or null when it cannot be read.</summary>
    private static uint? OwnerOf(string path)
    {
        statx st;
        fixed (byte* p = Encoding.UTF8.GetBytes(path + "\0"))
        {
            return LibC.statx(LibC.AT_FDCWD, p, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_UID, &st) == 0 ? st.stx_uid : null;
        }
    }

    private int RunContainer(LaunchOptions o, string? pidFile, byte[]? configOverride, SignalForwarder signals)
    {
        store.CollectStale();
        var (config, bytes) = configOverride is null
            ? Load(o.Bundle)
            : Check(configOverride, Path.Combine(o.Bundle, OciConfigLoader.FileName));
        var timeout = o.Timeout ?? AnnotatedTimeout(config);
        if (o.SeccompOverride is { } seccomp)
        {
            config = config with { Linux = (config.Linux ?? new OciLinux()) with { Seccomp = Sandbox.Seccomp.BuiltInProfiles.Resolve(seccomp) } };
        }
        var plan = ContainerPlanner.Build(config, o, host, SeccompCache);
        // Claimed before anything that records into the state, and where the cgroup is made after the clone, then
        // too (while the child mounts): the id is only checked before (measured: 0.16 ms of a start).
        ContainerRecord record = null!;
        var claimed = false;
        void ClaimId()
        {
            record = Claim(o, config, bytes);
            claimed = true;
        }
        var launched = false;
        TerminalProxy? terminal = null;
        ICgroup? cgroup = null;
        SeccompSupervisor? supervisor = null;
        // Orphans of the container (a daemon that double-forked, without a pid namespace) are reparented to
        // sandbox rather than to the host's init, so that after the kill sandbox reaps them: no zombie is left.
        Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        var started = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            // A cgroup when limits, usage figures or a timeout need one: it is what kills every process at the end.
            var unenforced = (IReadOnlyList<string>)[];
            void MakeCgroup(ICgroupDriver? driver) =>
                cgroup = CreateCgroup(config, o, dirs => store.Write(record = record with { Cgroups = dirs }), out unenforced, measureUsage: o.ReportPath is not null, driver: driver);
            // On cgroup v1 the child joins its cgroup itself; when it mounts first (SetupPlan.ChildMountsFirst) the cgroup is
            // made after the clone, while it mounts, and the hierarchies are read then too (measured with the moved wait,
            // against neither: 0.8 ms of a .NET hello world's start, the median of 300 paired rotating rounds; the
            // hierarchies, 0.17 ms). Not where a timeout without a pid namespace needs to know first that there will be
            // a cgroup to kill with.
            var cgroupAfterClone = false;
            if (NeedsCgroup(config, o.ReportPath is not null || timeout is not null))
            {
                if (plan.ChildMountsFirst && CgroupHost.LooksLikeV1() && (timeout is null || NewPidNamespace(config)))
                {
                    cgroupAfterClone = true;
                }
                else
                {
                    ClaimId();
                    MakeCgroup(CgroupHost.Driver());
                }
            }
            if (!cgroupAfterClone && !claimed)
            {
                ClaimId();
            }
            else if (!claimed)
            {
                store.CheckFree(o.Id);
            }
            if (timeout is not null && cgroup is null && !NewPidNamespace(config))
            {
                throw new SandboxException(ErrorCodes.Unsupported, "a timeout needs a cgroup or a new pid namespace, to kill every process of the container",
                    "add {\"type\": \"pid\"} to linux.namespaces");
            }
            int pid;
            var cgroupFd = cgroup?.OpenForClone() ?? -1;
            try
            {
                plan = CgroupMounts.Expand(plan, cgroup?.Paths ?? []);
                var childJoins = ChildJoins(ref plan, cgroup?.Paths);
                if (!childJoins && cgroupAfterClone)
                {
                    plan = plan.JoiningCgroupFromParent();
                }
                using var program = ChildProgram.Create(plan);
                // The forwarded signals have been blocked since the run began: one sent to `sandbox run` before the
                // program started waits, and reaches the program once it runs (SignalForwarder.WaitFor). The child
                // joins its cgroup before it goes on (on v2 it is born there, by CLONE_INTO_CGROUP).
                pid = ContainerLauncher.Launch(plan, program, p => CreateRuntimeHooks(config, record, p), (p, inCgroup) =>
                {
                    // A recording filter's supervisor: answered by the wait for the container below, or, where poststart
                    // hooks may keep this thread from that wait, on a thread started while the container sets up.
                    if (plan.Seccomp is { Profile: not null } recording)
                    {
                        supervisor = config.Hooks?.Poststart is { Count: > 0 } ? SeccompSupervisor.Prepare(recording) : SeccompSupervisor.Inline(recording);
                    }
                    if (!inCgroup && !childJoins)
                    {
                        cgroup?.AddProcess(p); // none after the clone yet
                    }
                }, cgroupFd, (p, listener) => TakeListener(config, plan, record, p, listener, supervisor), p =>
                {
                    // The child mounts meanwhile (SetupPlan.ChildMountsFirst), and joins once told to go on.
                    if (cgroupAfterClone)
                    {
                        ClaimId();
                        MakeCgroup(CgroupHost.Driver());
                        var files = cgroup is null ? null : CgroupFiles.TasksFiles(cgroup.Paths);
                        var paths = new string[files?.Count ?? 0]; // a loop, not LINQ: its first use costs a run ~0.06 ms
                        for (var i = 0; i < paths.Length; i++)
                        {
                            paths[i] = files![i].Path;
                        }
                        program.CgroupTasksFiles = paths;
                        if (cgroup is not null && paths.Length == 0)
                        {
                            cgroup.AddProcess(p); // not the v1 hierarchies /sys/fs/cgroup suggested: moved in by pid
                        }
                    }
                });
                if (program.TakeConsoleSocket() is var console && console >= 0)
                {
                    terminal = TerminalProxy.Start(console);
                }
            }
            finally
            {
                if (cgroupFd >= 0)
                {
                    LibC.close(cgroupFd);
                }
            }
            launched = true;
            unenforced = [.. unenforced, .. ObsoleteLimits(config)];
            record = record with { Pid = pid, PidStartTime = ProcessInfo.StartTime(pid) ?? 0, Phase = OciStatus.Running };
            store.Write(record);
            WritePidFile(pidFile, pid);
            HookRunner.Run("poststart", config.Hooks?.Poststart, () => StateJson(record, OciStatus.Running), false, warnings);
            var timedOut = 0;
            var teardown = new Lock();
            // On a pool or watcher thread: never throw (it would end the process), never race the teardown below.
            // 1 = timed out, 3 = the parent ended; 2 = the container ended first, and nothing is killed.
            void KillContainer(int why)
            {
                lock (teardown)
                {
                    if (Interlocked.CompareExchange(ref timedOut, why, 0) != 0)
                    {
                        return;
                    }
                    LibC.kill(pid, LibC.SIGKILL);
                    try
                    {
                        cgroup?.KillAll();
                    }
                    catch (SandboxException e)
                    {
                        warnings.WriteLine($"sandbox: warning: {e.Code}: {e.Message}");
                    }
                }
            }
            using var timer = timeout is { } t ? new Timer(_ => KillContainer(1), null, t, System.Threading.Timeout.InfiniteTimeSpan) : null;
            void CallerGone() => KillContainer(3);
            var parentFd = o.DieWithParent ? WatchParent(CallerGone) : -1;
            var (status, rusage) = signals.WaitFor(pid, terminal, supervisor, parentFd, CallerGone);
            var wall = started.Elapsed;
            lock (teardown)
            {
                timer?.Change(System.Threading.Timeout.Infinite, System.Threading.Timeout.Infinite);
                Interlocked.CompareExchange(ref timedOut, 2, 0); // from here on the timer does nothing
            }
            // The first process is gone; whatever it left behind (daemons, double forks) goes with the cgroup.
            // Figures are read only for a report: a run with limits alone pays for the limits, not for statistics. In a
            // pid namespace of its own nothing is left to count (CgroupLimits.OwnPidNamespace).
            var pidsAtExit = o.ReportPath is not null && !NewPidNamespace(config) ? cgroup?.ReadPidsCurrent() : null;
            cgroup?.KillAll();
            terminal?.Dispose(); // what the terminal still holds is written out
            // Answered until now: what the container left behind kept getting the profile's errno until it was killed.
            var seccompSummary = supervisor is { IsAttached: true } ? supervisor.Stop() : new SeccompSummary
            {
                Filtered = plan.Seccomp is not null,
                // A recording filter without a supervisor: the kernel refused its listener (see TakeListener).
                Note = plan.Seccomp is null ? null : plan.SeccompNotRecorded ?? (plan.Seccomp.Profile is not null
                    ? "an enclosing seccomp filter already has a listener (sandbox inside a sandbox), so the profile's filter was installed without one"
                    : null),
            };
            var stats = o.ReportPath is not null ? cgroup?.ReadStats()
                : config.Linux?.Resources?.Memory?.Limit is not null ? cgroup?.ReadOom() : null;
            var exit = Libc.WifExited(status) ? Libc.WexitStatus(status) : 128 + Libc.WtermSig(status);
            if (timedOut == 1)
            {
                warnings.WriteLine($"sandbox: {ErrorCodes.TimedOut}: {o.Id} timed out after {timeout!.Value.TotalSeconds:0.###} s and was killed with everything it started");
            }
            else if (timedOut == 3)
            {
                warnings.WriteLine($"sandbox: {o.Id}: the process that started `sandbox run` ended (--die-with-parent), so the container was killed with everything it started");
            }
            if (stats?.OomKilled == true)
            {
                warnings.WriteLine($"sandbox: {o.Id}: the kernel's OOM killer ended a process of the container (memory limit {config.Linux?.Resources?.Memory?.Limit} bytes)");
            }
            if (o.ReportPath is { } reportPath)
            {
                var report = Report(o.Id, status, exit, rusage, wall, timedOut == 1, timeout, stats, pidsAtExit) with
                {
                    Unenforced = [.. unenforced],
                    Seccomp = seccompSummary,
                };
                WriteReport(reportPath, report);
            }
            return exit;
        }
        finally
        {
            terminal?.Dispose();
            supervisor?.Dispose();
            if (cgroup is not null)
            {
                cgroup.KillAll();
                cgroup.Remove();
            }
            ReapOrphans();
            if (launched)
            {
                HookRunner.Run("poststop", config.Hooks?.Poststop, () => StateJson(record, OciStatus.Stopped), false, warnings);
            }
            if (claimed)
            {
                store.Remove(o.Id); // never the state of another container that had the id
            }
        }
    }

    /// <summary>
    /// `run --die-with-parent`: a pidfd of the process that started `sandbox run`, which the wait for the container
    /// polls (SignalForwarder.WaitFor) and whose end kills the container. A pidfd, not PR_SET_PDEATHSIG: that fires
    /// when the parent's *thread* ends, and a .NET parent starts processes from whichever thread it likes. Opened after
    /// the container exists, so the container never holds it; a parent that ended before that is caught by getppid
    /// changing (<paramref name="gone"/> is called at once, and -1 returned).
    /// </summary>
    private static int WatchParent(Action gone)
    {
        var parent = (int)LibC.getppid();
        var fd = (int)Libc.Syscall(SyscallNumbers.ForCurrentArchitecture().PidfdOpen, parent, 0, 0, 0, 0);
        if (fd < 0)
        {
            throw new SandboxException(ErrorCodes.Unsupported, $"--die-with-parent: pidfd_open: {Libc.Describe(Libc.Errno)}", "Linux 5.3 or later is needed for --die-with-parent");
        }
        if ((int)LibC.getppid() != parent)
        {
            LibC.close(fd);
            gone();
            return -1;
        }
        return fd;
    }

    private static bool NewPidNamespace(OciConfig config) =>
        (config.Linux?.Namespaces ?? []).Any(n => n.Type == "pid" && string.IsNullOrEmpty(n.Path));

    /// <summary>
    /// linux.resources.memory.kernel is accepted and ignored, as runc does: kernel memory limits are obsolete (Linux
    /// 5.16 and later count kernel memory in the memory limit and no longer let it be limited apart). Said once.
    /// </summary>
    private IReadOnlyList<string> ObsoleteLimits(OciConfig config)
    {
        if (config.Linux?.Resources?.Memory?.Kernel is null)
        {
            return [];
        }
        const string note = "memory.kernel (kernel memory limits are obsolete: Linux 5.16 and later count kernel memory in the memory limit)";
        warnings.WriteLine($"sandbox: warning: linux.resources.{note}; ignored");
        return [note];
    }

    /// <param name="forUsage">Figures or a timeout are wanted. A cgroup mount wants one too, so that the container
    /// sees its own cgroup there rather than the runtime's.</param>
    private bool NeedsCgroup(OciConfig config, bool forUsage) =>
        forUsage || !CgroupHost.Limits(config.Linux, host.IsRoot).IsEmpty || (config.Mounts?.Exists(m => m.Type == "cgroup") ?? false);

    /// <summary>The container's cgroup, under the caller's own (or at linux.cgroupsPath), with its limits written.</summary>
    /// <param name="record">Given the directories before they exist, to write into the state (see ICgroupDriver.Create).</param>
    /// <param name="everyHierarchy">Join every hierarchy (`create`, as runc does: `update` may set any limit later).</param>
    private ICgroup? CreateCgroup(OciConfig config, LaunchOptions o, Action<IReadOnlyList<string>> record, out IReadOnlyList<string> unenforced, bool measureUsage = false,
        bool everyHierarchy = false, ICgroupDriver? driver = null)
    {
        var limits = CgroupHost.Limits(config.Linux, host.IsRoot) with
        {
            MeasureUsage = measureUsage,
            OwnPidNamespace = NewPidNamespace(config),
            // v1: the freezer kills what left the pid namespace's reach, and `sandbox pause` freezes.
            NeedFreezer = true,
            EveryHierarchy = everyHierarchy || (config.Mounts?.Exists(m => m.Type == "cgroup") ?? false),
        };
        driver ??= CgroupHost.Driver();
        if (driver is null)
        {
            var missing = limits.IsEmpty ? new List<string>() : ["all limits (no cgroup filesystem is mounted)"];
            CgroupPaths.ThrowOrList(missing, o.AllowUnenforced, "mount cgroup2 at /sys/fs/cgroup", out unenforced);
            return null;
        }
        var path = config.Linux?.CgroupsPath is { Length: > 0 } p ? p : store.CgroupName(o.Id);
        if (!limits.IsEmpty)
        {
            return driver.Create(path, limits, o.AllowUnenforced, out unenforced, record);
        }
        try
        {
            return driver.Create(path, limits, o.AllowUnenforced, out unenforced, record);
        }
        catch (SandboxException e) when (e.Code == ErrorCodes.CgroupFailed)
        {
            // Only usage figures were wanted (no limit): without a delegated cgroup the report says they are unavailable.
            unenforced = [];
            return null;
        }
    }

    /// <summary>
    /// On cgroup v1, as root, the child moves itself into the directories a cgroup made before the clone has
    /// (JoinCgroupStep, added to <paramref name="plan"/>): the runtime's write of its pid to cgroup.procs would wait for
    /// an RCU grace period (measured: 7.7 ms on this project's CI machine, in the middle of every start). False where
    /// the runtime moves it by pid (v2 without CLONE_INTO_CGROUP, rootless) or there is no cgroup.
    /// </summary>
    private bool ChildJoins(ref SetupPlan plan, IEnumerable<string>? dirs)
    {
        if (!host.IsRoot || dirs is null || CgroupFiles.TasksFiles(dirs) is not { Count: > 0 } files)
        {
            return false;
        }
        plan = plan.JoiningCgroup(files);
        return true;
    }

    private static TimeSpan? AnnotatedTimeout(OciConfig config) =>
        config.Annotations?.GetValueOrDefault(SandboxAnnotations.TimeoutMs) is { } ms && long.TryParse(ms, out var v) && v > 0
            ? TimeSpan.FromMilliseconds(v) : null;

    private static RunReport Report(string id, int status, int exit, Rusage r, TimeSpan wall, bool timedOut, TimeSpan? timeout, CgroupStats? stats, long? pidsAtExit)
    {
        var signal = Libc.WifExited(status) ? (int?)null : Libc.WtermSig(status);
        return new RunReport
        {
            Id = id,
            ExitCode = exit,
            Signal = signal,
            SignalName = signal is int s ? SignalNames.Name(s) : null,
            WallTimeMs = Math.Round(wall.TotalMilliseconds, 3),
            TimedOut = timedOut,
            TimeoutMs = timeout?.TotalMilliseconds,
            OomKilled = stats?.OomKilled ?? false,
            Usage = stats is null ? new RunUsage() : new RunUsage
            {
                PeakMemoryBytes = stats.PeakMemoryBytes,
                PeakMemorySource = stats.PeakMemorySource,
                CpuUserMs = stats.CpuUserMicros / 1000.0,
                CpuSystemMs = stats.CpuSystemMicros / 1000.0,
                CpuSource = stats.CpuSource,
                PidsPeak = stats.PidsPeak ?? pidsAtExit,
                PidsSource = stats.PidsPeak is not null ? stats.PidsSource
                    : pidsAtExit is not null ? "cgroup v1 pids.current when the first process exited (v1 keeps no peak)" : null,
                IoReadBytes = stats.IoReadBytes,
                IoWriteBytes = stats.IoWriteBytes,
                IoSource = stats.IoSource,
            },
            Rusage = new RusageFigures
            {
                MaxRssBytes = r.Maxrss * 1024,
                UserMs = r.UtimeSec * 1000.0 + r.UtimeUsec / 1000.0,
                SystemMs = r.StimeSec * 1000.0 + r.StimeUsec / 1000.0,
                MinorFaults = r.Minflt,
                MajorFaults = r.Majflt,
                VoluntaryContextSwitches = r.Nvcsw,
                InvoluntaryContextSwitches = r.Nivcsw,
            },
            Seccomp = new SeccompSummary(),
        };
    }

    /// <summary>
    /// The seccomp listener has arrived from the container: a profile with NOTIFY rules gets it handed to its
    /// listenerPath agent; a recording filter gets a supervisor that answers and counts its denials. -1: the kernel
    /// refused the listener (an enclosing filter has one) and the child installed the plain profile instead.
    /// </summary>
    private static void TakeListener(OciConfig config, SetupPlan plan, ContainerRecord record, int pid, int listener, SeccompSupervisor? supervisor = null)
    {
        if (listener < 0)
        {
            return;
        }
        var filter = plan.Seccomp!;
        if (filter.UsesNotify)
        {
            var profile = config.Linux!.Seccomp!;
            var state = StateJson(record with { Pid = pid }, OciStatus.Creating);
            ListenerForwarder.Send(profile.ListenerPath!, listener, ListenerForwarder.ProcessState(config.OciVersion ?? "1.2.0", pid, profile.ListenerMetadata, state));
            return;
        }
        if (supervisor is null)
        {
            LibC.close(listener);
            throw new SandboxException(ErrorCodes.SetupFailed, "the container sent a seccomp listener that no supervisor waits for", "report this as a bug");
        }
        supervisor.Attach(listener);
    }

    private static void WriteReport(string path, RunReport report) =>
        RawFiles.WriteAtomically(path, report.ToJson());

    /// <summary>Sets the container up and leaves its process waiting for `start`.</summary>
    public void Create(LaunchOptions o, string? pidFile)
    {
        store.CollectStale();
        var (config, bytes) = Load(o.Bundle);
        var plan = ContainerPlanner.Build(config, o with { Detached = true }, host, SeccompCache);
        var record = Claim(o, config, bytes);
        var startFd = -1;
        try
        {
            var fifo = Encoding.UTF8.GetBytes(store.FifoPath(o.Id) + "\0");
            fixed (byte* f = fifo)
            {
                // Held open read-write, the fifo never blocks its opener; the child waits on a read of it.
                if (LibC.mkfifo(f, 0x180) != 0 || (startFd = LibC.open(f, LibC.O_RDWR | LibC.O_CLOEXEC, 0)) < 0)
                {
                    throw new SandboxException(ErrorCodes.Io, $"create {store.FifoPath(o.Id)}: {Libc.Describe(LibC.errno)}", "check --root");
                }
            }
            ICgroup? cgroup = null;
            if (NeedsCgroup(config, forUsage: false))
            {
                // `events --stats` may ask for figures at any time while it runs: join the usage hierarchies too.
                cgroup = CreateCgroup(config, o, dirs => store.Write(record = record with { Cgroups = dirs }), out _, measureUsage: true, everyHierarchy: true);
            }
            ObsoleteLimits(config);
            int pid;
            plan = CgroupMounts.Expand(plan, cgroup?.Paths ?? []);
            var childJoins = ChildJoins(ref plan, cgroup?.Paths);
            using (var program = ChildProgram.Create(plan, startFd))
            {
                // Recorded at once: if this `sandbox create` dies during setup, the next one finds and kills the child.
                pid = ContainerLauncher.Launch(plan, program, p => CreateRuntimeHooks(config, record, p), (p, _) =>
                {
                    if (!childJoins)
                    {
                        cgroup?.AddProcess(p);
                    }
                    store.Write(record = record with { Pid = p, PidStartTime = ProcessInfo.StartTime(p) ?? 0 });
                }, onListener: (p, listener) => TakeListener(config, plan, record, p, listener));
            }
            record = record with { SupervisorPid = 0, SupervisorStartTime = 0, Phase = OciStatus.Created };
            store.Write(record);
            WritePidFile(pidFile, pid);
        }
        catch
        {
            CgroupHost.KillAndRemove(record.Cgroups);
            store.Remove(o.Id);
            throw;
        }
        finally
        {
            if (startFd >= 0)
            {
                LibC.close(startFd);
            }
        }
    }

    public void Start(string id)
    {
        var record = store.Read(id);
        var status = store.Status(record);
        if (status != OciStatus.Created)
        {
            throw new SandboxException(ErrorCodes.WrongState, $"container \"{id}\" is {status}, not created",
                "only a created container can be started; create a new one");
        }
        var fifo = Encoding.UTF8.GetBytes(store.FifoPath(id) + "\0");
        fixed (byte* f = fifo)
        {
            var fd = LibC.open(f, LibC.O_WRONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
            if (fd < 0)
            {
                throw new SandboxException(ErrorCodes.WrongState, $"container \"{id}\" is not waiting to start: {Libc.Describe(LibC.errno)}",
                    $"delete it with `sandbox delete --force {id}` and create it again");
            }
            byte go = 1;
            var ok = LibC.write(fd, &go, 1) == 1;
            var errno = LibC.errno;
            LibC.close(fd);
            File.Delete(store.FifoPath(id));
            if (!ok)
            {
                throw new SandboxException(ErrorCodes.WrongState, $"start container \"{id}\": {Libc.Describe(errno)}", "create it again");
            }
        }
        var config = store.ReadConfig(id);
        HookRunner.Run("poststart", config?.Hooks?.Poststart, () => StateJson(record, OciStatus.Running), false, warnings);
    }

    public OciState State(string id) => store.State(store.Read(id));

    /// <summary>`events --stats ID`: the running container's figures from its cgroup, as one JSON object.</summary>
    public string Stats(string id)
    {
        var record = store.Read(id);
        var status = store.Status(record);
        if (status is not (OciStatus.Created or OciStatus.Running))
        {
            throw new SandboxException(ErrorCodes.WrongState, $"container \"{id}\" is {status}: there is nothing to measure", "run it first");
        }
        var cgroup = CgroupHost.Open(record.Cgroups) ?? throw new SandboxException(ErrorCodes.ControllerMissing,
            $"container \"{id}\" has no cgroup, so there are no live figures",
            "give it a limit in linux.resources, or run it with --report, so sandbox puts it in a cgroup");
        var s = cgroup.ReadStats();
        using var buffer = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer, JsonWriting.Options()))
        {
            w.WriteStartObject();
            w.WriteString("type", "stats");
            w.WriteString("id", id);
            w.WriteStartObject("data");
            void Num(string name, long? v)
            {
                if (v is long x) { w.WriteNumber(name, x); } else { w.WriteNull(name); }
            }
            Num("memoryPeakBytes", s.PeakMemoryBytes);
            Num("cpuUserMicros", s.CpuUserMicros);
            Num("cpuSystemMicros", s.CpuSystemMicros);
            Num("pidsCurrent", s.PidsCurrent);
            Num("pidsPeak", s.PidsPeak);
            Num("ioReadBytes", s.IoReadBytes);
            Num("ioWriteBytes", s.IoWriteBytes);
            w.WriteBoolean("oomKilled", s.OomKilled);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <param name="all">Every process of the container (`kill --all`), not only its first.</param>
    public void Kill(string id, int signal, bool all = false)
    {
        var record = LiveRecord(id, "there is no process to signal");
        if (LibC.kill(record.Pid, signal) != 0)
        {
            throw new SandboxException(ErrorCodes.WrongState, $"kill {record.Pid}: {Libc.Describe(LibC.errno)}", "the container may have just stopped");
        }
        // Twice: a process forked while the first pass read the list is in the second one's.
        for (var pass = 0; all && pass < 2; pass++)
        {
            foreach (var pid in Processes(record).Where(p => p != record.Pid))
            {
                LibC.kill(pid, signal); // one that ended meanwhile (ESRCH) needs nothing
            }
        }
    }

    /// <summary>`sandbox pause` (freeze every process of the container) and `sandbox resume`.</summary>
    public void Pause(string id, bool pause)
    {
        var record = store.Read(id);
        var status = store.Status(record);
        var expected = pause ? OciStatus.Running : OciStatus.Paused;
        if (status != expected)
        {
            throw new SandboxException(ErrorCodes.WrongState, $"container \"{id}\" is {status}, not {expected}",
                pause ? $"only a running container can be paused (`sandbox state {id}`)" : $"only a paused container can be resumed (`sandbox state {id}`)");
        }
        var freezer = CgroupFreezer.Find(record.Cgroups)
            ?? throw new SandboxException(ErrorCodes.Unsupported, $"container \"{id}\" has no cgroup to freeze",
                "pausing needs the container's own cgroup: give it a limit (linux.resources), or run as root where cgroups can be made");
        CgroupFreezer.Set(freezer, pause);
    }

    /// <summary>
    /// `sandbox update --resources FILE`: new limits written to the container's cgroup, as they would be at create.
    /// A limit whose controller the container has no directory in is refused (`create` joins every hierarchy for this).
    /// </summary>
    public void Update(string id, Func<OciResources> read)
    {
        var record = LiveRecord(id, "there is nothing to update");
        var limits = CgroupHost.Limits(read());
        if (limits.IsEmpty)
        {
            return;
        }
        var layout = CgroupLayout.Read();
        string? Under(string mount) => record.Cgroups.FirstOrDefault(d => d.StartsWith(mount + "/", StringComparison.Ordinal));
        if (layout.Version == "v2" && layout.V2Mount is { } v2 && Under(v2) is { } dir)
        {
            CgroupV2Driver.Apply(dir, limits);
            return;
        }
        var dirs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (controller, mount) in layout.V1Mounts)
        {
            if (Under(mount) is { } d)
            {
                dirs[controller] = d;
            }
        }
        var (_, missing) = CgroupPaths.Controllers(limits, dirs.ContainsKey, "blkio", ", which the container has no cgroup in");
        if (missing.Count > 0)
        {
            throw new SandboxException(ErrorCodes.ControllerMissing, $"container \"{id}\": cannot update {string.Join(", ", missing)}",
                "a container made by `sandbox run` joins only the hierarchies its limits needed: give it that limit from the start, or use `sandbox create`");
        }
        CgroupV1Driver.Apply(dirs, limits);
    }

    /// <summary>`sandbox ps`: the container's processes, as host pids.</summary>
    public IReadOnlyList<int> Ps(string id) => Processes(LiveRecord(id, "it has no processes"));

    private ContainerRecord LiveRecord(string id, string why)
    {
        var record = store.Read(id);
        var status = store.Status(record);
        if (status is not (OciStatus.Created or OciStatus.Running or OciStatus.Paused))
        {
            throw new SandboxException(ErrorCodes.WrongState, $"container \"{id}\" is {status}: {why}",
                $"delete it with `sandbox delete {id}`");
        }
        return record;
    }

    /// <summary>
    /// The container's processes: those in its cgroup (any of its directories: a process is in all of them), and,
    /// where it has a pid namespace of its own, those in that namespace (a container run without a cgroup); its
    /// first process always. Never sandbox itself, which watches from outside both.
    /// </summary>
    internal static List<int> Processes(ContainerRecord record)
    {
        var found = new SortedSet<int> { record.Pid };
        foreach (var dir in record.Cgroups)
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(dir, "cgroup.procs")))
                {
                    if (int.TryParse(line, out var pid))
                    {
                        found.Add(pid);
                    }
                }
                break;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // not this one (a hierarchy removed, or one this user cannot read): the next
            }
        }
        var ns = PidNamespace(record.Pid);
        if (ns is not null && ns != PidNamespace(Environment.ProcessId))
        {
            foreach (var entry in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(entry), out var pid) && PidNamespace(pid) == ns)
                {
                    found.Add(pid);
                }
            }
        }
        found.Remove(Environment.ProcessId);
        found.Remove(record.SupervisorPid);
        return [.. found];
    }

    private static string? PidNamespace(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/ns/pid").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Delete(string id, bool force)
    {
        ContainerRecord record;
        try
        {
            record = store.Read(id);
        }
        catch (SandboxException e) when (force && e.Code == ErrorCodes.ContainerNotFound)
        {
            store.Remove(id); // a directory without state (a claim that never finished), if there is one
            return;
        }
        catch (SandboxException e) when (force && e.Code == ErrorCodes.StateCorrupt)
        {
            store.Remove(id);
            return;
        }
        var status = store.Status(record);
        if (status != OciStatus.Stopped)
        {
            if (!force)
            {
                throw new SandboxException(ErrorCodes.WrongState, $"container \"{id}\" is {status}",
                    $"stop it first (`sandbox kill {id} KILL`), or use `sandbox delete --force {id}`");
            }
            KillAndWait(record);
        }
        CgroupHost.KillAndRemove(record.Cgroups);
        var config = store.ReadConfig(id);
        HookRunner.Run("poststop", config?.Hooks?.Poststop, () => StateJson(record, OciStatus.Stopped), false, warnings);
        store.Remove(id);
    }

    private static void KillAndWait(ContainerRecord record)
    {
        if (record.Pid <= 0)
        {
            return;
        }
        LibC.kill(record.Pid, LibC.SIGKILL);
        CgroupFreezer.ThawForKill(record.Cgroups); // paused: the kill waits for the thaw
        // Not our child (create mode): wait until it is gone or a zombie its reaper will collect.
        for (var i = 0; i < 1000 && ProcessInfo.IsAlive(record.Pid, record.PidStartTime); i++)
        {
            Thread.Sleep(5);
        }
    }

    private static (OciConfig Config, byte[]? Bytes) Load(string bundle)
    {
        var path = Path.Combine(bundle, OciConfigLoader.FileName);
        return Check(OciConfigLoader.ReadFile(path), path);
    }

    /// <summary>Validates a config, adds the host variables its allow-list passes, and keeps its bytes if hooks need them later.</summary>
    private static (OciConfig Config, byte[]? Bytes) Check(byte[] bytes, string path)
    {
        var config = SandboxAnnotations.WithPassedEnvironment(OciConfigLoader.Parse(bytes, path), Environment.GetEnvironmentVariables);
        // Kept beside the state: `exec` joins what it names (namespaces, seccomp), `start` and `delete` run its hooks.
        return (config, bytes);
    }

    private ContainerRecord Claim(LaunchOptions o, OciConfig config, byte[]? configBytes)
    {
        var me = Environment.ProcessId;
        var record = new ContainerRecord
        {
            Id = o.Id,
            Bundle = o.Bundle,
            SupervisorPid = me,
            SupervisorStartTime = ProcessInfo.OwnStartTime,
            Created = DateTime.UtcNow.ToString("o", System.Globalization.CultureInfo.InvariantCulture),
            Annotations = config.Annotations,
            SeccompOverride = o.SeccompOverride,
        };
        store.Claim(record, configBytes);
        return record;
    }

    private byte[] CreateRuntimeHooks(OciConfig config, ContainerRecord record, int pid)
    {
        // The deprecated prestart hooks run where createRuntime does (as in runc), but see the status the
        // runtime-spec's validation expects of them: created.
        HookRunner.Run("prestart", config.Hooks?.Prestart, StateJson(record with { Pid = pid }, OciStatus.Created), true, warnings);
        var state = StateJson(record with { Pid = pid }, OciStatus.Creating);
        HookRunner.Run("createRuntime", config.Hooks?.CreateRuntime, state, true, warnings);
        return state;
    }

    private static byte[] StateJson(ContainerRecord r, string status) => OciConfigLoader.SerializeToUtf8(new OciState
    {
        Id = r.Id,
        Status = status,
        Pid = r.Pid,
        Bundle = r.Bundle,
        Annotations = r.Annotations,
    });

    private static void WritePidFile(string? path, int pid)
    {
        if (path is null)
        {
            return;
        }
        RawFiles.WriteAtomically(path, Encoding.UTF8.GetBytes(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// Collects the exit status of every orphan the container left with sandbox (its subreaper). One the teardown
    /// killed may still be on its way out, gone from the cgroup but not yet a zombie: it is waited for, up to a second
    /// (killed processes take microseconds), since once this process has ended it would be a zombie of the host's
    /// init, which need not reap it (this project's test machine's does not). Seen as a flaky test once the teardown
    /// got faster: a double-forked daemon of a container without a pid namespace, left as init's zombie.
    /// </summary>
    private static void ReapOrphans()
    {
        var until = Environment.TickCount64 + 1000;
        while (true)
        {
            int status;
            var reaped = Libc.Wait4Blocking(-1, &status, Libc.WNOHANG, null);
            if (reaped > 0)
            {
                continue;
            }
            if (reaped < 0 || Environment.TickCount64 >= until)
            {
                return; // none left (ECHILD), or one that was not killed: no cgroup and no pid namespace to kill it with
            }
            Thread.Sleep(1);
        }
    }
}
