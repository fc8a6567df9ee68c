using System.Text.Json;

namespace Sandbox.Oci;

/// <summary>Reads and checks config.json. Every problem names its JSON path; all problems are reported at once.</summary>
public static class OciConfigLoader
{
    public const string FileName = "config.json";

    public static OciConfig LoadBundle(string bundleDir)
    {
        var path = Path.Combine(bundleDir, FileName);
        return Parse(ReadFile(path), path);
    }

    /// <summary>config.json's bytes: a regular file of at most <see cref="BoundedFile.DefaultLimit"/> bytes.</summary>
    public static byte[] ReadFile(string path) => BoundedFile.Read(path, out var errno)
        ?? throw new SandboxException(ErrorCodes.ConfigMissing, $"{path}: {BoundedFile.Describe(errno)}",
            errno == ENOENT ? "pass the bundle directory with --bundle, or create a config.json there with `sandbox spec`"
                : "check the bundle's permissions");

    private const int ENOENT = 2;

    /// <summary>
    /// Reads a whole document into a model, or null for a JSON null; throws JsonException as System.Text.Json does.
    /// <paramref name="nullOrNul"/> is false when the document has no null in a list or map and no NUL in a string, so
    /// that <see cref="NullAndNulScan"/> would find nothing there.
    /// </summary>
    internal delegate T? DocumentReader<T>(ReadOnlySpan<byte> json, out bool nullOrNul);

    /// <summary>config.json read by the source-generated serializer: what <see cref="OciConfigReader"/> is held to.</summary>
    internal static OciConfig? ReadWithSerializer(ReadOnlySpan<byte> json, out bool nullOrNul) => Serializer(OciJsonContext.Default.OciConfig)(json, out nullOrNul);

    /// <summary>A document read by the source-generated serializer (which leaves the null/NUL scan to be run).</summary>
    private static DocumentReader<T> Serializer<T>(System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        (ReadOnlySpan<byte> json, out bool nullOrNul) =>
        {
            nullOrNul = true;
            return JsonSerializer.Deserialize(json, type);
        };

    /// <summary>The document as <typeparamref name="T"/>; malformed JSON is an SBX error at its line and column.</summary>
    private static T Deserialize<T>(ReadOnlySpan<byte> json, DocumentReader<T> read, out bool nullOrNul, string displayPath, string hint)
        where T : class
    {
        try
        {
            return read(json, out nullOrNul)
                ?? throw new SandboxException(ErrorCodes.ConfigMalformed, $"{displayPath}: the document is null", "it must hold a JSON object");
        }
        catch (JsonException e)
        {
            var where = e.Path is null ? "" : $" at {e.Path}";
            var line = e.LineNumber is long l ? $":{l + 1}:{(e.BytePositionInLine ?? 0) + 1}" : "";
            throw new SandboxException(ErrorCodes.ConfigMalformed, $"{displayPath}{line}: invalid JSON{where}: {FirstSentence(e.Message)}", hint);
        }
    }

    /// <summary>config.json's model, read and checked; every problem found is in the one exception.</summary>
    public static OciConfig Parse(ReadOnlySpan<byte> json, string displayPath) => Parse(json, displayPath, OciConfigReader.Read);

    /// <summary>The same with another reader of the document (the tests give <see cref="ReadWithSerializer"/>).</summary>
    internal static OciConfig Parse(ReadOnlySpan<byte> json, string displayPath, DocumentReader<OciConfig> read)
    {
        var config = Deserialize(json, read, out var nullOrNul, displayPath, "fix config.json; the runtime-spec's config schema lists each field's type");
        var problems = OciConfigValidator.Validate(config, scanForNullAndNul: nullOrNul);
        if (problems.Count > 0)
        {
            throw new SandboxException(problems[0].Code,
                $"{displayPath}: " + string.Join("\n  ", problems.Select(p => $"{p.Path}: {p.Message}")),
                problems.Count == 1 ? problems[0].Hint : "fix each field listed above");
        }
        return config;
    }

    /// <summary>
    /// A `linux.resources` object on its own (`sandbox update --resources FILE`), checked as it would be in a
    /// config.json; problems are named by their path in the file.
    /// </summary>
    public static OciResources ParseResources(ReadOnlySpan<byte> json, string displayPath)
    {
        var resources = Deserialize(json, OciConfigReader.ReadResources, out _, displayPath, "fix the file; it holds what config.json's linux.resources would");
        ThrowProblems(new OciConfig { Linux = new OciLinux { Resources = resources } }, "$.linux.resources", displayPath);
        return resources;
    }

    /// <summary>
    /// A `process` object on its own (`sandbox exec --process FILE`, as podman passes it), checked as it would be in
    /// a config.json; problems are named by their path in the file.
    /// </summary>
    public static OciProcess ParseProcess(ReadOnlySpan<byte> json, string displayPath)
    {
        var process = Deserialize(json, OciConfigReader.ReadProcess, out _, displayPath, "fix the file; it holds what config.json's process would");
        CheckProcess(process, displayPath);
        return process;
    }

    /// <summary>Checks a process as config.json's would be; problems are named by their path below it.</summary>
    public static void CheckProcess(OciProcess process, string displayPath) =>
        ThrowProblems(new OciConfig { Process = process }, "$.process", displayPath);

    /// <summary>Throws the problems of one part of a config (those below <paramref name="prefix"/>), with paths relative to it.</summary>
    private static void ThrowProblems(OciConfig partial, string prefix, string displayPath)
    {
        var problems = OciConfigValidator.Validate(partial)
            .Where(p => p.Path == prefix || p.Path.StartsWith(prefix + ".", StringComparison.Ordinal) || p.Path.StartsWith(prefix + "[", StringComparison.Ordinal))
            .ToList();
        if (problems.Count > 0)
        {
            throw new SandboxException(problems[0].Code,
                $"{displayPath}: " + string.Join("\n  ", problems.Select(p => $"${p.Path[prefix.Length..]}: {p.Message}")),
                problems.Count == 1 ? problems[0].Hint : "fix each field listed above");
        }
    }

    /// <summary>A config as the source-generated serializer writes it (sandbox-build and `sandbox spec`; not `sandbox`'s run path).</summary>
    public static string Serialize(OciConfig config) => JsonSerializer.Serialize(config, OciJsonContext.Default.OciConfig);

    /// <summary>
    /// The state as `sandbox state` prints it and hooks read it: what the source-generated serializer wrote for
    /// <see cref="OciState"/> (camelCase, indented, ociVersion/annotations left out when null, pid when 0), written
    /// directly so that `sandbox` carries no serializer metadata; OciStateJsonTests hold the two to the same bytes.
    /// </summary>
    public static byte[] SerializeToUtf8(OciState state)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options(indented: true)))
        {
            w.WriteStartObject();
            StringUnlessNull(w, "ociVersion", state.OciVersion);
            StringUnlessNull(w, "id", state.Id);
            StringUnlessNull(w, "status", state.Status);
            if (state.Pid != 0)
            {
                w.WriteNumber("pid", state.Pid);
            }
            StringUnlessNull(w, "bundle", state.Bundle);
            if (state.Annotations is { } annotations)
            {
                w.WriteStartObject("annotations");
                foreach (var (key, value) in annotations)
                {
                    w.WriteString(key, value);
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The state as text: <see cref="SerializeToUtf8(OciState)"/>.</summary>
    public static string Serialize(OciState state) => System.Text.Encoding.UTF8.GetString(SerializeToUtf8(state));

    private static void StringUnlessNull(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static string FirstSentence(string message)
    {
        // System.Text.Json appends "Path: $... | LineNumber: ..." which we already print in our own form.
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
