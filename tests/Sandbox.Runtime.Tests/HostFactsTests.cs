using Sandbox.Runtime;

namespace Sandbox.Runtime.Tests;

public class HostFactsTests
{
    /// <summary>capget and PR_CAPBSET_READ say what /proc/self/status and /proc/sys/kernel/cap_last_cap say.</summary>
    [Fact]
    public void The_capabilities_read_with_system_calls_are_those_the_proc_files_show()
    {
        var facts = HostFacts.Read();
        var status = File.ReadAllLines("/proc/self/status");
        ulong Field(string name) => Convert.ToUInt64(status.Single(l => l.StartsWith(name, StringComparison.Ordinal))[name.Length..].Trim(), 16);
        Assert.Equal(Field("CapEff:"), facts.EffectiveCaps);
        Assert.Equal(Field("CapBnd:"), facts.BoundingCaps);
        Assert.Equal(int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), System.Globalization.CultureInfo.InvariantCulture), facts.LastCap);
    }
}
