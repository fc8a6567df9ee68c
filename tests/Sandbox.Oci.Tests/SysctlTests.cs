using System.Text;

namespace Sandbox.Oci.Tests;

/// <summary>linux.sysctl may only set what the container's own namespaces hold: nothing may reach the host.</summary>
public class SysctlTests
{
    internal static string Config(string sysctl, string namespaces, string hostname = "") => $$"""
        {
          "ociVersion": "1.0.2",
          "root": { "path": "rootfs" },
          {{hostname}}
          "process": { "args": ["/bin/true"], "cwd": "/" },
          "linux": { "namespaces": [ {{namespaces}} ], "sysctl": { {{sysctl}} } }
        }
        """;

    /// <summary>The config's problems: none, or the one SBX1016 error (all of them in its message).</summary>
    private static IReadOnlyList<ConfigProblem> Problems(string json)
    {
        try
        {
            OciConfigLoader.Parse(Encoding.UTF8.GetBytes(json), "config.json");
            return [];
        }
        catch (SandboxException e)
        {
            Assert.Equal(ErrorCodes.SysctlRefused, e.Code);
            return [new ConfigProblem(e.Code, "", e.Message, e.Hint)];
        }
    }

    private const string All = """{ "type": "mount" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }""";

    [Theory]
    [InlineData("net.ipv4.ip_forward")]
    [InlineData("net.core.somaxconn")]
    [InlineData("net/ipv4/conf/eth0.100/forwarding")]
    [InlineData("kernel.msgmax")]
    [InlineData("kernel.msgmnb")]
    [InlineData("kernel.msgmni")]
    [InlineData("kernel.sem")]
    [InlineData("kernel.shmall")]
    [InlineData("kernel.shmmax")]
    [InlineData("kernel.shmmni")]
    [InlineData("kernel.shm_rmid_forced")]
    [InlineData("fs.mqueue.msg_max")]
    [InlineData("fs.mqueue.queues_max")]
    [InlineData("kernel/shmmax")]
    [InlineData("kernel.domainname")]
    [InlineData("kernel.hostname")]
    public void Keys_of_the_containers_own_namespaces_are_accepted(string key) =>
        Assert.Empty(Problems(Config($"\"{key}\": \"1\"", All)));

    [Theory]
    [InlineData("vm.swappiness", "is not namespaced")]
    [InlineData("kernel.panic", "is not namespaced")]
    [InlineData("kernel.shm_next_id.x", "is not namespaced")]
    [InlineData("fs.file-max", "is not namespaced")]
    [InlineData("fs.mqueue", "is not namespaced")]
    [InlineData("user.max_user_namespaces", "is not namespaced")]
    [InlineData("netx.a", "is not namespaced")]
    public void Global_keys_are_refused_with_the_reason(string key, string reason)
    {
        var e = Assert.Single(Problems(Config($"\"{key}\": \"1\"", All)));
        Assert.Contains($"$.linux.sysctl.{key}: {reason}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("net.ipv4.ip_forward", "network")]
    [InlineData("kernel.shmmax", "ipc")]
    [InlineData("fs.mqueue.msg_max", "ipc")]
    [InlineData("kernel.domainname", "uts")]
    public void Namespaced_keys_need_their_namespace(string key, string ns)
    {
        var others = string.Join(", ", new[] { "mount", "network", "ipc", "uts" }.Where(t => t != ns).Select(t => $"{{ \"type\": \"{t}\" }}"));
        var e = Assert.Single(Problems(Config($"\"{key}\": \"1\"", others)));
        Assert.Contains($"$.linux.sysctl.{key}: ", e.Message, StringComparison.Ordinal);
        Assert.Contains($"the {ns} namespace, and the container has none of its own", e.Message, StringComparison.Ordinal);
        Assert.Contains($"\"type\": \"{ns}\"", e.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void A_network_namespace_joined_by_path_is_the_containers_own() =>
        Assert.Empty(Problems(Config("\"net.ipv4.ip_forward\": \"1\"", """{ "type": "mount" }, { "type": "network", "path": "/run/netns/x" }""")));

    [Fact]
    public void Kernel_hostname_may_not_contradict_the_hostname_field()
    {
        var e = Assert.Single(Problems(Config("\"kernel.hostname\": \"b\"", All, "\"hostname\": \"a\",")));
        Assert.Contains("conflicts with $.hostname", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("net/../../x")]
    [InlineData("net/ipv4/../../../etc/x")]
    [InlineData("net..x")]
    [InlineData("net.")]
    [InlineData(".net.x")]
    [InlineData("net/./x")]
    [InlineData("/net/ipv4/ip_forward")]
    [InlineData("net//x")]
    [InlineData("net")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("net.ipv4\\n.x")]
    public void Keys_that_could_leave_proc_sys_are_refused(string key)
    {
        var e = Assert.Single(Problems(Config($"\"{key}\": \"1\"", All)));
        Assert.Contains("is not a sysctl key", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward")]
    [InlineData("net/ipv4/conf/eth0.100/forwarding", "/proc/sys/net/ipv4/conf/eth0.100/forwarding")]
    [InlineData("fs.mqueue.msg_max", "/proc/sys/fs/mqueue/msg_max")]
    public void Keys_map_to_their_file_under_proc_sys(string key, string path) => Assert.Equal(path, Sysctls.ProcPath(key));
}
