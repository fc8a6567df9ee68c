using System.Globalization;
using Sandbox.Oci;

namespace Sandbox.Runtime.Cgroups;

/// <summary>One device cgroup rule: type 'a' (all), 'c' or 'b'; major and minor null for any; access a subset of "rwm".</summary>
internal sealed record DeviceRule(bool Allow, char Type, long? Major, long? Minor, string Access)
{
    /// <summary>The rule as cgroup v1's devices.allow and devices.deny take it.</summary>
    public string V1Line => Type == 'a' ? "a" : $"{Type} {Number(Major)}:{Number(Minor)} {Access}";

    private static string Number(long? n) => n is long v ? v.ToString(CultureInfo.InvariantCulture) : "*";
}

/// <summary>
/// The device rules a container gets, in the order they apply (a later rule overrides an earlier one): deny every
/// device, then linux.resources.devices, then the devices every container has (null, zero, full, random, urandom,
/// tty, ptmx and the pseudo-terminals) and the nodes of linux.devices, as runc does.
/// </summary>
internal static class DeviceRules
{
    private static readonly DeviceRule[] Standard =
    [
        new(true, 'c', 1, 3, "rwm"), new(true, 'c', 1, 5, "rwm"), new(true, 'c', 1, 7, "rwm"), new(true, 'c', 1, 8, "rwm"),
        new(true, 'c', 1, 9, "rwm"), new(true, 'c', 5, 0, "rwm"), new(true, 'c', 5, 2, "rwm"), new(true, 'c', 136, null, "rwm"),
    ];

    public static IReadOnlyList<DeviceRule> For(OciLinux? linux)
    {
        var rules = new List<DeviceRule> { new(false, 'a', null, null, "rwm") };
        foreach (var r in linux?.Resources?.Devices ?? [])
        {
            var type = r.Type is null or "" or "a" ? 'a' : r.Type[0];
            rules.Add(new DeviceRule(r.Allow, type, r.Major is < 0 ? null : r.Major, r.Minor is < 0 ? null : r.Minor,
                string.IsNullOrEmpty(r.Access) ? "rwm" : r.Access));
        }
        rules.AddRange(Standard);
        foreach (var d in linux?.Devices ?? [])
        {
            if (d.Type is "c" or "u" or "b")
            {
                rules.Add(new DeviceRule(true, d.Type == "b" ? 'b' : 'c', d.Major, d.Minor, "rwm"));
            }
        }
        return rules;
    }

    /// <summary>
    /// The rules as a BPF_PROG_TYPE_CGROUP_DEVICE program (cgroup v2 has no devices files): the last matching rule
    /// decides, so the rules are tested from the last one back, and no match denies. An allow rule matches when it
    /// grants every access asked for; a deny rule when it denies any of them.
    /// </summary>
    public static ulong[] CompileBpf(IReadOnlyList<DeviceRule> rules)
    {
        var p = new List<ulong>
        {
            Insn(0x61, 2, 1, 0, 0),      // r2 = ctx->access_type
            Insn(0xbf, 3, 2, 0, 0),      // r3 = r2
            Insn(0x54, 2, 0, 0, 0xffff), // w2 &= 0xffff: the device type (BPF_DEVCG_DEV_*)
            Insn(0x74, 3, 0, 0, 16),     // w3 >>= 16: the access asked for (BPF_DEVCG_ACC_*)
            Insn(0x61, 4, 1, 4, 0),      // r4 = ctx->major
            Insn(0x61, 5, 1, 8, 0),      // r5 = ctx->minor
        };
        for (var i = rules.Count - 1; i >= 0; i--)
        {
            var r = rules[i];
            var access = Access(r.Access);
            // Each test is a jump to the next block; offsets are filled in once the block's length is known.
            var block = new List<(byte Code, byte Dst, byte Src, int Imm, bool Jump)>();
            if (r.Type != 'a')
            {
                block.Add((0x55, 2, 0, r.Type == 'b' ? 1 : 2, true)); // if type != rule's, next
            }
            if (r.Allow && access != 7)
            {
                block.Add((0x45, 3, 0, ~access & 7, true)); // if any access asked lies outside the rule's, next
            }
            else if (!r.Allow && access != 7)
            {
                block.Add((0xbf, 1, 3, 0, false)); // r1 = r3
                block.Add((0x57, 1, 0, access, false)); // r1 &= rule's access
                block.Add((0x15, 1, 0, 0, true)); // if none of it is asked, next
            }
            if (r.Major is long major)
            {
                block.Add((0x55, 4, 0, (int)major, true));
            }
            if (r.Minor is long minor)
            {
                block.Add((0x55, 5, 0, (int)minor, true));
            }
            block.Add((0xb7, 0, 0, r.Allow ? 1 : 0, false)); // r0 = verdict
            block.Add((0x95, 0, 0, 0, false)); // exit
            for (var j = 0; j < block.Count; j++)
            {
                var (code, dst, src, imm, jump) = block[j];
                p.Add(Insn(code, dst, src, jump ? (short)(block.Count - j - 1) : (short)0, imm));
            }
            if (!block.Any(x => x.Jump))
            {
                // A rule that matches everything decides alone: the verifier refuses code that cannot be reached.
                return [.. p];
            }
        }
        p.Add(Insn(0xb7, 0, 0, 0, 0)); // no rule matched: deny
        p.Add(Insn(0x95, 0, 0, 0, 0));
        return [.. p];
    }

    private static int Access(string access) =>
        (access.Contains('m', StringComparison.Ordinal) ? 1 : 0) | (access.Contains('r', StringComparison.Ordinal) ? 2 : 0)
        | (access.Contains('w', StringComparison.Ordinal) ? 4 : 0);

    /// <summary>struct bpf_insn: opcode, dst and src registers in one byte, a 16-bit offset, a 32-bit immediate.</summary>
    private static ulong Insn(byte code, byte dst, byte src, short off, int imm) =>
        code | ((ulong)(byte)((src << 4) | dst) << 8) | ((ulong)(ushort)off << 16) | ((ulong)(uint)imm << 32);
}
