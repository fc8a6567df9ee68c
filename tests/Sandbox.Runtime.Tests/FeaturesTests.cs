using System.Text.Json;
using Sandbox.Runtime;

namespace Sandbox.Runtime.Tests;

/// <summary>`sandbox features` says what the runtime implements: each thing it lists, the runtime takes.</summary>
public class FeaturesTests
{
    private static readonly JsonElement Doc = JsonDocument.Parse(Features.Json("0.1.0")).RootElement;

    [Fact]
    public void Every_mount_option_listed_is_one_the_runtime_honours_and_not_passed_on_as_filesystem_data()
    {
        var options = Doc.GetProperty("mountOptions").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.NotEmpty(options);
        foreach (var o in options)
        {
            var parsed = MountOptions.Parse([o], "tmpfs", 0);
            Assert.True(parsed.Data is null, $"{o} would reach mount(2) as data");
        }
        // The refused ones are not listed.
        Assert.DoesNotContain("rro", options);
        Assert.Throws<SandboxException>(() => MountOptions.Parse(["rro"], "tmpfs", 0));
        Assert.Contains("tmpcopyup", options);
    }

    [Fact]
    public void Every_seccomp_action_operator_arch_and_flag_listed_compiles()
    {
        var seccomp = Doc.GetProperty("linux").GetProperty("seccomp");
        string[] Listed(string name) => [.. seccomp.GetProperty(name).EnumerateArray().Select(e => e.GetString()!)];
        foreach (var action in Listed("actions"))
        {
            Assert.NotNull(Sandbox.Seccomp.SeccompAction.Parse(action, 1));
        }
        foreach (var arch in Listed("archs"))
        {
            Assert.NotNull(Sandbox.Seccomp.SeccompArch.ByName(arch));
        }
        foreach (var op in Listed("operators"))
        {
            Assert.Contains(op, Sandbox.Seccomp.SeccompCompiler.Operators);
        }
        Assert.Contains("SECCOMP_FILTER_FLAG_SPEC_ALLOW", Listed("supportedFlags"));
        Assert.Equal(("1.0.0", "1.3.0"), (Doc.GetProperty("ociVersionMin").GetString(), Doc.GetProperty("ociVersionMax").GetString()));
        Assert.True(Sandbox.Oci.OciVersions.IsSupported("1.3.0") && Sandbox.Oci.OciVersions.IsSupported("1.0.0"));
    }
}
