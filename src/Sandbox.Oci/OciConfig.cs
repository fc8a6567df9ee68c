// The OCI runtime-spec config.json model (runtime-spec 1.0 to 1.3), as far as Sandbox reads it.
// Field names follow the spec exactly; unknown fields are ignored, as the spec requires.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandbox.Oci;

public sealed record OciConfig
{
    public string? OciVersion { get; init; }
    public OciRoot? Root { get; init; }
    public List<OciMount>? Mounts { get; init; }
    public OciProcess? Process { get; init; }
    public string? Hostname { get; init; }
    public string? Domainname { get; init; }
    public OciHooks? Hooks { get; init; }
    public Dictionary<string, string>? Annotations { get; init; }
    public OciLinux? Linux { get; init; }
}

public sealed record OciRoot
{
    public string? Path { get; init; }
    public bool Readonly { get; init; }
}

public sealed record OciMount
{
    public string? Destination { get; init; }
    public string? Type { get; init; }
    public string? Source { get; init; }
    public List<string>? Options { get; init; }
    public List<OciIdMapping>? UidMappings { get; init; }
    public List<OciIdMapping>? GidMappings { get; init; }
}

public sealed record OciProcess
{
    public bool Terminal { get; init; }
    public string? Cwd { get; init; }
    public List<string>? Env { get; init; }
    public List<string>? Args { get; init; }
    public string? CommandLine { get; init; }
    public List<OciRlimit>? Rlimits { get; init; }
    public OciCapabilities? Capabilities { get; init; }
    public bool NoNewPrivileges { get; init; }
    public int? OomScoreAdj { get; init; }
    public OciUser? User { get; init; }
    public string? ApparmorProfile { get; init; }
    public string? SelinuxLabel { get; init; }
}

public sealed record OciUser
{
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public uint? Umask { get; init; }
    public List<uint>? AdditionalGids { get; init; }
    public string? Username { get; init; }
}

public sealed record OciRlimit
{
    public string? Type { get; init; }
    public ulong Soft { get; init; }
    public ulong Hard { get; init; }
}

public sealed record OciCapabilities
{
    public List<string>? Bounding { get; init; }
    public List<string>? Effective { get; init; }
    public List<string>? Permitted { get; init; }
    public List<string>? Inheritable { get; init; }
    public List<string>? Ambient { get; init; }
}

public sealed record OciHooks
{
    public List<OciHook>? Prestart { get; init; }
    public List<OciHook>? CreateRuntime { get; init; }
    public List<OciHook>? CreateContainer { get; init; }
    public List<OciHook>? StartContainer { get; init; }
    public List<OciHook>? Poststart { get; init; }
    public List<OciHook>? Poststop { get; init; }
}

public sealed record OciHook
{
    public string? Path { get; init; }
    public List<string>? Args { get; init; }
    public List<string>? Env { get; init; }
    public int? Timeout { get; init; }
}

public sealed record OciLinux
{
    public List<OciNamespace>? Namespaces { get; init; }
    public List<OciIdMapping>? UidMappings { get; init; }
    public List<OciIdMapping>? GidMappings { get; init; }
    public List<OciDevice>? Devices { get; init; }
    public string? CgroupsPath { get; init; }
    public JsonElement? Resources { get; init; }
    public string? RootfsPropagation { get; init; }
    public JsonElement? Seccomp { get; init; }
    public Dictionary<string, string>? Sysctl { get; init; }
    public List<string>? MaskedPaths { get; init; }
    public List<string>? ReadonlyPaths { get; init; }
    public string? MountLabel { get; init; }
    public Dictionary<string, JsonElement>? TimeOffsets { get; init; }
}

public sealed record OciNamespace
{
    public string? Type { get; init; }
    public string? Path { get; init; }
}

public sealed record OciIdMapping
{
    [JsonPropertyName("containerID")]
    public uint ContainerId { get; init; }

    [JsonPropertyName("hostID")]
    public uint HostId { get; init; }

    public uint Size { get; init; }
}

public sealed record OciDevice
{
    public string? Type { get; init; }
    public string? Path { get; init; }
    public long Major { get; init; }
    public long Minor { get; init; }
    public uint? FileMode { get; init; }
    public uint? Uid { get; init; }
    public uint? Gid { get; init; }
}
