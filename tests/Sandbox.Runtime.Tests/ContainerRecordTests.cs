using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sandbox.Runtime.Tests;

/// <summary>
/// The container record (--root/ID/state.json) is read with Utf8JsonReader; held here to the JsonDocument reading it
/// replaced (kept below as the reference): the same record, or the same kind of exception, for every file.
/// </summary>
public class ContainerRecordTests
{
    /// <summary>The reader as it was, with JsonDocument.</summary>
    private static ContainerRecord Reference(byte[] json)
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
            Phase = r.GetProperty("phase").GetString() ?? ContainerRecord.Creating,
            Cgroups = r.TryGetProperty("cgroups", out var cg) ? [.. cg.EnumerateArray().Select(x => x.GetString() ?? "")] : [],
            Annotations = annotations,
            SeccompOverride = r.TryGetProperty("seccompOverride", out var so) ? so.GetString() : null,
        };
    }

    private static string Outcome(Func<byte[], ContainerRecord> read, byte[] json)
    {
        try
        {
            return Encoding.UTF8.GetString(read(json).ToJson());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // JsonDocument's own exception types derive from these; StateStore catches exactly these four.
            return e is JsonException ? "JsonException" : e is KeyNotFoundException ? "KeyNotFoundException"
                : e is FormatException ? "FormatException" : "InvalidOperationException";
        }
    }

    private static readonly ContainerRecord[] Records =
    [
        new() { Id = "a", Bundle = "/b" },
        new()
        {
            Id = "x<y>&'\"é\u2028", Bundle = "/b ü", Pid = 42, PidStartTime = ulong.MaxValue, SupervisorPid = int.MaxValue, SupervisorStartTime = 7,
            Created = "2026-11-30T19:00:00.0000000Z", Phase = "running", Cgroups = ["/sys/fs/cgroup/a", "/sys/fs/cgroup/memory/a"],
            Annotations = new() { ["org.a"] = "b", ["<k>"] = "" }, SeccompOverride = "hermetic",
        },
    ];

    /// <summary>Each record as written, and changed one field at a time: removed, nulled, retyped, out of range, repeated.</summary>
    private static IEnumerable<byte[]> Documents()
    {
        foreach (var record in Records)
        {
            var bytes = record.ToJson();
            yield return bytes;
            var node = JsonNode.Parse(bytes)!.AsObject();
            foreach (var name in node.Select(p => p.Key).ToList())
            {
                foreach (var value in new[] { "null", "\"s\"", "-1", "4294967296", "18446744073709551616", "1.5", "true", "[]", "[null, \"c\"]", "[1]", "{}", "{ \"k\": null }", "{ \"k\": 1 }" })
                {
                    var changed = JsonNode.Parse(node.ToJsonString())!.AsObject();
                    changed[name] = JsonNode.Parse(value);
                    yield return Encoding.UTF8.GetBytes(changed.ToJsonString());
                }
                var removed = JsonNode.Parse(node.ToJsonString())!.AsObject();
                removed.Remove(name);
                yield return Encoding.UTF8.GetBytes(removed.ToJsonString());
                var text = node.ToJsonString();
                yield return Encoding.UTF8.GetBytes(text[..^1] + $", \"{name}\": {node[name]!.ToJsonString()}, \"unknown\": [1, {{}}] }}");
            }
        }
        foreach (var text in new[] { "", "null", "[]", "5", "{", "{} x", "{} {}", "{ \"id\": }", "{ 'id': 1 }", "{ \"id\": \"a\", }" })
        {
            yield return Encoding.UTF8.GetBytes(text);
        }
        var whole = Records[1].ToJson();
        for (var cut = 1; cut < whole.Length; cut += 7)
        {
            yield return whole[..cut];
        }
    }

    [Fact]
    public void Every_file_is_read_as_the_JsonDocument_reading_read_it()
    {
        var count = 0;
        foreach (var json in Documents())
        {
            count++;
            var expected = Outcome(Reference, json);
            var actual = Outcome(ContainerRecord.FromJson, json);
            Assert.True(expected == actual, $"input: {Encoding.UTF8.GetString(json)}\nJsonDocument: {expected}\nreader: {actual}");
        }
        Assert.True(count > 200, $"only {count} files");
    }

    [Fact]
    public void A_record_reads_back_as_written()
    {
        foreach (var record in Records)
        {
            Assert.Equal(Encoding.UTF8.GetString(record.ToJson()), Encoding.UTF8.GetString(ContainerRecord.FromJson(record.ToJson()).ToJson()));
        }
    }
}
