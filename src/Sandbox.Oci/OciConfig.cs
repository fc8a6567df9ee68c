// The OCI runtime-spec config.json model (runtime-spec 1.0 to 1.3), as far as Sandbox reads it.
// Field names follow the spec exactly; unknown fields are ignored, as the spec requires.
// Properties are settable rather than init-only on purpose: for init-only properties the source-generated
// deserializer takes its parameterized-constructor path, which costs `sandbox run` about 0.3 ms at start-up.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandbox.Oci;

public sealed record OciConfig
{
    public string? OciVersion { get; set; }
    public OciRoot? Root { get; set; }
    public List<OciMount>? Mounts { get; set; }
    public OciProcess? Process { get; set; }
    public string? Hostname { get; set; }
    public string? Domainname { get; set; }
    public OciHooks? Hooks { get; set; }
    public Dictionary<string, string>? Annotations { get; set; }
    public OciLinux? Linux { get; set; }
}

public sealed record OciRoot
{
    public string? Path { get; set; }
    public bool Readonly { get; set; }
}

public sealed record OciMount
{
    public string? Destination { get; set; }
    public string? Type { get; set; }
    public string? Source { get; set; }
    public List<string>? Options { get; set; }
    public List<OciIdMapping>? UidMappings { get; set; }
    public List<OciIdMapping>? GidMappings { get; set; }
}

public sealed record OciProcess
{
    public bool Terminal { get; set; }

    /// <summary>The terminal's size, with <see cref="Terminal"/>.</summary>
    public OciBox? ConsoleSize { get; set; }
    public string? Cwd { get; set; }
    public List<string>? Env { get; set; }
    public List<string>? Args { get; set; }
    public string? CommandLine { get; set; }
    public List<OciRlimit>? Rlimits { get; set; }
    public OciCapabilities? Capabilities { get; set; }
    public bool NoNewPrivileges { get; set; }
    public int? OomScoreAdj { get; set; }
    public OciUser? User { get; set; }
    public string? ApparmorProfile { get; set; }
    public string? SelinuxLabel { get; set; }
}

public sealed record OciBox
{
    public uint Height { get; set; }
    public uint Width { get; set; }
}

public sealed record OciUser
{
    public uint Uid { get; set; }
    public uint Gid { get; set; }
    public uint? Umask { get; set; }
    public List<uint>? AdditionalGids { get; set; }
    public string? Username { get; set; }
}

public sealed record OciRlimit
{
    public string? Type { get; set; }
    public ulong Soft { get; set; }
    public ulong Hard { get; set; }
}

public sealed record OciCapabilities
{
    public List<string>? Bounding { get; set; }
    public List<string>? Effective { get; set; }
    public List<string>? Permitted { get; set; }
    public List<string>? Inheritable { get; set; }
    public List<string>? Ambient { get; set; }
}

public sealed record OciHooks
{
    public List<OciHook>? Prestart { get; set; }
    public List<OciHook>? CreateRuntime { get; set; }
    public List<OciHook>? CreateContainer { get; set; }
    public List<OciHook>? StartContainer { get; set; }
    public List<OciHook>? Poststart { get; set; }
    public List<OciHook>? Poststop { get; set; }
}

public sealed record OciHook
{
    public string? Path { get; set; }
    public List<string>? Args { get; set; }
    public List<string>? Env { get; set; }
    public int? Timeout { get; set; }
}

public sealed record OciLinux
{
    public List<OciNamespace>? Namespaces { get; set; }
    public List<OciIdMapping>? UidMappings { get; set; }
    public List<OciIdMapping>? GidMappings { get; set; }
    public List<OciDevice>? Devices { get; set; }
    public string? CgroupsPath { get; set; }
    public OciResources? Resources { get; set; }
    public string? RootfsPropagation { get; set; }
    public OciSeccomp? Seccomp { get; set; }
    public Dictionary<string, string>? Sysctl { get; set; }
    public List<string>? MaskedPaths { get; set; }
    public List<string>? ReadonlyPaths { get; set; }
    public string? MountLabel { get; set; }
    public Dictionary<string, JsonElement>? TimeOffsets { get; set; }
    public OciPersonality? Personality { get; set; }
}

/// <summary>linux.personality: the execution domain (personality(2)) the container's process runs in.</summary>
public sealed record OciPersonality
{
    public string? Domain { get; set; }
    public List<string>? Flags { get; set; }
}

public sealed record OciNamespace
{
    public string? Type { get; set; }
    public string? Path { get; set; }
}

public sealed record OciIdMapping
{
    [JsonPropertyName("containerID")]
    public uint ContainerId { get; set; }

    [JsonPropertyName("hostID")]
    public uint HostId { get; set; }

    public uint Size { get; set; }
}

public sealed record OciDevice
{
    public string? Type { get; set; }
    public string? Path { get; set; }
    public long Major { get; set; }
    public long Minor { get; set; }
    public uint? FileMode { get; set; }
    public uint? Uid { get; set; }
    public uint? Gid { get; set; }
}
