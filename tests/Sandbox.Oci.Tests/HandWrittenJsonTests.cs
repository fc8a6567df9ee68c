using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Sandbox.Oci.Tests;

/// <summary>
/// What `sandbox` does without the source-generated serializer (so that it does not carry its metadata) is held to
/// that serializer: the null and NUL scan to the walk by its metadata, the state's JSON to what it writes.
/// </summary>
public class HandWrittenJsonTests
{
    private static string Show(IReadOnlyList<ConfigProblem> problems) => string.Join("\n", problems.Select(p => $"{p.Code} {p.Path}: {p.Message} ({p.Hint})"));

    private static T Sample<T>(JsonTypeInfo<T> info, JsonSamples.Fill fill)
    {
        var n = 0;
        return JsonSerializer.Deserialize(JsonSamples.Of(info, fill, ref n)!.ToJsonString(), info)!;
    }

    /// <summary>The scan of a sample with a null and a NUL in every place finds what the walk by the metadata finds, and enough of it.</summary>
    private static void ScanAgrees<T>(JsonTypeInfo<T> info, Func<T, IReadOnlyList<ConfigProblem>> scan, string path, int atLeast)
    {
        var model = Sample(info, JsonSamples.Fill.NullsAndNuls);
        var expected = NullAndNulMetadataScan.Scan(model, info, path, "NULL", "NUL");
        Assert.Equal(Show(expected), Show(scan(model)));
        // Every string field, list and map of the model is in the sample.
        Assert.True(expected.Count >= atLeast, $"only {expected.Count} problems in the sample");
    }

    [Fact]
    public void The_scan_finds_what_the_walk_by_the_metadata_finds_in_a_config_with_a_null_and_a_NUL_everywhere() =>
        ScanAgrees(OciJsonContext.Default.OciConfig, c => NullAndNulScan.Scan(c, "$", "NULL", "NUL"), "$", 150);

    [Fact]
    public void The_scan_finds_what_the_walk_by_the_metadata_finds_in_a_profile_with_a_null_and_a_NUL_everywhere() =>
        ScanAgrees(OciSeccompJsonContext.Default.OciSeccomp, p => NullAndNulScan.Scan(p, "$.linux.seccomp", "NULL", "NUL"), "$.linux.seccomp", 20);

    [Fact]
    public void The_scan_finds_nothing_where_the_walk_finds_nothing()
    {
        var config = Sample(OciJsonContext.Default.OciConfig, JsonSamples.Fill.Full);
        Assert.Empty(NullAndNulMetadataScan.Scan(config, OciJsonContext.Default.OciConfig, "$", "NULL", "NUL"));
        Assert.Empty(NullAndNulScan.Scan(config, "$", "NULL", "NUL"));
        foreach (var (name, text) in OciConfigReaderTests.Seeds())
        {
            var seed = JsonSerializer.Deserialize(text, OciJsonContext.Default.OciConfig)!;
            Assert.True(NullAndNulScan.Scan(seed, "$", "NULL", "NUL").Count == 0, name);
        }
    }

    public static TheoryData<string> States() =>
    [
        """{ "id": "a", "status": "created", "pid": 42, "bundle": "/b" }""",
        """{ "ociVersion": "1.0.2", "id": "a", "status": "stopped", "pid": 0, "bundle": "/b" }""",
        """{ "id": "a", "status": "running", "pid": 2147483647, "bundle": "/b", "annotations": {} }""",
        """{ "id": "x<y>&'\"+`\\é\u2028\u0001", "status": "creating", "pid": 1, "bundle": "/b ü", "annotations": { "org.a": "b", "<k>": "v&", "é": "\u0000" } }""",
        """{ "ociVersion": null, "id": "a", "status": "paused", "pid": -5, "bundle": "/b", "annotations": { "n": null } }""",
    ];

    [Theory]
    [MemberData(nameof(States))]
    public void The_state_is_written_as_the_serializer_writes_it(string json)
    {
        var state = JsonSerializer.Deserialize(json, OciJsonContext.Default.OciState)!;
        var expected = JsonSerializer.Serialize(state, OciJsonContext.Default.OciState);
        Assert.Equal(expected, OciConfigLoader.Serialize(state));
        Assert.Equal(Encoding.UTF8.GetBytes(expected), OciConfigLoader.SerializeToUtf8(state));
    }

    [Fact]
    public void Every_field_of_the_state_is_written_as_the_serializer_writes_it()
    {
        foreach (var fill in new[] { JsonSamples.Fill.Full, JsonSamples.Fill.NullsAndNuls })
        {
            var state = Sample(OciJsonContext.Default.OciState, fill);
            Assert.Equal(JsonSerializer.Serialize(state, OciJsonContext.Default.OciState), OciConfigLoader.Serialize(state));
        }
    }
}
