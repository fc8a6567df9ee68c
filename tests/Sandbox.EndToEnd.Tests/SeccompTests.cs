using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>Filters compiled by sandbox, installed in the child before exec, enforced by the kernel.</summary>
public class SeccompTests
{
    private static OciSeccomp Allow(params OciSyscallRule[] rules) => new() { DefaultAction = "SCMP_ACT_ALLOW", Syscalls = [.. rules] };

    private static RunResult RunWith(TestBundle b, OciSeccomp profile)
    {
        b.Config = b.Config with { Linux = b.Config.Linux! with { Seccomp = profile } };
        return b.Run();
    }

    [PrivilegedTheory]
    [InlineData(false, "NoNewPrivs: 0")]
    [InlineData(true, "NoNewPrivs: 1")]
    public void A_filter_leaves_no_new_privs_as_the_config_says_for_an_unprivileged_user(bool noNewPrivileges, string expected)
    {
        // Podman's configs say false: the filter then goes in while setup still holds CAP_SYS_ADMIN, as in runc.
        using var b = new TestBundle();
        b.Config = b.Config with
        {
            Process = b.Process with { User = new OciUser { Uid = 1000, Gid = 1000 }, NoNewPrivileges = noNewPrivileges },
        };
        b.Sh("grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status | tr -s '\\t' ' '; id -u; mkdir /tmp/ok && echo wrote");
        var r = b.Run("--seccomp", "default", "--report", Path.Combine(b.Dir, "r.json"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["CapEff: 0000000000000000", expected, "Seccomp: 2", "1000", "wrote"], r.Stdout.Trim().Split('\n'));
    }

    [PrivilegedFact]
    public void Names_and_architectures_this_machine_lacks_are_left_out_silently_and_listed_by_seccomp_compile()
    {
        // As libseccomp does: podman's default profile alone names 86 of them, which would fill every container's log.
        using var b = new TestBundle();
        var profile = Allow(new OciSyscallRule { Names = ["no_such_call", "arm_fadvise64_64", "mkdir", "mkdirat"], Action = "SCMP_ACT_ERRNO" }) with
        {
            Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        };
        b.Sh("mkdir /tmp/d 2>/dev/null || echo refused");
        var r = RunWith(b, profile);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("refused", r.Stdout.Trim());
        Assert.Equal("", r.Stderr);
        var file = Path.Combine(b.Dir, "profile.json");
        File.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(profile, OciSeccompJsonContext.Default.OciSeccomp));
        var listed = SandboxHost.Run(["seccomp", "compile", file]);
        Assert.Contains("system call \"no_such_call\" is unknown", listed.Stdout, StringComparison.Ordinal);
        Assert.Contains("SCMP_ARCH_X32 is not supported", listed.Stdout, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void An_errno_rule_makes_mkdir_fail_with_eperm()
    {
        using var b = new TestBundle();
        b.Sh("mkdir /tmp/d 2>&1; echo rc=$?; touch /tmp/f && echo touched");
        var r = RunWith(b, Allow(new OciSyscallRule { Names = ["mkdir", "mkdirat"], Action = "SCMP_ACT_ERRNO" }));
        Assert.Contains("Operation not permitted", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("rc=1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("touched", r.Stdout, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void A_kill_process_rule_kills_with_sigsys()
    {
        using var b = new TestBundle();
        b.WithArgs("uname");
        var r = RunWith(b, Allow(new OciSyscallRule { Names = ["uname"], Action = "SCMP_ACT_KILL_PROCESS" }));
        Assert.Equal(128 + 31, r.ExitCode);
        Assert.Equal("", r.Stdout);
    }

    [PrivilegedFact]
    public void A_log_rule_lets_the_call_through()
    {
        using var b = new TestBundle();
        b.WithArgs("uname");
        var r = RunWith(b, Allow(new OciSyscallRule { Names = ["uname"], Action = "SCMP_ACT_LOG" }));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("Linux", r.Stdout.Trim());
    }

    [PrivilegedFact]
    public void An_argument_rule_refuses_one_personality_and_allows_the_others()
    {
        using var b = new TestBundle();
        // linux32 calls personality(PER_LINUX32 = 8); linux64 calls personality(PER_LINUX = 0).
        b.Sh("linux32 true 2>/dev/null && echo 32-ok || echo 32-refused; linux64 true && echo 64-ok");
        var r = RunWith(b, Allow(new OciSyscallRule
        {
            Names = ["personality"], Action = "SCMP_ACT_ERRNO", Args = [new OciSyscallArg { Index = 0, Op = "SCMP_CMP_EQ", Value = 8 }],
        }));
        Assert.Equal(["32-refused", "64-ok"], r.Stdout.Trim().Split('\n'));
    }

    [PrivilegedFact]
    public void The_hermetic_profile_blocks_inet_sockets_and_the_default_profile_does_not()
    {
        using var b = new TestBundle();
        b.Sh("nc 127.0.0.1 9 </dev/null 2>&1; echo done");
        var hermetic = b.Run("--seccomp", "hermetic");
        Assert.Contains("Operation not permitted", hermetic.Stdout, StringComparison.Ordinal);
        var dflt = b.Run("--seccomp", "default");
        Assert.Contains("Connection refused", dflt.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Operation not permitted", dflt.Stdout, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void The_default_profile_refuses_mount_and_namespace_creation()
    {
        using var b = new TestBundle();
        List<string> caps = ["CAP_SYS_ADMIN"];
        b.Config = b.Config with { Process = b.Process with { Capabilities = new OciCapabilities { Bounding = caps, Effective = caps, Permitted = caps } } };
        b.Sh("mount -t tmpfs none /tmp 2>&1; unshare -n true 2>&1; echo end");
        var r = b.Run("--seccomp", "default");
        var lines = r.Stdout.Split('\n');
        Assert.Contains("mount: permission denied", lines[0], StringComparison.Ordinal); // busybox's words for EPERM
        Assert.Contains("Operation not permitted", lines[1], StringComparison.Ordinal);
        var open = b.Run("--seccomp", "unconfined");
        Assert.Equal("end", open.Stdout.Trim());
    }

    [PrivilegedFact]
    public void A_bad_profile_is_a_clear_error_before_anything_starts()
    {
        using var b = new TestBundle();
        b.Sh("true");
        var r = RunWith(b, new OciSeccomp { DefaultAction = "SCMP_ACT_ALLOW", Syscalls = [new OciSyscallRule { Names = ["read"], Action = "SCMP_ACT_ALLOW", Args = [new OciSyscallArg { Index = 7, Op = "SCMP_CMP_EQ" }] }] });
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(ErrorCodes.SeccompInvalid, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("$.linux.seccomp.syscalls[0].args[0].index", r.Stderr, StringComparison.Ordinal);
        Assert.Empty(b.StateEntries);
    }
}
