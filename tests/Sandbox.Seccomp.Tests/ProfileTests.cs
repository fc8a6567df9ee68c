using Sandbox.Seccomp;

namespace Sandbox.Seccomp.Tests;

public class ProfileTests
{
    private static int Nr(string name) => SeccompArch.X86_64.Table.Single(t => t.Name == name).Number;

    private static uint Run(BpfInstruction[] f, string name, params ulong[] args)
    {
        var a = new ulong[6];
        args.CopyTo(a, 0);
        return BpfInterpreter.Run(f, new SeccompData(Nr(name), SeccompArch.X86_64.AuditArch, a));
    }

    [Fact]
    public void Default_allows_ordinary_calls_and_refuses_the_dangerous_ones_with_eperm()
    {
        var f = SeccompCompiler.Compile(BuiltInProfiles.Get("default")!).Program;
        foreach (var ok in new[] { "read", "write", "openat", "mmap", "futex", "execve", "socket", "connect", "mkdirat", "exit_group", "epoll_wait" })
        {
            Assert.Equal(SeccompAction.Allow, Run(f, ok, 2));
        }
        foreach (var denied in new[] { "mount", "umount2", "init_module", "kexec_load", "ptrace", "keyctl", "bpf", "perf_event_open", "userfaultfd", "unshare", "setns", "reboot" })
        {
            Assert.Equal(SeccompAction.Errno | SeccompAction.EPERM, Run(f, denied));
        }
        Assert.Equal(SeccompAction.Allow, Run(f, "clone", 0x11 /* SIGCHLD */));
        Assert.Equal(SeccompAction.Errno | SeccompAction.EPERM, Run(f, "clone", 0x20000000 /* CLONE_NEWPID */));
        Assert.Equal(SeccompAction.Errno | SeccompAction.ENOSYS, Run(f, "clone3"));
    }

    [Fact]
    public void Hermetic_limits_sockets_to_unix_and_netlink()
    {
        var f = SeccompCompiler.Compile(BuiltInProfiles.Get("hermetic")!).Program;
        Assert.Equal(SeccompAction.Allow, Run(f, "socket", 1));
        Assert.Equal(SeccompAction.Allow, Run(f, "socket", 16));
        Assert.Equal(SeccompAction.Errno | SeccompAction.EPERM, Run(f, "socket", 2));
        Assert.Equal(SeccompAction.Errno | SeccompAction.EPERM, Run(f, "socket", 10));
        Assert.Equal(SeccompAction.Errno | SeccompAction.EPERM, Run(f, "socketpair", 2));
        Assert.Equal(SeccompAction.Errno | SeccompAction.EPERM, Run(f, "mount"));
    }

    [Fact]
    public void Unconfined_is_no_filter_and_unknown_names_are_errors()
    {
        Assert.Null(BuiltInProfiles.Get("unconfined"));
        Assert.Equal(ErrorCodes.SeccompInvalid, Assert.Throws<SandboxException>(() => BuiltInProfiles.Get("strict")).Code);
    }

    [Fact]
    public void The_default_profile_compiles_to_a_short_filter()
    {
        // How fast it compiles is measured by eng/bench/seccomp.sh, not asserted here: a timed test fails at random
        // on two busy cores.
        var f = SeccompCompiler.Compile(BuiltInProfiles.Get("default")!).Program;
        Assert.True(f.Length < 600, $"{f.Length} instructions");
    }
}
