using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Sandbox.Oci;
using Sandbox.Seccomp;
using Xunit.Abstractions;

namespace Sandbox.Seccomp.Tests;

/// <summary>
/// A test that needs libseccomp.so.2 (or, with needsHeader, seccomp.h and a C compiler). It skips with a reason where
/// the library is missing; under CI=true (where eng/install-deps.sh installs it) it never skips for the library, so a
/// CI without it fails instead of passing silently. The header comes with libseccomp-dev, which CI need not have.
/// </summary>
public sealed class LibseccompFactAttribute : FactAttribute
{
    public const string HeaderPath = "/usr/include/seccomp.h";

    public LibseccompFactAttribute(bool needsHeader = false)
    {
        NeedsHeader = needsHeader;
        if (!Libseccomp.IsAvailable && Environment.GetEnvironmentVariable("CI") != "true")
        {
            Skip = $"{Libseccomp.Library} cannot be loaded: install the libseccomp2 package to compare filters with it";
        }
        else if (needsHeader && !File.Exists(HeaderPath))
        {
            Skip = $"{HeaderPath} is missing: install libseccomp-dev to check the declarations against it";
        }
    }

    public bool NeedsHeader { get; }
}

/// <summary>
/// The built-in profiles compiled by SeccompCompiler, against the filter libseccomp exports for the same profile: both
/// programs run through BpfInterpreter on every system call number of each architecture with edge and random
/// arguments, and must return the same value.
/// </summary>
public class LibseccompComparisonTests(ITestOutputHelper output)
{
    /// <summary>Audit architectures neither filter admits: i386, arm, riscv64, and two nonsense values.</summary>
    private static readonly uint[] ForeignArches = [0x40000003, 0x40000028, 0xc00000f3, 0, 0xffffffff];

    private static readonly ulong[] Edges =
    [
        0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x1_0000_0000, 0x1_0000_0001, 0xffff_ffff_0000_0000,
        0x8000_0000_0000_0000, 0xffff_ffff_ffff_fffe, 0xffff_ffff_ffff_ffff,
    ];

    [LibseccompFact]
    public void The_default_profile_gets_the_same_verdicts_from_libseccomps_filter() => CompareWithLibseccomp("default");

    [LibseccompFact]
    public void The_hermetic_profile_gets_the_same_verdicts_from_libseccomps_filter() => CompareWithLibseccomp("hermetic");

    [LibseccompFact(needsHeader: true)]
    public void The_libseccomp_declarations_match_seccomp_h()
    {
        var expected = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["sizeof(struct scmp_arg_cmp)"] = Marshal.SizeOf<Libseccomp.ArgCmp>(),
            ["offsetof(struct scmp_arg_cmp, arg)"] = Marshal.OffsetOf<Libseccomp.ArgCmp>(nameof(Libseccomp.ArgCmp.Arg)),
            ["offsetof(struct scmp_arg_cmp, op)"] = Marshal.OffsetOf<Libseccomp.ArgCmp>(nameof(Libseccomp.ArgCmp.Op)),
            ["offsetof(struct scmp_arg_cmp, datum_a)"] = Marshal.OffsetOf<Libseccomp.ArgCmp>(nameof(Libseccomp.ArgCmp.DatumA)),
            ["offsetof(struct scmp_arg_cmp, datum_b)"] = Marshal.OffsetOf<Libseccomp.ArgCmp>(nameof(Libseccomp.ArgCmp.DatumB)),
            ["sizeof(enum scmp_compare)"] = System.Runtime.CompilerServices.Unsafe.SizeOf<Libseccomp.Compare>(),
            ["SCMP_CMP_NE"] = (long)Libseccomp.Compare.Ne,
            ["SCMP_CMP_LT"] = (long)Libseccomp.Compare.Lt,
            ["SCMP_CMP_LE"] = (long)Libseccomp.Compare.Le,
            ["SCMP_CMP_EQ"] = (long)Libseccomp.Compare.Eq,
            ["SCMP_CMP_GE"] = (long)Libseccomp.Compare.Ge,
            ["SCMP_CMP_GT"] = (long)Libseccomp.Compare.Gt,
            ["SCMP_CMP_MASKED_EQ"] = (long)Libseccomp.Compare.MaskedEq,
            ["SCMP_ACT_KILL_PROCESS"] = Libseccomp.ActKillProcess,
            ["SCMP_ACT_KILL_THREAD"] = Libseccomp.ActKillThread,
            ["SCMP_ACT_TRAP"] = Libseccomp.ActTrap,
            ["SCMP_ACT_NOTIFY"] = Libseccomp.ActNotify,
            ["SCMP_ACT_LOG"] = Libseccomp.ActLog,
            ["SCMP_ACT_ALLOW"] = Libseccomp.ActAllow,
            ["SCMP_ACT_ERRNO(0x12345)"] = Libseccomp.ActErrno(0x12345),
            ["SCMP_ACT_TRACE(0x12345)"] = Libseccomp.ActTrace(0x12345),
            ["SCMP_FLTATR_ACT_BADARCH"] = Libseccomp.AttrActBadArch,
            ["__NR_SCMP_ERROR"] = Libseccomp.NrScmpError,
        };
        var output = CProgram.Output("#include <stddef.h>\n#include <stdio.h>\n#include <seccomp.h>",
            expected.Keys.Select(k => $"  printf(\"%s\\t%lld\\n\", \"{k}\", (long long)({k}));"));
        foreach (var line in output)
        {
            var (name, value) = (line.Split('\t')[0], long.Parse(line.Split('\t')[1], CultureInfo.InvariantCulture));
            Assert.True(expected[name] == value, $"{name}: declared {expected[name]}, header {value}");
        }
    }

    private void CompareWithLibseccomp(string profileName)
    {
        var profile = BuiltInProfiles.Get(profileName)!;
        var ours = SeccompCompiler.Compile(profile).Program;
        var theirs = LibseccompFilter.Export(profile);
        // Every call of the built-in profiles can be given to libseccomp faithfully; were that to change, the calls
        // left out would shrink the comparison without anyone noticing.
        Assert.Empty(theirs.Inexpressible);

        var rng = new Random(7);
        var compared = 0;
        var excluded = new List<string>();
        var mismatches = new List<string>();
        void Check(SeccompData d, string what)
        {
            compared++;
            var a = BpfInterpreter.Run(ours, d);
            var b = BpfInterpreter.Run(theirs.Program, d);
            if (a != b && mismatches.Count < 20)
            {
                mismatches.Add($"{what} nr 0x{d.Nr:x} arch 0x{d.Arch:x} args [{string.Join(", ", d.Args.Select(x => $"0x{x:x}"))}]: ours 0x{a:x8}, libseccomp's 0x{b:x8}");
            }
        }

        var archs = (profile.Architectures ?? []).Select(SeccompArch.ByName).OfType<SeccompArch>().ToList();
        foreach (var arch in archs)
        {
            var token = LibseccompFilter.ArchToken(arch.Name);
            var byNumber = arch.Table.ToDictionary(t => t.Number, t => t.Name);
            // The rules each filter was given for a number: by our table's numbering and by libseccomp's. Only numbers
            // where the two name the same calls of the profile are compared; elsewhere the tables differ (calls newer
            // than libseccomp's table, which it cannot add), not the compilers.
            var profileNames = theirs.Rules.Keys.ToList();
            var oursAt = profileNames.Where(arch.Numbers.ContainsKey).ToLookup(n => arch.Numbers[n]);
            var theirsAt = profileNames.Select(n => (Name: n, Nr: Libseccomp.SyscallResolveNameArch(token, Libseccomp.CString(n))))
                .Where(t => t.Nr >= 0).ToLookup(t => t.Nr, t => t.Name);
            // Numbers above arch.Highest are left out by design: ours returns ERRNO(ENOSYS) for them so that a libc
            // newer than our table falls back, libseccomp returns the default action.
            for (var nr = 0; nr <= arch.Highest; nr++)
            {
                var name = byNumber.GetValueOrDefault(nr, "(none)");
                if (!oursAt[nr].Order(StringComparer.Ordinal).SequenceEqual(theirsAt[nr].Order(StringComparer.Ordinal)))
                {
                    excluded.Add($"{arch.Name} {nr} {name}: our table names [{string.Join(", ", oursAt[nr])}], libseccomp's [{string.Join(", ", theirsAt[nr])}]");
                    continue;
                }
                var conditions = (profile.Syscalls ?? []).Where(s => (s.Names ?? []).Any(oursAt[nr].Contains)).SelectMany(s => s.Args ?? []).ToList();
                foreach (var args in ArgumentVectors(conditions, rng))
                {
                    Check(new SeccompData(nr, arch.AuditArch, args), $"{arch.Name} {name}");
                }
            }
            if (arch == SeccompArch.X86_64)
            {
                // x32 calls: ours tests the x32 bit, libseccomp "nr >= 0x40000000"; both send them to the bad-arch
                // action, which LibseccompFilter sets to our KILL_PROCESS. Left out by design: numbers from 0x80000000
                // without the x32 bit (beyond our highest, so ENOSYS for us, bad-arch for libseccomp), and nr -1 (a
                // tracer's "skip this call"), which libseccomp sends to its default action and ours allows, since the
                // kernel runs nothing for it.
                for (var n = 0; n <= arch.Highest + 64; n += 3)
                {
                    Check(new SeccompData(unchecked((int)(SeccompArch.X32SyscallBit | (uint)n)), arch.AuditArch, RandomArgs(rng)), "x32");
                    Check(new SeccompData(unchecked((int)(0xc0000000 | (uint)rng.Next(0, 0x3fffffff))), arch.AuditArch, RandomArgs(rng)), "x32");
                }
            }
        }
        // Architectures outside the profile: ours kills the process, libseccomp's bad-arch action (set to the same).
        foreach (var foreign in ForeignArches.Concat([SeccompArch.X86_64.AuditArch, SeccompArch.Aarch64.AuditArch]).Where(a => archs.All(x => x.AuditArch != a)))
        {
            for (var i = 0; i < 200; i++)
            {
                Check(new SeccompData(i % 2 == 0 ? rng.Next(0, 500) : rng.Next(int.MinValue, int.MaxValue), foreign, RandomArgs(rng)), "foreign arch");
            }
        }

        output.WriteLine($"{profileName}: {ours.Length} instructions ours, {theirs.Program.Length} libseccomp's; {compared} inputs compared on {string.Join(", ", archs.Select(a => a.Name))} (with x32 and foreign arches)");
        output.WriteLine($"{excluded.Count} numbers left out:");
        excluded.ForEach(output.WriteLine);
        Assert.True(mismatches.Count == 0, $"{profileName}: the filters disagree:\n{string.Join("\n", mismatches)}");
        // A comparison that quietly covers little proves little: all but a few numbers of each table take part.
        Assert.True(excluded.Count < archs.Sum(a => a.Table.Count) / 20, $"{excluded.Count} numbers left out:\n{string.Join("\n", excluded)}");
    }

    /// <summary>
    /// Arguments for one call: zeros, all ones, random; and for each condition on the call, its operands, their
    /// neighbours, the operands with their high 32 bits changed, every single bit (so every namespace flag of clone's
    /// mask), the expected value with one more bit, and random values, each alone and among random other arguments.
    /// </summary>
    private static IEnumerable<ulong[]> ArgumentVectors(List<OciSyscallArg> conditions, Random rng)
    {
        yield return new ulong[6];
        yield return Enumerable.Repeat(ulong.MaxValue, 6).ToArray();
        for (var i = 0; i < 8; i++)
        {
            yield return RandomArgs(rng);
        }
        foreach (var c in conditions)
        {
            var values = new List<ulong>(Edges);
            foreach (var v in new[] { c.Value, c.ValueTwo })
            {
                values.AddRange([v, v - 1, v + 1, v ^ 0x1_0000_0000, v ^ 0x8000_0000_0000_0000, v | 0xffff_ffff_0000_0000, v & 0xffff_ffff]);
            }
            for (var bit = 0; bit < 64; bit++)
            {
                values.AddRange([1UL << bit, c.ValueTwo | (1UL << bit), c.Value ^ (1UL << bit)]);
            }
            for (var i = 0; i < 16; i++)
            {
                values.AddRange([RandomValue(rng), RandomValue(rng) & c.Value, c.ValueTwo | (RandomValue(rng) & ~c.Value)]);
            }
            foreach (var v in values)
            {
                var alone = new ulong[6];
                alone[c.Index] = v;
                yield return alone;
                var among = RandomArgs(rng);
                among[c.Index] = v;
                yield return among;
            }
        }
    }

    private static ulong RandomValue(Random rng) => unchecked((ulong)rng.NextInt64(long.MinValue, long.MaxValue));

    private static ulong[] RandomArgs(Random rng) => Enumerable.Range(0, 6).Select(_ => rng.Next(4) == 0 ? Edges[rng.Next(Edges.Length)] : RandomValue(rng)).ToArray();
}

/// <summary>
/// An OCI profile given to libseccomp, and the classic BPF it exports. libseccomp's actions and operators are mapped
/// here from the profile's names by seccomp.h, independently of SeccompAction, so a wrong value on either side shows.
/// </summary>
internal sealed record LibseccompFilter(BpfInstruction[] Program, IReadOnlyDictionary<string, IReadOnlyList<LibseccompFilter.Rule>> Rules, IReadOnlyList<string> Inexpressible)
{
    /// <summary>A rule as libseccomp got it (the profile's, or none when its action is the default).</summary>
    internal sealed record Rule(uint Action, IReadOnlyList<OciSyscallArg> Args);

    public static uint ArchToken(string profileArch)
    {
        // libseccomp names architectures as the kernel does ("x86_64", "aarch64"); profiles prefix SCMP_ARCH_.
        var token = Libseccomp.ArchResolveName(Libseccomp.CString(profileArch.Replace("SCMP_ARCH_", "", StringComparison.Ordinal).ToLowerInvariant()));
        Assert.True(token != 0, $"libseccomp does not know the architecture {profileArch}");
        return token;
    }

    public static LibseccompFilter Export(OciSeccomp profile)
    {
        var errno = profile.DefaultErrnoRet ?? SeccompAction.EPERM;
        var defaultAction = Action(profile.DefaultAction, errno);
        using var ctx = Libseccomp.Init(defaultAction);
        Assert.False(ctx.IsInvalid, "seccomp_init failed");
        // Ours kills the process for a foreign architecture and for x32 calls; libseccomp's action for them is an
        // attribute of its own, set to the same so that those inputs are compared rather than left out.
        Check(Libseccomp.AttrSet(ctx, Libseccomp.AttrActBadArch, Libseccomp.ActKillProcess), "seccomp_attr_set(SCMP_FLTATR_ACT_BADARCH)");
        var native = Libseccomp.ArchNative();
        var tokens = (profile.Architectures ?? []).Select(ArchToken).ToList();
        foreach (var token in tokens.Where(t => t != native))
        {
            Check(Libseccomp.ArchAdd(ctx, token), $"seccomp_arch_add(0x{token:x})");
        }
        if (!tokens.Contains(native))
        {
            Check(Libseccomp.ArchRemove(ctx, native), "seccomp_arch_remove(native)");
        }

        var byName = new Dictionary<string, List<Rule>>(StringComparer.Ordinal);
        foreach (var s in profile.Syscalls ?? [])
        {
            foreach (var name in s.Names ?? [])
            {
                (byName.TryGetValue(name, out var list) ? list : byName[name] = []).Add(new Rule(Action(s.Action, s.ErrnoRet ?? errno), s.Args ?? []));
            }
        }
        var given = new Dictionary<string, IReadOnlyList<Rule>>(StringComparer.Ordinal);
        var inexpressible = new List<string>();
        foreach (var (name, rules) in byName)
        {
            if (Express(rules) is not { } expressed)
            {
                inexpressible.Add(name);
                continue;
            }
            // Rules with the default action change nothing, and libseccomp refuses them.
            expressed = [.. expressed.Where(r => r.Action != defaultAction)];
            given[name] = expressed;
            // A name libseccomp does not know (newer than its table) cannot be added; the comparison leaves its number
            // out because libseccomp's numbering then names no rule there.
            var nr = Libseccomp.SyscallResolveName(Libseccomp.CString(name));
            if (nr == Libseccomp.NrScmpError)
            {
                continue;
            }
            foreach (var rule in expressed)
            {
                var args = rule.Args.Select(a => new Libseccomp.ArgCmp { Arg = a.Index, Op = Operator(a.Op), DatumA = a.Value, DatumB = a.ValueTwo }).ToArray();
                Check(Libseccomp.RuleAddArray(ctx, rule.Action, nr, (uint)args.Length, args.Length > 0 ? args : null), $"seccomp_rule_add_array({name})");
            }
        }

        var path = Path.Join(Path.GetTempPath(), $"libseccomp-{Guid.NewGuid():N}.bpf");
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
        Check(Libseccomp.ExportBpf(ctx, (int)file.DangerousGetHandle()), "seccomp_export_bpf");
        var bytes = new byte[RandomAccess.GetLength(file)];
        Assert.Equal(bytes.Length, RandomAccess.Read(file, bytes, 0));
        Assert.True(bytes.Length > 0 && bytes.Length % Marshal.SizeOf<BpfInstruction>() == 0, $"seccomp_export_bpf wrote {bytes.Length} bytes");
        return new LibseccompFilter(MemoryMarshal.Cast<byte, BpfInstruction>(bytes).ToArray(), given, inexpressible);
    }

    /// <summary>
    /// The rules libseccomp can be given for one call, or null when it cannot be given the profile's meaning. The
    /// profile means "the first rule whose conditions all hold decides". libseccomp has no rule order: it merges a
    /// call's rules into one decision tree, an unconditional rule replaces the call's conditional ones whichever came
    /// first, and where arguments satisfy rules with different actions the verdict is its own choice. Order cannot
    /// matter when the rules up to the call's first unconditional one all have one action: then that unconditional
    /// rule alone, or else the conditional rules together, say what the profile says. Otherwise the call is left out.
    /// </summary>
    private static List<Rule>? Express(List<Rule> rules)
    {
        var conditional = new List<Rule>();
        foreach (var rule in rules)
        {
            if (conditional.Count > 0 && conditional[0].Action != rule.Action)
            {
                return null;
            }
            if (rule.Args.Count == 0)
            {
                return [rule];
            }
            conditional.Add(rule);
        }
        return conditional;
    }

    private static uint Action(string? name, uint errno) => name switch
    {
        "SCMP_ACT_ALLOW" => Libseccomp.ActAllow,
        "SCMP_ACT_ERRNO" => Libseccomp.ActErrno(errno),
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => Libseccomp.ActKillThread,
        "SCMP_ACT_KILL_PROCESS" => Libseccomp.ActKillProcess,
        "SCMP_ACT_TRAP" => Libseccomp.ActTrap,
        "SCMP_ACT_LOG" => Libseccomp.ActLog,
        "SCMP_ACT_TRACE" => Libseccomp.ActTrace(errno),
        "SCMP_ACT_NOTIFY" => Libseccomp.ActNotify,
        _ => throw new ArgumentException($"no libseccomp action for {name}", nameof(name)),
    };

    private static Libseccomp.Compare Operator(string? op) => op switch
    {
        "SCMP_CMP_NE" => Libseccomp.Compare.Ne,
        "SCMP_CMP_LT" => Libseccomp.Compare.Lt,
        "SCMP_CMP_LE" => Libseccomp.Compare.Le,
        "SCMP_CMP_EQ" => Libseccomp.Compare.Eq,
        "SCMP_CMP_GE" => Libseccomp.Compare.Ge,
        "SCMP_CMP_GT" => Libseccomp.Compare.Gt,
        "SCMP_CMP_MASKED_EQ" => Libseccomp.Compare.MaskedEq,
        _ => throw new ArgumentException($"no libseccomp operator for {op}", nameof(op)),
    };

    /// <summary>libseccomp returns 0 or a negated errno.</summary>
    private static void Check(int rc, string what) => Assert.True(rc == 0, $"{what} returned {rc}");
}
