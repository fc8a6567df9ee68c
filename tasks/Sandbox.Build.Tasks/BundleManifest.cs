using System.Text;
using System.Text.Json;

namespace Sandbox.Build.Tasks;

/// <summary>
/// `$(TargetName).sandbox.json` beside the assembly: what the test adapter reads at run time, where MSBuild is gone,
/// to find the bundle and the `sandbox` executable. Every path is absolute.
/// </summary>
internal sealed record BundleManifest(string Bundle, string Digest, string Spec, bool DefaultSpec, string OutputDirectory, SandboxTools Tools)
{
    public const int FormatVersion = 1;

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("version", FormatVersion);
            json.WriteString("bundle", Bundle);
            json.WriteString("digest", Digest);
            json.WriteString("spec", Spec);
            json.WriteBoolean("defaultSpec", DefaultSpec);
            json.WriteString("outputDirectory", OutputDirectory);
            json.WriteString("sandbox", Tools.Sandbox);
            json.WriteString("sandboxBuild", Tools.SandboxBuild);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    public void Write(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, ToJson());
        File.Move(tmp, path, overwrite: true);
    }
}
