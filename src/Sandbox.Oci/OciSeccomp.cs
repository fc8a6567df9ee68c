using System.Text.Json.Serialization;

namespace Sandbox.Oci;

/// <summary>linux.seccomp: a profile as the runtime-spec (and container engines' profile files) write it.</summary>
public sealed record OciSeccomp
{
    public string? DefaultAction { get; set; }
    public uint? DefaultErrnoRet { get; set; }
    public List<string>? Architectures { get; set; }
    public List<string>? Flags { get; set; }
    public string? ListenerPath { get; set; }
    public string? ListenerMetadata { get; set; }
    public List<OciSyscallRule>? Syscalls { get; set; }

    /// <summary>
    /// The bytes this profile was made from, which with the `sandbox` executable decide it entirely: the exact JSON text
    /// of linux.seccomp (or of a profile file) as read, or for a built-in profile a NUL and its name (no JSON text
    /// starts with a NUL). Null for a profile made or changed in code: the compiled-filter cache then passes it by.
    /// Whoever changes a profile read from text (with `with`, or through a list) must set this to null.
    /// </summary>
    [JsonIgnore]
    public byte[]? Source { get; set; }
}

public sealed record OciSyscallRule
{
    public List<string>? Names { get; set; }
    public string? Action { get; set; }
    public uint? ErrnoRet { get; set; }
    public List<OciSyscallArg>? Args { get; set; }
}

public sealed record OciSyscallArg
{
    public uint Index { get; set; }
    public ulong Value { get; set; }
    public ulong ValueTwo { get; set; }
    public string? Op { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(OciSeccomp))]
public sealed partial class OciSeccompJsonContext : JsonSerializerContext;
