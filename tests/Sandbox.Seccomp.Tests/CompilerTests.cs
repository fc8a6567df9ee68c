using Sandbox.Oci;
using Sandbox.Seccomp;

namespace Sandbox.Seccomp.Tests;

public class CompilerTests
{
    private static readonly ulong[] Edges =
    [
        0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x1_0000_0000, 0x1_0000_0001, 0xffff_ffff_0000_0000,
        0x8000_0000_0000_0000, 0xffff_ffff_ffff_fffe, 0xffff_ffff_ffff_ffff, 0x0000_0001_ffff_ffff,
    ];

    private static OciSeccomp Profile(string defaultAction, params OciSyscallRule[] rules) => new()
    {
        DefaultAction = defaultAction,
        Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        Syscalls = [.. rules],
    };

    private static OciSyscallRule Rule(string action, string[] names, params OciSyscallArg[] args) =>
        new() { Action = action, Names = [.. names], Args = args.Length > 0 ? [.. args] : null };

    private static OciSyscallArg Arg(uint index, string op, ulong value, ulong valueTwo = 0) => new() { Index = index, Op = op, Value = value, ValueTwo = valueTwo };

    /// <summary>Random and edge inputs on both architectures and a foreign one; every verdict must agree.</summary>
    private static void AgreesEverywhere(OciSeccomp profile, int samples = 20000, int seed = 7)
    {
        var filter = SeccompCompiler.Compile(profile).Program;
        Assert.True(filter.Length <= SeccompCompiler.MaxInstructions);
        var rng = new Random(seed);
        uint[] arches = [SeccompArch.X86_64.AuditArch, SeccompArch.Aarch64.AuditArch, 0x40000003];
        var interesting = (profile.Syscalls ?? []).SelectMany(s => s.Names!)
            .SelectMany(n => SeccompArch.X86_64.Table.Concat(SeccompArch.Aarch64.Table).Where(t => t.Name == n).Select(t => t.Number)).ToArray();
        var argValues = Edges.Concat((profile.Syscalls ?? []).SelectMany(s => s.Args ?? []).SelectMany(a => new[] { a.Value, a.Value - 1, a.Value + 1, a.ValueTwo, a.Value ^ 0x1_0000_0000 })).ToArray();
        for (var i = 0; i < samples; i++)
        {
            var nr = rng.Next(5) switch
            {
                0 => rng.Next(0, 500),
                1 => interesting.Length > 0 ? interesting[rng.Next(interesting.Length)] : 0,
                2 => unchecked((int)(0x40000000 | (uint)rng.Next(0, 600))),
                3 => rng.Next(),
                _ => interesting.Length > 0 ? interesting[rng.Next(interesting.Length)] : 1,
            };
            var args = Enumerable.Range(0, 6).Select(_ => rng.Next(3) == 0 ? (ulong)rng.NextInt64() * 2 : argValues[rng.Next(argValues.Length)]).ToArray();
            var d = new SeccompData(nr, arches[rng.Next(arches.Length)], args);
            Assert.True(ProfileEvaluator.Evaluate(profile, d) == BpfInterpreter.Run(filter, d), $"nr {nr}, arch 0x{d.Arch:x}, args {string.Join(",", args)}");
        }
    }

    [Fact]
    public void An_allow_list_with_argument_rules_of_every_operator_agrees_with_the_profile()
    {
        var profile = Profile("SCMP_ACT_ERRNO",
            Rule("SCMP_ACT_ALLOW", ["read", "write", "openat", "close", "exit_group", "futex", "mmap", "clone3"]),
            Rule("SCMP_ACT_ALLOW", ["personality"], Arg(0, "SCMP_CMP_EQ", 0)),
            Rule("SCMP_ACT_ALLOW", ["personality"], Arg(0, "SCMP_CMP_EQ", 0xffffffff)),
            Rule("SCMP_ACT_ALLOW", ["socket"], Arg(0, "SCMP_CMP_NE", 2), Arg(1, "SCMP_CMP_LT", 0x1_0000_0005)),
            Rule("SCMP_ACT_KILL_PROCESS", ["kill"], Arg(1, "SCMP_CMP_LE", 9)),
            Rule("SCMP_ACT_LOG", ["kill"], Arg(1, "SCMP_CMP_GT", 0xffff_ffff_0000_0001)),
            Rule("SCMP_ACT_TRAP", ["ioctl"], Arg(1, "SCMP_CMP_GE", 0x8000_0000_0000_0000)),
            Rule("SCMP_ACT_ERRNO", ["ioctl"], Arg(2, "SCMP_CMP_MASKED_EQ", 0xffff_0000_0000_00ff, 0x1234_0000_0000_0042)) with { ErrnoRet = 22 },
            Rule("SCMP_ACT_TRACE", ["ptrace"]) with { ErrnoRet = 7 },
            Rule("SCMP_ACT_KILL", ["reboot"]));
        AgreesEverywhere(profile);
    }

    [Fact]
    public void A_deny_list_with_default_allow_agrees_with_the_profile()
    {
        AgreesEverywhere(Profile("SCMP_ACT_ALLOW",
            Rule("SCMP_ACT_ERRNO", ["mount", "umount2", "mkdirat", "mkdir", "kexec_load", "bpf"]),
            Rule("SCMP_ACT_KILL_PROCESS", ["unshare"], Arg(0, "SCMP_CMP_MASKED_EQ", 0x10000000, 0x10000000))));
    }

    [Fact]
    public void The_architecture_is_checked_first_and_x32_calls_are_killed()
    {
        var p = Profile("SCMP_ACT_ALLOW") with { Architectures = ["SCMP_ARCH_X86_64"] };
        var f = SeccompCompiler.Compile(p).Program;
        Assert.Equal(SeccompAction.KillProcess, BpfInterpreter.Run(f, new SeccompData(0, SeccompArch.Aarch64.AuditArch, new ulong[6])));
        Assert.Equal(SeccompAction.KillProcess, BpfInterpreter.Run(f, new SeccompData(unchecked((int)0x40000001), SeccompArch.X86_64.AuditArch, new ulong[6])));
        Assert.Equal(SeccompAction.Allow, BpfInterpreter.Run(f, new SeccompData(1, SeccompArch.X86_64.AuditArch, new ulong[6])));
        Assert.Equal(BpfInstruction.LdAbsW, f[0].Code);
        Assert.Equal(4u, f[0].K);
    }

    [Fact]
    public void A_tracers_skipped_call_passes_even_where_everything_else_is_denied()
    {
        var f = SeccompCompiler.Compile(Profile("SCMP_ACT_KILL_PROCESS")).Program;
        foreach (var arch in new[] { SeccompArch.X86_64, SeccompArch.Aarch64 })
        {
            Assert.Equal(SeccompAction.Allow, BpfInterpreter.Run(f, new SeccompData(-1, arch.AuditArch, new ulong[6])));
            Assert.Equal(SeccompAction.KillProcess, BpfInterpreter.Run(f, new SeccompData(0, arch.AuditArch, new ulong[6])));
        }
    }

    [Fact]
    public void Numbers_beyond_the_newest_known_get_enosys()
    {
        var p = Profile("SCMP_ACT_KILL_PROCESS");
        var f = SeccompCompiler.Compile(p).Program;
        var beyond = new SeccompData(SeccompArch.X86_64.Highest + 1, SeccompArch.X86_64.AuditArch, new ulong[6]);
        Assert.Equal(SeccompAction.Errno | SeccompAction.ENOSYS, BpfInterpreter.Run(f, beyond));
    }

    [Fact]
    public void Unknown_names_are_warnings_and_skipped()
    {
        var c = SeccompCompiler.Compile(Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", ["mkdirat", "no_such_call"])));
        Assert.Contains(c.Warnings, w => w.Contains("no_such_call", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{ "defaultAction": "SCMP_ACT_FROB" }""", "$.linux.seccomp.defaultAction")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 1, "op": "SCMP_CMP_LIKE" } ] } ] }""", "$.linux.seccomp.syscalls[0].args[0].op")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 6, "value": 1, "op": "SCMP_CMP_EQ" } ] } ] }""", "$.linux.seccomp.syscalls[0].args[0].index")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "architectures": [] }""", "$.linux.seccomp.architectures")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["read"], "action": "SCMP_ACT_NOPE" } ] }""", "$.linux.seccomp.syscalls[0].action")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_NOTIFY" }""", "$.linux.seccomp.listenerPath")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"] }""", "$.linux.seccomp.flags")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock", "syscalls": [ { "names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY" } ] }""", "sendmsg may not be SCMP_ACT_NOTIFY")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/agent.sock", "syscalls": [ { "names": ["read"], "action": "SCMP_ACT_ALLOW" } ] }""", "sendmsg may not be SCMP_ACT_NOTIFY")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock", "syscalls": [ { "names": ["recvmsg"], "action": "SCMP_ACT_NOTIFY", "args": [ { "index": 2, "value": 0, "op": "SCMP_CMP_EQ" } ] } ] }""", "recvmsg may not be SCMP_ACT_NOTIFY")]
    public void Bad_profiles_are_clear_errors(string json, string path)
    {
        var p = System.Text.Json.JsonSerializer.Deserialize(json, OciSeccompJsonContext.Default.OciSeccomp)!;
        var e = Assert.Throws<SandboxException>(() => SeccompCompiler.Compile(p));
        Assert.Equal(ErrorCodes.SeccompInvalid, e.Code);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_profile_that_would_exceed_4096_instructions_is_refused()
    {
        var rules = Enumerable.Range(0, 400).Select(i => Rule("SCMP_ACT_ALLOW", ["ioctl"], Arg(1, "SCMP_CMP_EQ", (ulong)i), Arg(2, "SCMP_CMP_EQ", (ulong)i))).ToArray();
        var e = Assert.Throws<SandboxException>(() => SeccompCompiler.Compile(Profile("SCMP_ACT_ERRNO", rules)));
        Assert.Contains("4096", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_notify_profile_that_allows_sendmsg_compiles()
    {
        var p = Profile("SCMP_ACT_NOTIFY", Rule("SCMP_ACT_ALLOW", ["sendmsg", "recvmsg", "read"]));
        p.ListenerPath = "/run/agent.sock";
        var c = SeccompCompiler.Compile(p, record: true);
        Assert.True(c.UsesNotify);
        Assert.Null(c.Profile); // the listener belongs to the agent: nothing is recorded
        Assert.True(c.NeedsListener);
    }

    /// <summary>
    /// A recording filter answers like the profile everywhere, except that what the profile denies with an errno
    /// (ENOSYS aside) goes to the supervisor, sendmsg keeps the profile's verdict, and with address inspection
    /// connect() and sendto() with an address go to the supervisor too.
    /// </summary>
    [Theory]
    [InlineData("default", false)]
    [InlineData("hermetic", true)]
    public void A_recording_filter_notifies_exactly_the_profiles_denials(string name, bool inspects)
    {
        var profile = BuiltInProfiles.Get(name)!;
        var c = SeccompCompiler.Compile(profile, record: true);
        Assert.NotNull(c.Profile);
        Assert.Equal(inspects, c.InspectsAddresses);
        Assert.Equal(SeccompCompiler.Compile(profile).Program, c.Profile);
        var rng = new Random(11);
        var notified = 0;
        foreach (var arch in new[] { SeccompArch.X86_64, SeccompArch.Aarch64 })
        {
            for (var i = 0; i < 20000; i++)
            {
                var nr = i < arch.Highest + 40 ? i : rng.Next(0, arch.Highest + 40);
                var args = Enumerable.Range(0, 6).Select(_ => rng.Next(3) switch { 0 => 0UL, 1 => (ulong)rng.Next(0, 20), _ => (ulong)rng.NextInt64() }).ToArray();
                var d = new SeccompData(nr, arch.AuditArch, args);
                var expected = BpfInterpreter.Run(c.Profile!, d);
                var name2 = arch.Table.FirstOrDefault(t => t.Number == nr).Name;
                if (!SeccompCompiler.ListenerChannel.Contains(name2) && SeccompCompiler.IsRecordedDenial(expected))
                {
                    expected = SeccompAction.UserNotif;
                }
                if (inspects && (name2 == "connect" || (name2 == "sendto" && args[4] != 0)))
                {
                    expected = SeccompAction.UserNotif;
                }
                var actual = BpfInterpreter.Run(c.Program, d);
                Assert.True(expected == actual, $"{arch.Name} nr {nr} ({name2}) args {string.Join(",", args)}: expected 0x{expected:x}, got 0x{actual:x}");
                notified += actual == SeccompAction.UserNotif ? 1 : 0;
            }
        }
        Assert.True(notified > 100, $"only {notified} notified inputs");
    }

    [Fact]
    public void A_recording_filter_leaves_the_listener_hand_over_to_the_profile_even_when_it_is_denied()
    {
        var p = Profile("SCMP_ACT_ERRNO", Rule("SCMP_ACT_ALLOW", ["read", "write", "execve"]));
        var c = SeccompCompiler.Compile(p, record: true);
        var mkdirat = SeccompArch.Native.Numbers["mkdirat"];
        foreach (var call in SeccompCompiler.ListenerChannel)
        {
            Assert.Equal(SeccompAction.Errno | SeccompAction.EPERM, BpfInterpreter.Run(c.Program, new SeccompData(SeccompArch.Native.Numbers[call], SeccompArch.Native.AuditArch, new ulong[6])));
        }
        Assert.Equal(SeccompAction.UserNotif, BpfInterpreter.Run(c.Program, new SeccompData(mkdirat, SeccompArch.Native.AuditArch, new ulong[6])));
        Assert.False(c.InspectsAddresses); // socket() is not limited by argument here
    }
}
