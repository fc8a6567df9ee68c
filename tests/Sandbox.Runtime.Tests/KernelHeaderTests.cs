using System.Runtime.InteropServices;
using Sandbox.Oci;
using Sandbox.Runtime;
using Sandbox.Runtime.Interop;
using static Sandbox.Runtime.Interop.Libc;


namespace Sandbox.Runtime.Tests;

/// <summary>
/// Every constant and struct layout declared by hand in Interop/ is checked against the C headers, by compiling
/// a small C program with the system compiler and comparing what it prints (the Tmds.LibC practice).
/// </summary>
public class KernelHeaderTests
{
    private static readonly Lazy<Dictionary<string, string>> Header = new(CompileAndRun);

    private static unsafe Dictionary<string, ulong> Ours() => new()
    {
        ["MS_RDONLY"] = MS_RDONLY, ["MS_NOSUID"] = MS_NOSUID, ["MS_NODEV"] = MS_NODEV, ["MS_NOEXEC"] = MS_NOEXEC,
        ["MS_SYNCHRONOUS"] = MS_SYNCHRONOUS, ["MS_REMOUNT"] = MS_REMOUNT, ["MS_MANDLOCK"] = MS_MANDLOCK, ["MS_DIRSYNC"] = MS_DIRSYNC,
        ["MS_NOSYMFOLLOW"] = MS_NOSYMFOLLOW, ["MS_NOATIME"] = MS_NOATIME, ["MS_NODIRATIME"] = MS_NODIRATIME, ["MS_BIND"] = MS_BIND,
        ["MS_MOVE"] = MS_MOVE, ["MS_REC"] = MS_REC, ["MS_SILENT"] = MS_SILENT, ["MS_UNBINDABLE"] = MS_UNBINDABLE,
        ["MS_PRIVATE"] = MS_PRIVATE, ["MS_SLAVE"] = MS_SLAVE, ["MS_SHARED"] = MS_SHARED, ["MS_RELATIME"] = MS_RELATIME,
        ["MS_STRICTATIME"] = MS_STRICTATIME, ["MNT_DETACH"] = MNT_DETACH,
        ["ST_RDONLY"] = ST_RDONLY, ["ST_NOSUID"] = ST_NOSUID, ["ST_NODEV"] = ST_NODEV, ["ST_NOEXEC"] = ST_NOEXEC,
        ["ST_NOATIME"] = ST_NOATIME, ["ST_NODIRATIME"] = ST_NODIRATIME, ["ST_RELATIME"] = ST_RELATIME,
        ["O_WRONLY"] = O_WRONLY, ["O_RDWR"] = O_RDWR, ["O_CREAT"] = O_CREAT, ["O_EXCL"] = O_EXCL, ["O_NOCTTY"] = O_NOCTTY,
        ["O_TRUNC"] = O_TRUNC, ["RENAME_EXCHANGE"] = RENAME_EXCHANGE, ["O_NONBLOCK"] = O_NONBLOCK, ["O_DIRECTORY"] = (ulong)O_DIRECTORY, ["O_NOFOLLOW"] = (ulong)O_NOFOLLOW,
        ["O_CLOEXEC"] = O_CLOEXEC, ["O_PATH"] = O_PATH, ["AT_FDCWD"] = unchecked((ulong)AT_FDCWD),
        ["AT_SYMLINK_NOFOLLOW"] = AT_SYMLINK_NOFOLLOW, ["AT_EMPTY_PATH"] = AT_EMPTY_PATH,
        ["RESOLVE_NO_XDEV"] = RESOLVE_NO_XDEV, ["RESOLVE_NO_MAGICLINKS"] = RESOLVE_NO_MAGICLINKS,
        ["RESOLVE_NO_SYMLINKS"] = RESOLVE_NO_SYMLINKS, ["RESOLVE_BENEATH"] = RESOLVE_BENEATH, ["RESOLVE_IN_ROOT"] = RESOLVE_IN_ROOT,
        ["S_IFMT"] = S_IFMT, ["S_IFDIR"] = S_IFDIR, ["S_IFCHR"] = S_IFCHR, ["S_IFBLK"] = S_IFBLK, ["S_IFREG"] = S_IFREG,
        ["S_IFIFO"] = S_IFIFO, ["S_IFLNK"] = S_IFLNK, ["CLOSE_RANGE_CLOEXEC"] = CLOSE_RANGE_CLOEXEC,
        ["CLONE_NEWTIME"] = CLONE_NEWTIME, ["CLONE_NEWNS"] = CLONE_NEWNS, ["CLONE_NEWCGROUP"] = CLONE_NEWCGROUP,
        ["CLONE_NEWUTS"] = CLONE_NEWUTS, ["CLONE_NEWIPC"] = CLONE_NEWIPC, ["CLONE_NEWUSER"] = CLONE_NEWUSER,
        ["CLONE_NEWPID"] = CLONE_NEWPID, ["CLONE_NEWNET"] = CLONE_NEWNET, ["CLONE_PARENT"] = CLONE_PARENT,
        ["TIOCSCTTY"] = TIOCSCTTY, ["TIOCSWINSZ"] = TIOCSWINSZ, ["TIOCGPTPEER"] = TIOCGPTPEER, ["TIOCGPTN"] = TIOCGPTN, ["TIOCSPTLCK"] = TIOCSPTLCK,
        ["SIGHUP"] = SIGHUP, ["SIGINT"] = SIGINT, ["SIGQUIT"] = SIGQUIT, ["SIGKILL"] = SIGKILL, ["SIGUSR1"] = SIGUSR1,
        ["SIGPIPE"] = SIGPIPE, ["SIGTERM"] = SIGTERM, ["SIGCHLD"] = SIGCHLD, ["SIGCONT"] = SIGCONT, ["SIGSTOP"] = SIGSTOP,
        ["SIGTSTP"] = SIGTSTP, ["SIGTTIN"] = SIGTTIN, ["SIGTTOU"] = SIGTTOU, ["SIGWINCH"] = SIGWINCH, ["SIGSYS"] = SIGSYS,
        ["WNOHANG"] = WNOHANG, ["__WALL"] = __WALL,
        ["PR_SET_PDEATHSIG"] = PR_SET_PDEATHSIG, ["PR_SET_KEEPCAPS"] = PR_SET_KEEPCAPS, ["PR_CAPBSET_READ"] = PR_CAPBSET_READ,
        ["PR_CAPBSET_DROP"] = PR_CAPBSET_DROP, ["PR_SET_CHILD_SUBREAPER"] = PR_SET_CHILD_SUBREAPER,
        ["PR_SET_NO_NEW_PRIVS"] = PR_SET_NO_NEW_PRIVS, ["PR_CAP_AMBIENT"] = PR_CAP_AMBIENT,
        ["PR_CAP_AMBIENT_RAISE"] = PR_CAP_AMBIENT_RAISE, ["PR_CAP_AMBIENT_CLEAR_ALL"] = PR_CAP_AMBIENT_CLEAR_ALL,
        ["SIG_BLOCK"] = SIG_BLOCK, ["SIG_UNBLOCK"] = SIG_UNBLOCK, ["SIG_SETMASK"] = SIG_SETMASK,
        ["_LINUX_CAPABILITY_VERSION_3"] = LINUX_CAPABILITY_VERSION_3, ["RLIM_INFINITY"] = RLIM_INFINITY,
        ["AF_INET"] = AF_INET, ["SOCK_DGRAM"] = SOCK_DGRAM, ["SOCK_CLOEXEC"] = SOCK_CLOEXEC,
        ["SIOCGIFFLAGS"] = SIOCGIFFLAGS, ["SIOCSIFFLAGS"] = SIOCSIFFLAGS, ["IFF_UP"] = (ulong)IFF_UP, ["IFF_RUNNING"] = (ulong)IFF_RUNNING,
        ["EPERM"] = EPERM, ["ENOENT"] = ENOENT, ["EINTR"] = EINTR, ["EACCES"] = EACCES, ["EEXIST"] = EEXIST, ["ENOTDIR"] = ENOTDIR,
        ["EINVAL"] = EINVAL, ["EPIPE"] = EPIPE, ["ENOSYS"] = ENOSYS, ["ENOTEMPTY"] = ENOTEMPTY, ["ELOOP"] = ELOOP, ["ENODEV"] = ENODEV, ["ENXIO"] = ENXIO,
        ["ETIMEDOUT"] = 110,
        ["sizeof(struct open_how)"] = (ulong)sizeof(OpenHow), ["sizeof(struct statfs)"] = (ulong)sizeof(StatFs),
        ["offsetof(struct statfs, f_flags)"] = (ulong)Marshal.OffsetOf<StatFs>(nameof(StatFs.Flags)),
        ["sizeof(struct rusage)"] = (ulong)sizeof(Rusage), ["offsetof(struct rusage, ru_maxrss)"] = (ulong)Marshal.OffsetOf<Rusage>(nameof(Rusage.Maxrss)),
        ["sizeof(siginfo_t)"] = (ulong)sizeof(SigInfo), ["sizeof(struct signalfd_siginfo)"] = (ulong)sizeof(SignalfdSiginfo), ["SFD_CLOEXEC"] = SFD_CLOEXEC, ["sizeof(struct pollfd)"] = (ulong)sizeof(PollFd),
        ["sizeof(struct ifreq)"] = (ulong)sizeof(IfReq), ["offsetof(struct ifreq, ifr_flags)"] = (ulong)Marshal.OffsetOf<IfReq>(nameof(IfReq.Flags)),
        ["sizeof(struct rlimit)"] = (ulong)sizeof(Rlimit), ["sizeof(struct __user_cap_data_struct)"] = (ulong)sizeof(CapData),
        ["sizeof(struct clone_args)"] = (ulong)sizeof(CloneArgs), ["CLONE_INTO_CGROUP"] = CloneArgs.CLONE_INTO_CGROUP,
        ["SECCOMP_SET_MODE_FILTER"] = SECCOMP_SET_MODE_FILTER, ["SECCOMP_GET_ACTION_AVAIL"] = SECCOMP_GET_ACTION_AVAIL,
        ["SECCOMP_GET_NOTIF_SIZES"] = SECCOMP_GET_NOTIF_SIZES, ["SECCOMP_FILTER_FLAG_NEW_LISTENER"] = SECCOMP_FILTER_FLAG_NEW_LISTENER,
        ["SECCOMP_USER_NOTIF_FLAG_CONTINUE"] = SECCOMP_USER_NOTIF_FLAG_CONTINUE, ["SECCOMP_IOCTL_NOTIF_RECV"] = SECCOMP_IOCTL_NOTIF_RECV,
        ["SECCOMP_IOCTL_NOTIF_SEND"] = SECCOMP_IOCTL_NOTIF_SEND,
        ["SECCOMP_IOW(4, __u64)"] = SECCOMP_IOCTL_NOTIF_SET_FLAGS, // SECCOMP_IOCTL_NOTIF_SET_FLAGS, newer than these headers
        ["SECCOMP_IOCTL_NOTIF_ID_VALID"] = SECCOMP_IOCTL_NOTIF_ID_VALID,
        ["SECCOMP_RET_USER_NOTIF"] = Sandbox.Seccomp.SeccompAction.UserNotif,
        ["SOL_SOCKET"] = SOL_SOCKET, ["SCM_RIGHTS"] = SCM_RIGHTS, ["MSG_NOSIGNAL"] = MSG_NOSIGNAL,
        ["POLLOUT"] = (ulong)POLLOUT, ["POLLERR"] = (ulong)POLLERR,
        ["sizeof(struct msghdr)"] = (ulong)sizeof(MsgHdr), ["offsetof(struct msghdr, msg_control)"] = (ulong)Marshal.OffsetOf<MsgHdr>(nameof(MsgHdr.Control)),
        ["offsetof(struct msghdr, msg_flags)"] = (ulong)Marshal.OffsetOf<MsgHdr>(nameof(MsgHdr.Flags)),
        ["CMSG_SPACE(sizeof(int))"] = CmsgFd.Size, ["CMSG_LEN(sizeof(int))"] = CmsgFd.LengthOfOne, ["sizeof(struct iovec)"] = (ulong)sizeof(IoVec),
        ["sizeof(struct seccomp_data)"] = (ulong)sizeof(SeccompDataNative), ["sizeof(struct seccomp_notif)"] = (ulong)sizeof(SeccompNotif),
        ["offsetof(struct seccomp_notif, data)"] = (ulong)Marshal.OffsetOf<SeccompNotif>(nameof(SeccompNotif.Data)),
        ["sizeof(struct seccomp_notif_resp)"] = (ulong)sizeof(SeccompNotifResp), ["sizeof(struct seccomp_notif_sizes)"] = (ulong)sizeof(SeccompNotifSizes),
        ["PR_SET_DUMPABLE"] = PR_SET_DUMPABLE, ["AT_RECURSIVE"] = AT_RECURSIVE, ["MOUNT_ATTR_RDONLY"] = MOUNT_ATTR_RDONLY,
        ["sizeof(struct mount_attr)"] = (ulong)sizeof(MountAttr), ["EOPNOTSUPP"] = EOPNOTSUPP,
        ["LANDLOCK_ACCESS_FS_EXECUTE"] = LANDLOCK_ACCESS_FS_EXECUTE, ["LANDLOCK_RULE_PATH_BENEATH"] = LANDLOCK_RULE_PATH_BENEATH,
        ["LANDLOCK_CREATE_RULESET_VERSION"] = LANDLOCK_CREATE_RULESET_VERSION,
        ["sizeof(struct landlock_path_beneath_attr)"] = (ulong)sizeof(LandlockPathBeneathAttr),
        ["offsetof(struct landlock_ruleset_attr, handled_access_fs)"] = (ulong)Marshal.OffsetOf<LandlockRulesetAttr>(nameof(LandlockRulesetAttr.HandledAccessFs)),
        ["KEYCTL_JOIN_SESSION_KEYRING"] = KEYCTL_JOIN_SESSION_KEYRING,
        ["BPF_PROG_LOAD"] = BPF_PROG_LOAD, ["BPF_PROG_ATTACH"] = BPF_PROG_ATTACH, ["BPF_PROG_TYPE_CGROUP_DEVICE"] = BPF_PROG_TYPE_CGROUP_DEVICE,
        ["BPF_CGROUP_DEVICE"] = BPF_CGROUP_DEVICE, ["BPF_F_ALLOW_MULTI"] = BPF_F_ALLOW_MULTI,
        ["BPF_DEVCG_DEV_BLOCK"] = 1, ["BPF_DEVCG_DEV_CHAR"] = 2, ["BPF_DEVCG_ACC_MKNOD"] = 1, ["BPF_DEVCG_ACC_READ"] = 2, ["BPF_DEVCG_ACC_WRITE"] = 4,
        ["offsetof(union bpf_attr, insns)"] = (ulong)Marshal.OffsetOf<BpfProgLoadAttr>(nameof(BpfProgLoadAttr.Insns)),
        ["offsetof(union bpf_attr, license)"] = (ulong)Marshal.OffsetOf<BpfProgLoadAttr>(nameof(BpfProgLoadAttr.License)),
        ["offsetof(union bpf_attr, prog_flags)"] = (ulong)Marshal.OffsetOf<BpfProgLoadAttr>(nameof(BpfProgLoadAttr.ProgFlags)),
        ["offsetof(union bpf_attr, attach_type)"] = (ulong)Marshal.OffsetOf<BpfProgAttachAttr>(nameof(BpfProgAttachAttr.AttachType)),
        ["offsetof(union bpf_attr, attach_flags)"] = (ulong)Marshal.OffsetOf<BpfProgAttachAttr>(nameof(BpfProgAttachAttr.AttachFlags)),
        ["offsetof(struct bpf_cgroup_dev_ctx, major)"] = 4, ["offsetof(struct bpf_cgroup_dev_ctx, minor)"] = 8,
        ["PER_LINUX"] = LinuxNames.PersonalityNumber("LINUX")!.Value, ["PER_LINUX32"] = LinuxNames.PersonalityNumber("LINUX32")!.Value,
        ["makedev(1,3)"] = ContainerPlanner.MakeDev(1, 3), ["makedev(4097,274)"] = ContainerPlanner.MakeDev(4097, 274),
    };

    [Fact]
    public void Constants_and_layouts_match_the_c_headers()
    {
        var header = Header.Value;
        var mismatches = Ours()
            .Where(kv => !header.TryGetValue(kv.Key, out var v) || v != kv.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Select(kv => $"{kv.Key}: ours {kv.Value}, header {header.GetValueOrDefault(kv.Key, "missing")}")
            .ToList();
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    /// <summary>The parent's SCM_RIGHTS layout, from Tmds.LibC but for CMSG_LEN (see UnixSocket.CmsgLenOfOneFd).</summary>
    [Fact]
    public unsafe void The_parents_cmsg_of_one_descriptor_matches_the_c_macros()
    {
        var header = Header.Value;
        Assert.Equal(header["CMSG_LEN(sizeof(int))"], UnixSocket.CmsgLenOfOneFd.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["CMSG_SPACE(sizeof(int))"], Tmds.Linux.LibC.CMSG_SPACE(sizeof(int)).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Capability_and_rlimit_names_are_numbered_as_the_kernel_numbers_them()
    {
        var header = Header.Value;
        for (var i = 0; i < LinuxNames.Capabilities.Length; i++)
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), header[LinuxNames.Capabilities[i]]);
        }
        for (var i = 0; i < LinuxNames.Rlimits.Length; i++)
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), header[LinuxNames.Rlimits[i]]);
        }
    }

    [Fact]
    public void Syscall_numbers_match_this_architecture()
    {
        var header = Header.Value;
        var ours = SyscallNumbers.ForCurrentArchitecture();
        Assert.Equal(header["SYS_clone"], ours.Clone.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_pivot_root"], ours.PivotRoot.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_openat2"], ours.Openat2.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_close_range"], ours.CloseRange.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_capset"], ours.Capset.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_capget"], ours.Capget.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_pidfd_open"], ours.PidfdOpen.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_setresuid"], ours.Setresuid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_setresgid"], ours.Setresgid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_setgroups"], ours.Setgroups.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_clone3"], ours.Clone3.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_seccomp"], ours.Seccomp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_mount_setattr"], ours.MountSetattr.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_landlock_create_ruleset"], ours.LandlockCreateRuleset.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_landlock_add_rule"], ours.LandlockAddRule.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_landlock_restrict_self"], ours.LandlockRestrictSelf.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_keyctl"], ours.Keyctl.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_getcwd"], ours.Getcwd.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header["SYS_bpf"], ours.Bpf.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// The arm64 numbers and the open flags that differ there (O_DIRECTORY and O_NOFOLLOW: the x86_64 values mean
    /// O_DIRECT and O_LARGEFILE on arm64, which broke every arm64 run), from the arm64 headers, through the cross
    /// compiler and qemu-aarch64.
    /// </summary>
    [Fact]
    public void The_arm64_syscall_numbers_and_open_flags_match_the_arm64_headers()
    {
        var arm64 = SyscallNumbers.ForArchitecture(System.Runtime.InteropServices.Architecture.Arm64);
        var ours = new Dictionary<string, int>
        {
            ["SYS_clone"] = arm64.Clone, ["SYS_pivot_root"] = arm64.PivotRoot, ["SYS_openat2"] = arm64.Openat2, ["SYS_close_range"] = arm64.CloseRange,
            ["SYS_capset"] = arm64.Capset, ["SYS_capget"] = arm64.Capget, ["SYS_pidfd_open"] = arm64.PidfdOpen, ["SYS_setresuid"] = arm64.Setresuid,
            ["SYS_setresgid"] = arm64.Setresgid, ["SYS_setgroups"] = arm64.Setgroups, ["SYS_clone3"] = arm64.Clone3, ["SYS_seccomp"] = arm64.Seccomp,
            ["SYS_mount_setattr"] = arm64.MountSetattr, ["SYS_open_tree"] = arm64.OpenTree, ["SYS_move_mount"] = arm64.MoveMount,
            ["SYS_landlock_create_ruleset"] = arm64.LandlockCreateRuleset, ["SYS_landlock_add_rule"] = arm64.LandlockAddRule,
            ["SYS_landlock_restrict_self"] = arm64.LandlockRestrictSelf, ["SYS_keyctl"] = arm64.Keyctl, ["SYS_getcwd"] = arm64.Getcwd, ["SYS_bpf"] = arm64.Bpf,
            ["O_DIRECTORY"] = arm64.ODirectory, ["O_NOFOLLOW"] = arm64.ONoFollow,
        };
        var header = CProgram.Values(["stdio.h", "fcntl.h", "sys/syscall.h"], ours.Keys, arm64: true);
        Assert.Equal(ours.ToDictionary(p => p.Key, p => p.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)), header);
        var x64 = SyscallNumbers.ForArchitecture(System.Runtime.InteropServices.Architecture.X64);
        Assert.Equal((0x10000, 0x20000), (x64.ODirectory, x64.ONoFollow));
    }

    private static Dictionary<string, string> CompileAndRun()
    {
        var names = Ours().Keys.Concat(LinuxNames.Capabilities).Concat(LinuxNames.Rlimits)
                .Concat(["SYS_clone", "SYS_pivot_root", "SYS_openat2", "SYS_close_range", "SYS_capset", "SYS_capget", "SYS_pidfd_open", "SYS_setresuid", "SYS_setresgid", "SYS_setgroups", "SYS_clone3", "SYS_seccomp",
                    "SYS_mount_setattr", "SYS_landlock_create_ruleset", "SYS_landlock_add_rule", "SYS_landlock_restrict_self", "SYS_keyctl", "SYS_getcwd", "SYS_bpf"]);
        return CProgram.Values(["stdio.h", "stddef.h", "errno.h", "fcntl.h", "signal.h", "sched.h", "sys/mount.h", "sys/statvfs.h", "sys/statfs.h", "sys/stat.h", "sys/wait.h", "sys/signalfd.h", "sys/prctl.h", "sys/personality.h", "sys/resource.h", "sys/socket.h", "sys/ioctl.h", "sys/syscall.h", "sys/sysmacros.h", "poll.h", "net/if.h", "linux/capability.h", "linux/openat2.h", "linux/close_range.h", "linux/sched.h", "linux/seccomp.h", "linux/landlock.h", "linux/keyctl.h", "linux/bpf.h", "sys/uio.h", "termios.h"], names);
    }
}
