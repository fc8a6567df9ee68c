using System.Text.Json;

namespace Sandbox.TestAdapter;

/// <summary>
/// `$(TargetName).sandbox.json`, which Sandbox.Build writes beside the assembly (docs/msbuild.md#the-manifest): where
/// the bundle and the `sandbox` executable are. Fields this version does not know are ignored.
/// </summary>
internal sealed record SandboxManifest(string Bundle, string Sandbox, string OutputDirectory)
{
    public static string PathFor(string source) =>
        Path.Combine(Path.GetDirectoryName(source) ?? ".", Path.GetFileNameWithoutExtension(source) + ".sandbox.json");

    /// <summary>The manifest of <paramref name="source"/>; an <see cref="AdapterException"/> naming the fix when it is missing or unusable.</summary>
    public static SandboxManifest Read(string source)
    {
        var path = PathFor(source);
        if (!File.Exists(path))
        {
            throw new AdapterException(AdapterErrors.NoManifest, $"{path} is missing: Sandbox.Build writes it after Build. rebuild the project (it must reference Sandbox.TestAdapter), or run unsandboxed with SANDBOX_DISABLE=1");
        }
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            string Field(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && Path.IsPathRooted(v.GetString())
                ? v.GetString()!
                : throw new AdapterException(AdapterErrors.NoManifest, $"{path} has no absolute '{name}': rebuild the test project");
            return new(Field("bundle"), Field("sandbox"), Field("outputDirectory"));
        }
        catch (JsonException e)
        {
            throw new AdapterException(AdapterErrors.NoManifest, $"{path} is not valid JSON ({e.Message}): rebuild the test project");
        }
    }
}

/// <summary>An error the adapter reports to the user with its SBX code.</summary>
internal sealed class AdapterException(string code, string message) : Exception($"{code}: {message}")
{
    public string Code { get; } = code;
}

/// <summary>The adapter's SBX codes (docs/errors.md, SBX5020–SBX5049).</summary>
internal static class AdapterErrors
{
    public const string NoManifest = "SBX5020";
    public const string NoFrameworkAdapter = "SBX5021";
    public const string NoFrameworkExecutor = "SBX5022";
    public const string AgentFailed = "SBX5023";
    public const string SandboxCrashed = "SBX5024";
    public const string BadBundle = "SBX5025";
    public const string BadSetting = "SBX5026";
    public const string HostCannotSandbox = "SBX5027";
    public const string RanUnsandboxed = "SBX5028";
    public const string TestTimedOut = "SBX5029";
    public const string IsolationNotAvailable = "SBX5030";
}
