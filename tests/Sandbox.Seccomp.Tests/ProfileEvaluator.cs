using Sandbox.Oci;
using Sandbox.Seccomp;

namespace Sandbox.Seccomp.Tests;

/// <summary>The profile's meaning, evaluated directly: what the compiled filter must agree with.</summary>
internal static class ProfileEvaluator
{
    public static uint Evaluate(OciSeccomp p, SeccompData d)
    {
        var archs = (p.Architectures ?? [SeccompArch.Native.Name]).Select(SeccompArch.ByName).OfType<SeccompArch>().ToList();
        var arch = archs.FirstOrDefault(a => a.AuditArch == d.Arch);
        if (arch is null)
        {
            return SeccompAction.KillProcess;
        }
        if (unchecked((uint)d.Nr) == SeccompCompiler.SkippedCall)
        {
            return SeccompAction.Allow;
        }
        if (arch == SeccompArch.X86_64 && (d.Nr & SeccompArch.X32SyscallBit) != 0)
        {
            return SeccompAction.KillProcess;
        }
        if ((uint)d.Nr > (uint)arch.Highest)
        {
            return SeccompAction.Errno | SeccompAction.ENOSYS;
        }
        var errno = p.DefaultErrnoRet ?? SeccompAction.EPERM;
        var names = arch.Table.Where(t => t.Number == d.Nr).Select(t => t.Name).ToHashSet();
        foreach (var rule in p.Syscalls ?? [])
        {
            if (!(rule.Names ?? []).Any(names.Contains))
            {
                continue;
            }
            if ((rule.Args ?? []).All(a => Matches(a, d.Args[a.Index])))
            {
                return SeccompAction.Parse(rule.Action, rule.ErrnoRet ?? errno)!.Value;
            }
        }
        return SeccompAction.Parse(p.DefaultAction, errno)!.Value;
    }

    private static bool Matches(OciSyscallArg a, ulong v) => a.Op switch
    {
        "SCMP_CMP_EQ" => v == a.Value,
        "SCMP_CMP_NE" => v != a.Value,
        "SCMP_CMP_LT" => v < a.Value,
        "SCMP_CMP_LE" => v <= a.Value,
        "SCMP_CMP_GT" => v > a.Value,
        "SCMP_CMP_GE" => v >= a.Value,
        "SCMP_CMP_MASKED_EQ" => (v & a.Value) == a.ValueTwo,
        _ => throw new InvalidOperationException(a.Op),
    };
}
