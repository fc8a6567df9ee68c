using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>What this host and this process may do, read once per run; tests construct their own.</summary>
internal sealed record HostFacts
{
    public required uint Uid { get; init; }
    public required uint Gid { get; init; }
    public required ulong EffectiveCaps { get; init; }
    public required ulong BoundingCaps { get; init; }
    public required int LastCap { get; init; }
    public required Func<int, ulong> HardRlimit { get; init; }

    /// <summary>The kernel's Landlock ABI version; 0 where Landlock is missing or turned off.</summary>
    public int LandlockAbi { get; init; }

    public bool IsRoot => Uid == 0;

    public bool Has(int cap) => (EffectiveCaps & (1UL << cap)) != 0;

    public static unsafe HostFacts Read()
    {
        ulong eff = 0, bnd = 0;
        var status = System.Text.Encoding.UTF8.GetString(RawFiles.Read("/proc/self/status", out _) ?? []);
        foreach (var line in status.Split('\n'))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
            {
                eff = Convert.ToUInt64(line[7..].Trim(), 16);
            }
            else if (line.StartsWith("CapBnd:", StringComparison.Ordinal))
            {
                bnd = Convert.ToUInt64(line[7..].Trim(), 16);
            }
        }
        var lastText = System.Text.Encoding.UTF8.GetString(RawFiles.Read("/proc/sys/kernel/cap_last_cap", out _) ?? []);
        var last = int.TryParse(lastText.Trim(), out var l) ? l : 40;
        return new HostFacts
        {
            Uid = LibC.getuid(),
            Gid = LibC.getgid(),
            EffectiveCaps = eff,
            BoundingCaps = bnd,
            LastCap = last,
            LandlockAbi = Libc.LandlockAbi(),
            HardRlimit = resource =>
            {
                Rlimit old;
                return Libc.Prlimit(0, resource, null, &old) == 0 ? old.Max : Libc.RLIM_INFINITY;
            },
        };
    }
}
