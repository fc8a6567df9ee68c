using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>Bad input gets its error code and a useful message, and leaves nothing behind.</summary>
public class BadInputTests
{
    private static void AssertNothingLeft(TestBundle b)
    {
        Assert.Empty(b.StateEntries);
        Assert.Empty(SandboxHost.ProcessesMentioning(b.Dir));
    }

    private static RunResult RunRaw(TestBundle b, string configJson)
    {
        File.WriteAllText(Path.Combine(b.Dir, "config.json"), configJson);
        return SandboxHost.Run([.. b.Global, "run", "--bundle", b.Dir, b.Id]);
    }

    [PrivilegedFact]
    public void Malformed_config_json_names_the_place()
    {
        using var b = new TestBundle();
        var r = RunRaw(b, "{ \"ociVersion\": \"1.0.2\", \"process\": { \"args\": [\"sh\",] } }");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(ErrorCodes.ConfigMalformed, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("config.json:1:", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("hint:", r.Stderr, StringComparison.Ordinal);
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_missing_rootfs_is_reported()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Root = new OciRoot { Path = "no-such-rootfs" } };
        var r = b.Sh("true").Run();
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(ErrorCodes.RootfsMissing, r.Stderr, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(b.Dir, "no-such-rootfs"), r.Stderr, StringComparison.Ordinal);
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_mount_onto_a_symlink_pointing_outside_the_rootfs_is_refused()
    {
        using var b = new TestBundle();
        var rootfs = Directory.CreateDirectory(Path.Combine(b.Dir, "rootfs")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(rootfs, "escape"), "../../../../../../../tmp");
        b.Config = b.Config with
        {
            Root = new OciRoot { Path = "rootfs" },
            Mounts = [new OciMount { Destination = "/escape/x", Type = "tmpfs", Source = "tmpfs" }],
        };
        var r = b.Sh("true").Run();
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(ErrorCodes.MountEscapes, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("$.mounts[0].destination", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists("/tmp/x"));
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void An_unknown_namespace_type_is_refused()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Linux = b.Config.Linux! with { Namespaces = [.. b.Config.Linux.Namespaces!, new OciNamespace { Type = "bogus" }] } };
        var r = b.Sh("true").Run();
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(ErrorCodes.NamespaceUnknown, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("$.linux.namespaces[6].type", r.Stderr, StringComparison.Ordinal);
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void An_rlimit_above_the_hosts_hard_limit_is_refused_with_the_limit_to_use()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Process = b.Process with { Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Soft = 1024, Hard = ulong.MaxValue - 1 }] } };
        var r = b.Sh("true").Run();
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(ErrorCodes.RlimitImpossible, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("lower the hard limit to at most", r.Stderr, StringComparison.Ordinal);
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_failing_setup_step_reports_what_failed_with_errno_and_leaves_nothing()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Mounts = [.. b.Config.Mounts!, new OciMount { Destination = "/x", Type = "nosuchfs", Source = "none" }] };
        var r = b.Sh("true").Run();
        Assert.Equal(125, r.ExitCode);
        Assert.Contains($"{ErrorCodes.SetupFailed}: mount nosuchfs on /x: ENODEV", r.Stderr, StringComparison.Ordinal);
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_program_that_is_not_there_exits_127_and_says_where_it_looked()
    {
        using var b = new TestBundle();
        var r = b.WithArgs("no-such-program").Run();
        Assert.Equal(127, r.ExitCode);
        Assert.Contains(ErrorCodes.ExecFailed, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("/usr/bin/no-such-program", r.Stderr, StringComparison.Ordinal);
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_program_that_is_not_executable_exits_126()
    {
        using var b = new TestBundle();
        var r = b.WithArgs("/etc/passwd").Run();
        Assert.Equal(126, r.ExitCode);
        Assert.Contains("EACCES", r.Stderr, StringComparison.Ordinal);
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void Command_line_mistakes_are_errors_with_codes()
    {
        using var b = new TestBundle();
        Assert.Contains(ErrorCodes.Usage, SandboxHost.Run(["frobnicate"]).Stderr, StringComparison.Ordinal);
        Assert.Contains(ErrorCodes.Usage, SandboxHost.Run([.. b.Global, "run", "--bundel", b.Dir, "x"]).Stderr, StringComparison.Ordinal);
        Assert.Contains(ErrorCodes.IdInvalid, SandboxHost.Run([.. b.Global, "state", "../etc"]).Stderr, StringComparison.Ordinal);
        Assert.Contains(ErrorCodes.SignalUnknown, SandboxHost.Run([.. b.Global, "kill", "x", "SIGBOGUS"]).Stderr, StringComparison.Ordinal);
        Assert.Contains(ErrorCodes.ConfigMissing, SandboxHost.Run([.. b.Global, "run", "--bundle", "/nonexistent", "x"]).Stderr, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Corrupt_state_is_reported_and_delete_force_clears_it()
    {
        using var b = new TestBundle();
        Directory.CreateDirectory(Path.Combine(b.StateRoot, "broken"));
        File.WriteAllText(Path.Combine(b.StateRoot, "broken", "state.json"), "{not json");
        Assert.Contains(ErrorCodes.StateCorrupt, SandboxHost.Run([.. b.Global, "state", "broken"]).Stderr, StringComparison.Ordinal);
        Assert.Equal(0, SandboxHost.Run([.. b.Global, "delete", "--force", "broken"]).ExitCode);
        Assert.Empty(b.StateEntries);
    }
}
