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

    /// <summary>
    /// The record from its JSON, read with Utf8JsonReader (a JsonDocument would build its own copy of the file, and
    /// bring the code that hashes property names, seeded from OpenSSL, into `sandbox`). Unknown fields are skipped and
    /// the last of a repeated one wins, as a JsonDocument's lookup did.
    /// </summary>
    /// <exception cref="JsonException">The file is not a record this version wrote.</exception>
    /// <exception cref="KeyNotFoundException">A required field is missing.</exception>
    /// <exception cref="InvalidOperationException">A field has the wrong type.</exception>
    /// <exception cref="FormatException">A number is out of range.</exception>
    public static ContainerRecord FromJson(byte[] json)
    {
        var r = new Utf8JsonReader(json);
        r.Read();
        if (r.TokenType != JsonTokenType.StartObject)
        {
            throw new InvalidOperationException($"the record is a JSON {r.TokenType}, not an object");
        }
        string? id = null, bundle = null, created = null, phase = null, seccompOverride = null;
        int? pid = null, supervisorPid = null;
        ulong? pidStartTime = null, supervisorStartTime = null;
        List<string> cgroups = [];
        Dictionary<string, string>? annotations = null;
        bool hasId = false, hasBundle = false, hasCreated = false, hasPhase = false;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            var name = r.GetString();
            r.Read();
            switch (name)
            {
                case "id": id = r.GetString(); hasId = true; break;
                case "bundle": bundle = r.GetString(); hasBundle = true; break;
                case "pid": pid = r.GetInt32(); break;
                case "pidStartTime": pidStartTime = r.GetUInt64(); break;
                case "supervisorPid": supervisorPid = r.GetInt32(); break;
                case "supervisorStartTime": supervisorStartTime = r.GetUInt64(); break;
                case "created": created = r.GetString(); hasCreated = true; break;
                case "phase": phase = r.GetString(); hasPhase = true; break;
                case "seccompOverride": seccompOverride = r.GetString(); break;
                case "cgroups":
                    cgroups = [];
                    Expect(ref r, JsonTokenType.StartArray, name);
                    while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                    {
                        cgroups.Add(r.GetString() ?? "");
                    }
                    break;
                case "annotations" when r.TokenType == JsonTokenType.StartObject:
                    annotations = [];
                    while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
                    {
                        var key = r.GetString()!;
                        r.Read();
                        annotations[key] = r.GetString() ?? "";
                    }
                    break;
                default:
                    r.Skip();
                    break;
            }
        }
        // Anything after the object is refused here, as a JsonDocument refused it.
        r.Read();
        return new ContainerRecord
        {
            Id = hasId ? id ?? throw new JsonException("id is null") : throw Missing("id"),
            Bundle = hasBundle ? bundle ?? throw new JsonException("bundle is null") : throw Missing("bundle"),
            Pid = pid ?? throw Missing("pid"),
            PidStartTime = pidStartTime ?? throw Missing("pidStartTime"),
            SupervisorPid = supervisorPid ?? throw Missing("supervisorPid"),
            SupervisorStartTime = supervisorStartTime ?? throw Missing("supervisorStartTime"),
            Created = hasCreated ? created ?? "" : throw Missing("created"),
            Phase = hasPhase ? phase ?? Creating : throw Missing("phase"),
            Cgroups = cgroups,
            Annotations = annotations,
            SeccompOverride = seccompOverride,
        };
    }

    private static void Expect(ref Utf8JsonReader r, JsonTokenType type, string name)
    {
        if (r.TokenType != type)
        {
            throw new InvalidOperationException($"{name} is a JSON {r.TokenType}, not {type}");
        }
    }

    private static KeyNotFoundException Missing(string name) => new($"the record has no {name}");
}
