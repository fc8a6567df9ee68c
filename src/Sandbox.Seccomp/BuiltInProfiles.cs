using Sandbox.Oci;

namespace Sandbox.Seccomp;

/// <summary>
/// The profiles Sandbox ships. `default` allows every system call its tables know except those a contained
/// process has no business making (mount, modules, kexec, ptrace, keyctl, bpf, perf_event_open, userfaultfd, io_uring,
/// namespace changes, clock setting, ...), which fail with EPERM; clone may not create namespaces, and clone3 gets
/// ENOSYS so libc falls back to clone, whose flags the filter can see. `hermetic` is `default` with sockets limited
/// to AF_UNIX and AF_NETLINK. `unconfined` installs nothing.
/// </summary>
public static class BuiltInProfiles
{
    public static readonly string[] Names = ["default", "hermetic", "unconfined"];

    private static readonly string[] Denied =
    [
        "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module", "finit_module",
        "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "init_module", "ioperm", "iopl", "kcmp",
        // io_uring performs socket, connect, open and more without the system calls this filter sees.
        "io_uring_enter", "io_uring_register", "io_uring_setup",
        "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
        "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root",
        "process_vm_readv", "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot",
        "request_key", "setns", "settimeofday", "stime", "swapoff", "swapon", "sysfs", "_sysctl", "umount", "umount2",
        "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
        // Allowed below under conditions:
        "clone", "clone3",
    ];

    /// <summary>CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: clone may create none of them.</summary>
    private const ulong NamespaceFlags = 0x7E020000;

    private const ulong AfUnix = 1, AfNetlink = 16;

    /// <summary>A built-in name, or the path of an OCI profile JSON file; null for `unconfined`.</summary>
    public static OciSeccomp? Resolve(string nameOrPath)
    {
        if (!nameOrPath.Contains('/', StringComparison.Ordinal) && !nameOrPath.EndsWith(".json", StringComparison.Ordinal))
        {
            return Get(nameOrPath);
        }
        byte[] bytes;
        try
        {
            bytes = BoundedFile.Read(nameOrPath, out var errno)
                ?? throw new SandboxException(ErrorCodes.SeccompInvalid, $"seccomp profile {nameOrPath}: {BoundedFile.Describe(errno)}",
                    "give the path of a readable OCI seccomp profile");
        }
        catch (SandboxException e) when (e.Code == ErrorCodes.InputNotRegular)
        {
            throw new SandboxException(e.Code, $"seccomp profile {e.Message}", e.Hint); // say which input it was
        }
        OciSeccomp profile;
        try
        {
            profile = OciConfigReader.ReadSeccomp(bytes, out _)
                ?? throw new SandboxException(ErrorCodes.SeccompInvalid, $"seccomp profile {nameOrPath}: the document is null", "fix the profile's JSON");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new SandboxException(ErrorCodes.SeccompInvalid, $"seccomp profile {nameOrPath}: {OciConfigReader.SerializerMessage(e)}", "fix the profile's JSON");
        }
        profile.Source = bytes; // the whole file decides the profile
        // Checked here too, though the compiler checks again, so that the message names the file.
        var problems = NullAndNulScan.Scan(profile, "$", ErrorCodes.SeccompInvalid, ErrorCodes.SeccompInvalid);
        if (problems.Count > 0)
        {
            throw new SandboxException(ErrorCodes.SeccompInvalid,
                $"seccomp profile {nameOrPath}: " + string.Join("\n  ", problems.Select(p => $"{p.Path}: {p.Message}")), problems[0].Hint);
        }
        return profile;
    }

    /// <summary>The profile of that name, or null for `unconfined` (no filter at all).</summary>
    public static OciSeccomp? Get(string name) => name switch
    {
        "default" => Build(hermetic: false),
        "hermetic" => Build(hermetic: true),
        "unconfined" => null,
        _ => throw new SandboxException(ErrorCodes.SeccompInvalid, $"unknown seccomp profile \"{name}\"",
            $"use one of {string.Join(", ", Names)}, or the path of an OCI profile JSON file"),
    };

    private static OciSeccomp Build(bool hermetic)
    {
        var known = SeccompArch.X86_64.Table.Concat(SeccompArch.Aarch64.Table).Select(t => t.Name).Distinct(StringComparer.Ordinal);
        string[] sockets = ["socket", "socketpair"];
        var allowed = known.Where(n => !Denied.Contains(n) && !(hermetic && sockets.Contains(n))).Order(StringComparer.Ordinal).ToList();
        List<OciSyscallRule> rules =
        [
            new() { Names = allowed, Action = "SCMP_ACT_ALLOW" },
            new()
            {
                Names = ["clone"], Action = "SCMP_ACT_ALLOW",
                Args = [new() { Index = 0, Op = "SCMP_CMP_MASKED_EQ", Value = NamespaceFlags, ValueTwo = 0 }],
            },
            new() { Names = ["clone3"], Action = "SCMP_ACT_ERRNO", ErrnoRet = SeccompAction.ENOSYS },
        ];
        if (hermetic)
        {
            foreach (var family in new[] { AfUnix, AfNetlink })
            {
                rules.Add(new() { Names = [.. sockets], Action = "SCMP_ACT_ALLOW", Args = [new() { Index = 0, Op = "SCMP_CMP_EQ", Value = family }] });
            }
        }
        return new OciSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            DefaultErrnoRet = SeccompAction.EPERM,
            Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
            Syscalls = rules,
            Source = [0, .. System.Text.Encoding.ASCII.GetBytes(hermetic ? "hermetic" : "default")],
        };
    }
}
