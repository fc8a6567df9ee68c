using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Sandbox.Fuzzing;

namespace Sandbox.Oci.Tests;

/// <summary>
/// OciConfigReader, which `sandbox run` reads config.json with, is held to the source-generated serializer it stands in
/// for: on every config the tests use or make, on each field of the model with good and bad values, on malformed
/// documents and on mutations of valid ones, both give the same model, or refuse with the same error.
/// </summary>
[Collection(FuzzCollection.Name)]
public class OciConfigReaderTests
{
    /// <summary>
    /// What reading and checking <paramref name="json"/> gives: the model as the serializer writes it (or the exception's
    /// type), then the loader's verdict (the SBX error with its code, message, JSON path, line, column and hint).
    /// </summary>
    private static string Outcome(byte[] json, OciConfigLoader.DocumentReader<OciConfig> read)
    {
        string model;
        try
        {
            model = read(json, out _) is { } c ? OciConfigLoader.Serialize(c) : "null";
        }
        catch (JsonException)
        {
            model = "refused";
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or NotSupportedException or FormatException)
        {
            model = $"{e.GetType().Name}: {e.Message}";
        }
        try
        {
            OciConfigLoader.Parse(json, "config.json", read);
            return model + "\naccepted";
        }
        catch (SandboxException e)
        {
            return model + "\n" + e;
        }
    }

    /// <summary>Null when both readers agree on <paramref name="json"/>, else both outcomes.</summary>
    private static string? Disagreement(byte[] json)
    {
        var expected = Outcome(json, OciConfigLoader.ReadWithSerializer);
        var actual = Outcome(json, OciConfigReader.Read);
        return expected == actual ? null
            : $"input: {Encoding.UTF8.GetString(json)}\nserializer: {expected}\nreader:     {actual}";
    }

    private static void Agree(string json) => Agree(Encoding.UTF8.GetBytes(json));

    private static void Agree(byte[] json)
    {
        if (Disagreement(json) is { } d)
        {
            Assert.Fail(d);
        }
    }

    /// <summary>Every config.json the tests use or make, and what `runc spec` and `sandbox-build` write.</summary>
    internal static IReadOnlyList<(string Name, string Text)> Seeds()
    {
        var seeds = new List<(string, string)>
        {
            ("sandbox spec", OciConfigLoader.Serialize(DefaultConfig.Create(rootless: false, 0, 0))),
            ("sandbox spec --rootless", OciConfigLoader.Serialize(DefaultConfig.Create(rootless: true, 1000, 1000))),
            ("ConfigParsingTests", ConfigParsingTests.Minimal),
            ("NullAndNulTests", NullAndNulTests.Valid),
            ("SysctlTests", SysctlTests.Config("\"net.ipv4.ip_forward\": \"1\", \"kernel.msgmax\": \"8192\"",
                """{ "type": "mount" }, { "type": "network" }, { "type": "ipc" }""")),
            ("samples/hello/config.json", File.ReadAllText(Path.Combine(RepoRoot(), "samples/hello/config.json"))),
            ("config-every-field.json", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fuzzing/seeds/config-every-field.json"))),
        };
        // runc-spec*.json: `runc spec` and `runc spec --rootless` of runc 1.1.5; sandbox-build-spec.json: samples/spec
        // built by sandbox-build; startup-bench.json: the bundle of eng/bench/startup.sh.
        // runc's asks for a terminal, which sandbox refuses: turned off, so that mutations get past the checks.
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Configs"), "*.json").Order(StringComparer.Ordinal))
        {
            seeds.Add((Path.GetFileName(file), File.ReadAllText(file).Replace("\"terminal\": true", "\"terminal\": false", StringComparison.Ordinal)));
        }
        return seeds;
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sandbox.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("no Sandbox.sln above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Every_config_the_tests_use_is_read_to_the_same_model()
    {
        foreach (var (name, text) in Seeds())
        {
            var json = Encoding.UTF8.GetBytes(text);
            Assert.True(Disagreement(json) is null, $"{name}: {Disagreement(json)}");
            // The seeds are valid, so that their mutations go as far as they can.
            Assert.NotNull(OciConfigLoader.Parse(json, name));
        }
    }

    [Fact]
    public void The_config_runc_spec_writes_now_is_read_to_the_same_model()
    {
        var dir = Directory.CreateTempSubdirectory();
        try
        {
            foreach (var args in new[] { "spec", "spec --rootless" })
            {
                File.Delete(Path.Combine(dir.FullName, "config.json"));
                if (!RunIn(dir.FullName, "runc", args))
                {
                    return; // runc is not installed: the fixtures Configs/runc-spec*.json stand in
                }
                Agree(File.ReadAllBytes(Path.Combine(dir.FullName, "config.json")));
            }
        }
        finally
        {
            dir.Delete(true);
        }
    }

    private static bool RunIn(string dir, string program, string args)
    {
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, args) { WorkingDirectory = dir })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("null")]
    [InlineData("null x")]
    [InlineData("[1,2]")]
    [InlineData("5")]
    [InlineData("\"x\"")]
    [InlineData("true")]
    [InlineData("{")]
    [InlineData("}")]
    [InlineData("{}")]
    [InlineData("{} {}")]
    [InlineData("{}\n\n  x")]
    [InlineData("{ \"ociVersion\": }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\" // comment\n }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\" /* comment */ }")]
    [InlineData("{ 'ociVersion': '1.0.2' }")]
    [InlineData("{ ociVersion: \"1.0.2\" }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\" \"root\": {} }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\",\r\n  \"process\": { \"args\": [\"sh\",] } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\",\n  \"process\": { \"args\": [\"a\" \"b\"] } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\",\n  \"process\": { \"args\": [,] } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"args\": \"sh\" } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"args\": [\"sh\", 1] } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"args\": [\"sh\", null] } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"user\": { \"uid\": \"root\" } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"user\": { \"uid\": null } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"user\": { \"uid\": -1 } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"user\": { \"uid\": 4294967296 } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"user\": { \"uid\": 1.0 } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"user\": { \"uid\": 1e2 } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"user\": { \"uid\": 01 } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"user\": { \"additionalGids\": [1, null] } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"oomScoreAdj\": 2147483648 } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"soft\": 18446744073709551616 } ] } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"terminal\": \"false\" } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"terminal\": null } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"root\": [] }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"mounts\": {} }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"mounts\": [5] }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"annotations\": [] }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"annotations\": { \"a\": 1 } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"annotations\": { \"a.b\": 1 } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"annotations\": { \"a'b\": 1 } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"annotations\": { \"a\": \"b\" \"c\": \"d\" } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"annotations\": { \"a\\u0000\": \"b\" } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"hostname\": \"a\\u0000\" }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"hostname\": \"\\ud800\" }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"hostname\": \"\\x\" }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"hostname\": \"a\tb\" }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"un.known\": [1, }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"\\ud800x\": [1, }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"cwd\": \"/\", \"\\udc00\": 1 } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"process\": { \"\\udc00\": 1 } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"annotations\": { \"\\udc00\": \"b\" } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"unknown\": { \"a\": [1, 2, {\"b\": }] } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"linux\": { \"resources\": { \"network\": { \"a\": [1, } } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"linux\": { \"timeOffsets\": { \"monotonic\": { \"secs\": } } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"linux\": { \"resources\": { \"blockIO\": { \"weight\": 65536 } } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"linux\": { \"sysctl\": { \"a\": \"b\" }, \"sysctl\": { \"c\": 5 } } }")]
    public void Malformed_documents_are_refused_alike(string json) => Agree(json);

    [Theory]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"ociVersion\": \"1.9.0\" }")]
    [InlineData("{ \"oci\\u0056ersion\": \"1.0.2\", \"root\": { \"path\": \"r\" }, \"process\": { \"args\": [\"a\"], \"cwd\": \"/\" } }")]
    [InlineData("{ \"OciVersion\": \"1.0.2\", \"root\": { \"path\": \"r\" }, \"process\": { \"args\": [\"a\"], \"cwd\": \"/\" } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"root\": { \"path\": \"a\" }, \"root\": { \"readonly\": true }, \"process\": { \"args\": [\"a\"], \"cwd\": \"/\" } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"root\": { \"path\": \"r\" }, \"process\": { \"args\": [\"a\"], \"cwd\": \"/\" }, \"hostname\": null, \"mounts\": null, \"linux\": { \"resources\": { \"hugepageLimits\": null, \"network\": null } } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"root\": { \"path\": \"r\" }, \"process\": { \"args\": [\"a\"], \"cwd\": \"/\" }, \"linux\": { \"timeOffsets\": { \"a\": null } } }")]
    [InlineData("\ufeff{ \"ociVersion\": \"1.0.2\", \"root\": { \"path\": \"r\" }, \"process\": { \"args\": [\"a\"], \"cwd\": \"/\" } }")]
    [InlineData("{ \"ociVersion\": \"1.0.2\", \"root\": { \"path\": \"r\" }, \"process\": { \"args\": [\"a\"], \"cwd\": \"/\" }, \"x\": { \"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] } }")]
    public void Edge_cases_of_valid_json_are_read_alike(string json) => Agree(json);

    [Fact]
    public void Bytes_that_are_not_UTF_8_are_read_alike()
    {
        var valid = Encoding.UTF8.GetBytes(NullAndNulTests.Valid);
        foreach (var (at, bytes) in new (string, byte[])[]
                 {
                     ("\"rootfs", [0xff]), ("\"/bin/true", [0xc3]), ("\"root", [0xfe, 0xff]), ("\"ociVersion", [0x80]), ("{", [0xef, 0xbb, 0xbf]),
                 })
        {
            var i = NullAndNulTests.Valid.IndexOf(at, StringComparison.Ordinal) + at.Length;
            Agree([.. valid[..i], .. bytes, .. valid[i..]]);
        }
        Agree([0xef, 0xbb, 0xbf, .. valid]);
        // In the name of an unknown property and of a map key, which the paths of errors after them show.
        Agree([.. "{ \"a\\u0000"u8, 0xff, .. "\": [1, }"u8]);
        Agree([.. "{ \"a"u8, 0xff, .. "\": [1, }"u8]);
        Agree([.. "{ \"annotations\": { \"a\\u00e9"u8, 0xff, .. "\": 1 } }"u8]);
        Agree([.. "{ \"annotations\": { \"a\": \"b\", \"c"u8, 0xff, .. "\": 1 } }"u8]);
    }

    [Fact]
    public void Each_field_of_the_model_is_read_alike_with_good_and_bad_values()
    {
        var failures = new List<string>();
        var count = 0;
        foreach (var (property, value) in Values(OciJsonContext.Default.OciConfig, depth: 0))
        {
            var document = JsonNode.Parse(NullAndNulTests.Valid)!.AsObject();
            document[property] = value;
            count++;
            if (Disagreement(Encoding.UTF8.GetBytes(document.ToJsonString())) is { } d)
            {
                failures.Add(d);
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} disagree; the first:\n" + string.Join("\n\n", failures.Take(5)));
        Assert.True(count > 1000, $"only {count} documents");
    }

    /// <summary>
    /// For each property of the object type <paramref name="info"/> (found in the serializer's metadata, so that a field
    /// added to the model is covered), values to set it to: good ones of its type, nested down to every leaf, and bad ones.
    /// </summary>
    private static IEnumerable<(string Property, JsonNode? Value)> Values(JsonTypeInfo info, int depth)
    {
        foreach (var property in info.Properties)
        {
            foreach (var value in ValuesOf(info.Options.GetTypeInfo(property.PropertyType), depth))
            {
                yield return (property.Name, value);
            }
        }
    }

    private static IEnumerable<JsonNode?> ValuesOf(JsonTypeInfo info, int depth)
    {
        // Wrong types, nulls, NULs, numbers at and past the ends of every range.
        foreach (var bad in new[] { "null", "\"s\"", "\"a\\u0000b\"", "\"\"", "0", "7", "-1", "1.5", "1e2", "65536", "4294967296", "-2147483649",
                                    "18446744073709551616", "true", "false", "{}", "[]", "[null]", "{\"k\": null}" })
        {
            yield return JsonNode.Parse(bad);
        }
        if (depth > 6)
        {
            yield break;
        }
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object:
                foreach (var (property, value) in Values(info, depth + 1))
                {
                    yield return new JsonObject { [property] = value, ["unknownField"] = new JsonArray(1, "x") };
                }
                break;
            case JsonTypeInfoKind.Enumerable:
                foreach (var element in ValuesOf(info.Options.GetTypeInfo(info.ElementType!), depth + 1))
                {
                    yield return new JsonArray(element?.DeepClone(), element);
                }
                break;
            case JsonTypeInfoKind.Dictionary:
                foreach (var value in ValuesOf(info.Options.GetTypeInfo(info.ElementType!), depth + 1))
                {
                    yield return new JsonObject { ["k"] = value, ["a.b\u0000"] = value?.DeepClone() };
                }
                break;
        }
    }

    /// <summary>
    /// What reading a process, resources or seccomp document on its own gives: the model as the serializer writes it,
    /// or the JsonException as the serializer words it (message, path, line, position).
    /// </summary>
    private static string DocumentOutcome<T>(byte[] json, OciConfigLoader.DocumentReader<T> read, JsonTypeInfo<T> info, bool hand)
    {
        try
        {
            return read(json, out _) is { } model ? JsonSerializer.Serialize(model, info) : "null";
        }
        catch (JsonException e)
        {
            return $"{(hand ? OciConfigReader.SerializerMessage(e) : e.Message)}\n{e.Path} {e.LineNumber} {e.BytePositionInLine}";
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or NotSupportedException or FormatException)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    private static IEnumerable<string> DocumentDisagreements<T>(JsonTypeInfo<T> info, OciConfigLoader.DocumentReader<T> read, IEnumerable<byte[]> documents)
    {
        foreach (var json in documents)
        {
            var expected = DocumentOutcome(json, (ReadOnlySpan<byte> j, out bool n) => { n = true; return JsonSerializer.Deserialize(j, info); }, info, hand: false);
            var actual = DocumentOutcome(json, read, info, hand: true);
            if (expected != actual)
            {
                yield return $"input: {Encoding.UTF8.GetString(json)}\nserializer: {expected}\nreader:     {actual}";
            }
        }
    }

    /// <summary>Documents of <paramref name="info"/>'s shape: each field with good and bad values, whole samples, malformed text.</summary>
    private static IEnumerable<byte[]> Documents(JsonTypeInfo info)
    {
        foreach (var (property, value) in Values(info, depth: 1))
        {
            yield return Encoding.UTF8.GetBytes(new JsonObject { [property] = value, ["other"] = 1 }.ToJsonString());
        }
        foreach (var fill in new[] { JsonSamples.Fill.Full, JsonSamples.Fill.NullsAndNuls })
        {
            var n = 0;
            yield return Encoding.UTF8.GetBytes(JsonSamples.Of(info, fill, ref n)!.ToJsonString());
        }
        foreach (var text in new[] { "", "null", "[]", "5", "{", "{} x", "{ \"a\": }", "{\n  \"a\": [1,\n 2,, ] }", "{ 'a': 1 }", "\"x\"" })
        {
            yield return Encoding.UTF8.GetBytes(text);
        }
    }

    [Fact]
    public void Process_resources_and_seccomp_documents_are_read_alike()
    {
        var failures = new List<string>();
        failures.AddRange(DocumentDisagreements(OciJsonContext.Default.OciProcess, OciConfigReader.ReadProcess, Documents(OciJsonContext.Default.OciProcess)));
        failures.AddRange(DocumentDisagreements(OciJsonContext.Default.OciResources, OciConfigReader.ReadResources, Documents(OciJsonContext.Default.OciResources)));
        failures.AddRange(DocumentDisagreements(OciSeccompJsonContext.Default.OciSeccomp, OciConfigReader.ReadSeccomp, Documents(OciSeccompJsonContext.Default.OciSeccomp)));
        // The process, resources and seccomp profile of every seed config.
        var seeds = Seeds().Select(s => JsonNode.Parse(s.Text)!).ToList();
        failures.AddRange(DocumentDisagreements(OciSeccompJsonContext.Default.OciSeccomp, OciConfigReader.ReadSeccomp,
            seeds.Where(s => s["linux"]?["seccomp"] is not null).Select(s => Encoding.UTF8.GetBytes(s["linux"]!["seccomp"]!.ToJsonString()))));
        failures.AddRange(DocumentDisagreements(OciJsonContext.Default.OciProcess, OciConfigReader.ReadProcess,
            seeds.Where(s => s["process"] is not null).Select(s => Encoding.UTF8.GetBytes(s["process"]!.ToJsonString()))));
        failures.AddRange(DocumentDisagreements(OciJsonContext.Default.OciResources, OciConfigReader.ReadResources,
            seeds.Where(s => s["linux"]?["resources"] is not null).Select(s => Encoding.UTF8.GetBytes(s["linux"]!["resources"]!.ToJsonString()))));
        Assert.True(failures.Count == 0, $"{failures.Count} disagree; the first:\n" + string.Join("\n\n", failures.Take(5)));
    }

    [Fact]
    [Trait("Category", "Fuzz")]
    public void Mutations_of_the_configs_are_read_alike()
    {
        var seeds = Seeds();
        var failures = new List<string>();
        var count = Fuzz.Count(3000, 0.5);
        var read = 0;
        for (var i = 0; i < count; i++)
        {
            var (name, text) = seeds[i % seeds.Count];
            var input = new JsonMutator(7_000_000 + i).Mutate(text);
            if (Disagreement(input) is { } d)
            {
                failures.Add($"mutation {i} of {name}: {d}");
            }
            else if (Read(input) is not null)
            {
                read++;
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} mutations disagree; the first:\n" + string.Join("\n\n", failures.Take(3)));
        // Enough of them are JSON of the model's shape that the models, not only the errors, are compared.
        Assert.True(read > count / 10, $"only {read} of {count} mutations were read to a model");
    }

    private static OciConfig? Read(byte[] json)
    {
        try
        {
            return OciConfigReader.Read(json, out _);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
