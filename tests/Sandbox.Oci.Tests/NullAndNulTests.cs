using System.Text;
using System.Text.Json.Nodes;

namespace Sandbox.Oci.Tests;

/// <summary>A null where a value belongs, or a NUL inside a string, is an error naming its JSON path: never a crash, never a cut-short argv.</summary>
public class NullAndNulTests
{
    internal const string Valid = """
        {
          "ociVersion": "1.0.2",
          "root": { "path": "rootfs" },
          "process": { "args": ["/bin/true"], "cwd": "/", "env": ["PATH=/bin"] },
          "linux": { "namespaces": [ { "type": "mount" } ] }
        }
        """;

    /// <summary>The valid config with the value at <paramref name="path"/> (dot-separated, numbers for indexes) set from JSON text.</summary>
    private static byte[] With(string path, string json)
    {
        var root = JsonNode.Parse(Valid)!;
        var parts = path.Split('.');
        var node = root;
        foreach (var part in parts[..^1])
        {
            node = int.TryParse(part, out var i) ? node[i]! : node[part] ??= new JsonObject();
        }
        var value = json == "null" ? null : JsonNode.Parse(json);
        if (int.TryParse(parts[^1], out var index))
        {
            node[index] = value;
        }
        else
        {
            node[parts[^1]] = value;
        }
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static SandboxException Fails(byte[] json) =>
        Assert.Throws<SandboxException>(() => OciConfigLoader.Parse(json, "config.json"));

    [Fact]
    public void The_valid_config_parses() => OciConfigLoader.Parse(With("hostname", "\"x\""), "config.json");

    [Theory]
    [InlineData("process.args", """["/bin/true", null]""", "$.process.args[1]")]
    [InlineData("process.env", "[null]", "$.process.env[0]")]
    [InlineData("linux.namespaces", """[null, { "type": "mount" }]""", "$.linux.namespaces[0]")]
    [InlineData("mounts", "[null]", "$.mounts[0]")]
    [InlineData("mounts", """[{ "destination": "/x", "type": "tmpfs", "options": ["ro", null] }]""", "$.mounts[0].options[1]")]
    [InlineData("hooks", """{ "prestart": [null] }""", "$.hooks.prestart[0]")]
    [InlineData("hooks", """{ "poststop": [{ "path": "/bin/true", "args": [null] }] }""", "$.hooks.poststop[0].args[0]")]
    [InlineData("process.rlimits", "[null]", "$.process.rlimits[0]")]
    [InlineData("process.capabilities", """{ "ambient": [null] }""", "$.process.capabilities.ambient[0]")]
    [InlineData("linux.devices", "[null]", "$.linux.devices[0]")]
    [InlineData("linux.uidMappings", "[null]", "$.linux.uidMappings[0]")]
    [InlineData("linux.maskedPaths", "[null]", "$.linux.maskedPaths[0]")]
    [InlineData("linux.sysctl", """{ "net.ipv4.ip_forward": null }""", "$.linux.sysctl.net.ipv4.ip_forward")]
    [InlineData("annotations", """{ "a": null }""", "$.annotations.a")]
    [InlineData("linux.resources", """{ "devices": [null] }""", "$.linux.resources.devices[0]")]
    [InlineData("linux.seccomp", """{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [null] }""", "$.linux.seccomp.syscalls[0]")]
    [InlineData("linux.seccomp", """{ "defaultAction": "SCMP_ACT_ALLOW", "flags": [null] }""", "$.linux.seccomp.flags[0]")]
    [InlineData("linux.seccomp", """{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": ["read", null], "action": "SCMP_ACT_ALLOW" }] }""", "$.linux.seccomp.syscalls[0].names[1]")]
    public void A_null_element_is_refused_with_its_path(string at, string json, string path)
    {
        var e = Fails(With(at, json));
        Assert.Equal(ErrorCodes.ConfigMalformed, e.Code);
        Assert.Contains($"{path}: null is not allowed", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("root.path", "rootfs\u0000", "$.root.path")]
    [InlineData("process.args.0", "/bin/true\u0000x", "$.process.args[0]")]
    [InlineData("process.env.0", "A=\u0000", "$.process.env[0]")]
    [InlineData("process.cwd", "/\u0000", "$.process.cwd")]
    [InlineData("hostname", "box\u0000", "$.hostname")]
    [InlineData("linux.cgroupsPath", "a\u0000", "$.linux.cgroupsPath")]
    public void A_nul_in_a_string_is_refused_with_its_path(string at, string value, string path)
    {
        var e = Fails(With(at, JsonValue.Create(value).ToJsonString()));
        Assert.Equal(ErrorCodes.ConfigInvalid, e.Code);
        Assert.Contains($"{path}: holds a NUL character", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_nul_in_a_mount_option_a_hook_path_or_a_map_key_is_refused()
    {
        var e = Fails(With("mounts", """[{ "destination": "/x", "type": "tmpfs", "options": ["size=1m\u0000,mode=777"] }]"""));
        Assert.Contains("$.mounts[0].options[0]: holds a NUL", e.Message, StringComparison.Ordinal);
        e = Fails(With("hooks", """{ "prestart": [{ "path": "/bin/true\u0000" }] }"""));
        Assert.Contains("$.hooks.prestart[0].path: holds a NUL", e.Message, StringComparison.Ordinal);
        e = Fails(With("linux.sysctl", """{ "net.ipv4\u0000.x": "1" }"""));
        Assert.Contains("$.linux.sysctl.net.ipv4\\u0000.x: holds a NUL", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_problem_of_the_kind_is_listed_at_once()
    {
        var e = Fails(With("process.env", """[null, "A=\u0000", null]"""));
        Assert.Contains("$.process.env[0]: null", e.Message, StringComparison.Ordinal);
        Assert.Contains("$.process.env[1]: holds a NUL", e.Message, StringComparison.Ordinal);
        Assert.Contains("$.process.env[2]: null", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_built_in_code_is_checked_the_same_way()
    {
        var config = DefaultConfig.Create(rootless: false, 0, 0);
        config.Process!.Args!.Add(null!);
        var problem = Assert.Single(OciConfigValidator.Validate(config));
        Assert.Equal(("$.process.args[1]", "null is not allowed"), (problem.Path, problem.Message));
    }
}
