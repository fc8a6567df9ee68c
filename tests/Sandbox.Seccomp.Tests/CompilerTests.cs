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
}
