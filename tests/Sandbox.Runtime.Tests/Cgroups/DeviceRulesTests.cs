using Sandbox.Oci;
using Sandbox.Runtime.Cgroups;

namespace Sandbox.Runtime.Tests.Cgroups;

public class DeviceRulesTests
{
    [Fact]
    public void The_rules_deny_first_then_follow_the_config_then_allow_the_standard_devices_and_configured_nodes()
    {
        var linux = new OciLinux
        {
            Resources = new OciResources { Devices = [new OciDeviceRule { Allow = true, Type = "c", Major = 10, Minor = 229, Access = "rw" }] },
            Devices = [new OciDevice { Type = "b", Path = "/dev/sda", Major = 8, Minor = 0 }],
        };
        var rules = DeviceRules.For(linux);
        Assert.Equal("a", rules[0].V1Line);
        Assert.False(rules[0].Allow);
        Assert.Equal("c 10:229 rw", rules[1].V1Line);
        Assert.Contains(rules, r => r.V1Line == "c 1:3 rwm" && r.Allow);
        Assert.Contains(rules, r => r.V1Line == "c 136:* rwm" && r.Allow);
        Assert.Equal("b 8:0 rwm", rules[^1].V1Line);
    }

    /// <summary>The kernel's verifier accepts every program the compiler makes (it refuses unreachable code, for one).</summary>
    [PrivilegedTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_kernel_verifier_accepts_the_compiled_programs(bool allowAllFirst)
    {
        List<OciDeviceRule> rules =
        [
            new() { Allow = allowAllFirst, Access = "rwm" },
            new() { Allow = false, Type = "c", Major = 1, Minor = 3, Access = "w" },
            new() { Allow = true, Type = "b", Major = 8, Access = "r" },
            new() { Allow = false, Type = "a", Access = "m" },
        ];
        var program = DeviceRules.CompileBpf(DeviceRules.For(new OciLinux { Resources = new OciResources { Devices = rules } }));
        var fd = CgroupV2Driver.LoadDeviceFilter(program, out var error);
        Assert.True(fd >= 0, error);
        Interop.Libc.Close(fd);
        var denyOnly = CgroupV2Driver.LoadDeviceFilter(DeviceRules.CompileBpf([new DeviceRule(false, 'a', null, null, "rwm")]), out error);
        Assert.True(denyOnly >= 0, error);
        Interop.Libc.Close(denyOnly);
    }
}
