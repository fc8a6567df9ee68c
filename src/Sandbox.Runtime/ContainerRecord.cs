using System.Text.Json.Serialization;

namespace Sandbox.Runtime;

/// <summary>What `sandbox` keeps about a container under --root/ID/state.json.</summary>
internal sealed record ContainerRecord
{
    public required string Id { get; init; }
    public required string Bundle { get; init; }
    public int Pid { get; init; }

    /// <summary>The process's start time (field 22 of /proc/PID/stat), so a reused pid is not mistaken for it.</summary>
    public ulong PidStartTime { get; init; }

    /// <summary>Set while a `sandbox run` supervises the container; its process and start time.</summary>
    public int SupervisorPid { get; init; }
    public ulong SupervisorStartTime { get; init; }
    public string Created { get; init; } = "";
    public Dictionary<string, string>? Annotations { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(ContainerRecord))]
internal sealed partial class RuntimeJsonContext : JsonSerializerContext;
