using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.Runtime;

/// <summary>
/// What `sandbox` keeps about a container under --root/ID/state.json. This is sandbox's own file, not an OCI
/// document; it is written and read with Utf8JsonWriter/JsonDocument directly because it sits on the start-up
/// path of every `sandbox run`, where building serializer metadata would cost more than the write itself.
/// </summary>
internal sealed record ContainerRecord
{
    public required string Id { get; init; }
    public required string Bundle { get; init; }
    public int Pid { get; init; }

    /// <summary>The process's start time (field 22 of /proc/PID/stat), so a reused pid is not mistaken for it.</summary>
    public ulong PidStartTime { get; init; }

    /// <summary>Set while a `sandbox run` supervises the container, or a `create` is setting it up; its process and start time.</summary>
    public int SupervisorPid { get; init; }
    public ulong SupervisorStartTime { get; init; }
    public string Created { get; init; } = "";

    /// <summary>How far `sandbox` got: <see cref="Creating"/> until setup is done, then created (create) or running (run).</summary>
    public string Phase { get; init; } = Creating;

    public const string Creating = "creating";

    /// <summary>The container's cgroup directories, so `delete` and a later run can kill what is left and remove them.</summary>
    public IReadOnlyList<string> Cgroups { get; init; } = [];
    public Dictionary<string, string>? Annotations { get; init; }

    /// <summary>`run --seccomp NAME|PATH`: the profile that replaced the bundle's, which `exec` applies too.</summary>
    public string? SeccompOverride { get; init; }

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options(indented: true)))
        {
            w.WriteStartObject();
            w.WriteString("id", Id);
            w.WriteString("bundle", Bundle);
            w.WriteNumber("pid", Pid);
            w.WriteNumber("pidStartTime", PidStartTime);
            w.WriteNumber("supervisorPid", SupervisorPid);
            w.WriteNumber("supervisorStartTime", SupervisorStartTime);
            w.WriteString("created", Created);
            w.WriteString("phase", Phase);
            w.WriteStartArray("cgroups");
            foreach (var c in Cgroups)
            {
                w.WriteStringValue(c);
            }
            w.WriteEndArray();
            if (SeccompOverride is not null)
            {
                w.WriteString("seccompOverride", SeccompOverride);
            }
            if (Annotations is not null)
            {
                w.WriteStartObject("annotations");
                foreach (var (k, v) in Annotations)
                {
                    w.WriteString(k, v);
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <exception cref="JsonException">The file is not a record this version wrote.</exception>
    /// <exception cref="KeyNotFoundException">A required field is missing.</exception>
    /// <exception cref="InvalidOperationException">A field has the wrong type.</exception>
    /// <exception cref="FormatException">A number is out of range.</exception>
    public static ContainerRecord FromJson(byte[] json)
    {
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        Dictionary<string, string>? annotations = null;
        if (r.TryGetProperty("annotations", out var a) && a.ValueKind == JsonValueKind.Object)
        {
            annotations = a.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
        }
        return new ContainerRecord
        {
            Id = r.GetProperty("id").GetString() ?? throw new JsonException("id is null"),
            Bundle = r.GetProperty("bundle").GetString() ?? throw new JsonException("bundle is null"),
            Pid = r.GetProperty("pid").GetInt32(),
            PidStartTime = r.GetProperty("pidStartTime").GetUInt64(),
            SupervisorPid = r.GetProperty("supervisorPid").GetInt32(),
            SupervisorStartTime = r.GetProperty("supervisorStartTime").GetUInt64(),
            Created = r.GetProperty("created").GetString() ?? "",
            Phase = r.GetProperty("phase").GetString() ?? Creating,
            Cgroups = r.TryGetProperty("cgroups", out var cg) ? [.. cg.EnumerateArray().Select(x => x.GetString() ?? "")] : [],
            Annotations = annotations,
            SeccompOverride = r.TryGetProperty("seccompOverride", out var so) ? so.GetString() : null,
        };
    }
}
