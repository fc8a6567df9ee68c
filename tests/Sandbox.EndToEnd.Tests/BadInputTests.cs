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
    public void Create_fails_for_a_program_that_is_not_there_or_not_executable_and_leaves_nothing()
    {
        // Not at `start`, which would return 0 and leave the caller to find a dead container.
        foreach (var (program, errno) in new[] { ("no-such-program", "ENOENT"), ("/etc/passwd", "EACCES") })
        {
            using var b = new TestBundle();
            b.WithArgs(program);
            var r = b.Cli(["create", "--bundle", b.Dir, b.Id]);
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Contains($"{ErrorCodes.ExecFailed}: exec {program}: {errno}", r.Stderr, StringComparison.Ordinal);
            AssertNothingLeft(b);
        }
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
        // `--help` after a command it does not have is no way around that: podman asks `checkpoint --help` to learn
        // whether checkpointing exists. A command it has answers with the usage and 0.
        var probe = SandboxHost.Run(["checkpoint", "--help"]);
        Assert.NotEqual(0, probe.ExitCode);
        Assert.Contains($"{ErrorCodes.Usage}: unknown command \"checkpoint\"", probe.Stderr, StringComparison.Ordinal);
        var known = SandboxHost.Run(["kill", "--help"]);
        Assert.Equal(0, known.ExitCode);
        Assert.StartsWith("usage: sandbox", known.Stdout, StringComparison.Ordinal);
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

    /// <summary>Only a hang trips this: refusing bad input takes milliseconds.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private static string Fifo(string path)
    {
        using var p = System.Diagnostics.Process.Start("mkfifo", [path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return path;
    }

    private static void AssertRefused(RunResult r, string code, string text)
    {
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains(code, r.Stderr, StringComparison.Ordinal);
        Assert.Contains(text, r.Stderr, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void A_config_json_linked_to_dev_zero_is_refused_not_read_until_memory_runs_out()
    {
        using var b = new TestBundle();
        File.CreateSymbolicLink(Path.Combine(b.Dir, "config.json"), "/dev/zero");
        var r = SandboxHost.Run([.. b.Global, "run", "--bundle", b.Dir, b.Id], HangGuard);
        AssertRefused(r, ErrorCodes.InputNotRegular, "is a character device, not a regular file");
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_fifo_as_config_json_is_refused_without_blocking()
    {
        using var b = new TestBundle();
        Fifo(Path.Combine(b.Dir, "config.json"));
        AssertRefused(SandboxHost.Run([.. b.Global, "run", "--bundle", b.Dir, b.Id], HangGuard), ErrorCodes.InputNotRegular, "is a FIFO");
        AssertRefused(SandboxHost.Run([.. b.Global, "create", "--bundle", b.Dir, b.Id], HangGuard), ErrorCodes.InputNotRegular, "is a FIFO");
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_device_or_fifo_as_seccomp_profile_is_refused()
    {
        using var b = new TestBundle();
        b.Sh("true").Write();
        var fifo = Fifo(Path.Combine(b.Dir, "profile.json"));
        AssertRefused(SandboxHost.Run([.. b.Global, "run", "--seccomp", "/dev/zero", "--bundle", b.Dir, b.Id], HangGuard), ErrorCodes.InputNotRegular, "/dev/zero");
        AssertRefused(SandboxHost.Run([.. b.Global, "run", "--seccomp", fifo, "--bundle", b.Dir, b.Id], HangGuard), ErrorCodes.InputNotRegular, "is a FIFO");
        AssertRefused(SandboxHost.Run(["seccomp", "compile", "/dev/zero"], HangGuard), ErrorCodes.InputNotRegular, "/dev/zero");
        AssertRefused(SandboxHost.Run(["seccomp", "compile", fifo], HangGuard), ErrorCodes.InputNotRegular, "is a FIFO");
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_device_as_sandbox_yaml_or_as_its_seccomp_profile_is_refused()
    {
        using var b = new TestBundle();
        var env = new Dictionary<string, string> { ["SANDBOX_CACHE"] = Path.Combine(b.Dir, "cache") };
        var spec = Path.Combine(b.Dir, "sandbox.yaml");
        File.WriteAllText(spec, "version: 1\ncommand: [/bin/true]\nseccomp: /dev/zero\n");
        // Refused where the spec names it, before anything opens it.
        AssertRefused(SandboxHost.Run(["build", spec, "-o", Path.Combine(b.Dir, "out")], HangGuard, env: env), "SBX4009",
            $"{spec}:3:10: SBX4009: `seccomp` /dev/zero is a character device, not a regular file");
        var r = SandboxHost.Run(["build", "/dev/zero", "-o", Path.Combine(b.Dir, "out")], HangGuard, env: env);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("/dev/zero:1:1: SBX4024: cannot read the file: /dev/zero: is a character device", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(b.Dir, "out")));
    }

    [PrivilegedFact]
    public void Sandbox_yaml_problems_are_listed_as_compilers_list_them_each_code_once_each_with_its_hint()
    {
        using var b = new TestBundle();
        var env = new Dictionary<string, string> { ["SANDBOX_CACHE"] = Path.Combine(b.Dir, "cache") };
        var spec = Path.Combine(b.Dir, "sandbox.yaml");
        File.WriteAllText(spec, "version: 1\nhostnmae: x\ncommand: [/bin/true]\nnetwork: bridge\n");
        var r = SandboxHost.Run(["build", spec, "-o", Path.Combine(b.Dir, "out")], HangGuard, env: env);
        Assert.True(r.ExitCode == 125, r.ToString());
        var lines = r.Stderr.TrimEnd('\n').Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.StartsWith($"{spec}:2:1: SBX4005: unknown key `hostnmae` at the top level", lines[0], StringComparison.Ordinal);
        Assert.Equal("  hint: did you mean `hostname`?", lines[1]);
        Assert.StartsWith($"{spec}:4:10: SBX4007: `network` is 'bridge'", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("  hint: ", lines[3], StringComparison.Ordinal);
        Assert.Equal(1, r.Stderr.Split("SBX4005").Length - 1);
        Assert.False(Directory.Exists(Path.Combine(b.Dir, "out")));
    }

    [PrivilegedFact]
    public void A_null_argument_is_refused_rather_than_cutting_argv_short()
    {
        using var b = new TestBundle();
        var r = RunRaw(b, OciConfigLoader.Serialize(b.Sh("echo ran").Config).Replace("\"echo ran\"", "\"echo ran\", null", StringComparison.Ordinal));
        AssertRefused(r, ErrorCodes.ConfigMalformed, "$.process.args[3]: null is not allowed");
        Assert.DoesNotContain("ran", r.Stdout, StringComparison.Ordinal);
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_nul_in_the_root_path_is_refused()
    {
        using var b = new TestBundle();
        var r = RunRaw(b, OciConfigLoader.Serialize(b.Sh("true").Config with { Root = new OciRoot { Path = "rootfs\0" } }));
        AssertRefused(r, ErrorCodes.ConfigInvalid, "$.root.path: holds a NUL character");
        AssertNothingLeft(b);
    }

    [PrivilegedFact]
    public void A_host_sysctl_is_refused_and_the_host_keeps_its_value()
    {
        using var b = new TestBundle();
        var before = File.ReadAllText("/proc/sys/vm/swappiness");
        b.Config = b.Sh("true").Config with { Linux = b.Config.Linux! with { Sysctl = new() { ["vm.swappiness"] = before.Trim() == "7" ? "8" : "7" } } };
        AssertRefused(b.Run(), ErrorCodes.SysctlRefused, "$.linux.sysctl.vm.swappiness: is not namespaced");
        Assert.Equal(before, File.ReadAllText("/proc/sys/vm/swappiness"));
        AssertNothingLeft(b);
    }
}
