using System.Text.Json.Serialization;

namespace Sandbox.Oci;

/// <summary>The state of a container as the OCI runtime-spec defines it (what `state` prints and hooks read).</summary>
public sealed record OciState
{
    public string OciVersion { get; init; } = OciVersions.Current;
    public required string Id { get; init; }
    public required string Status { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Pid { get; init; }
    public required string Bundle { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? Annotations { get; init; }
}

public static class OciStatus
{
    public const string Creating = "creating";
    public const string Created = "created";
    public const string Running = "running";
    public const string Paused = "paused";
    public const string Stopped = "stopped";
}
