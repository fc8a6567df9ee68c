using System.Text;

namespace Sandbox.Build.Tasks;

/// <summary>
/// The hermetic default spec for a project without a sandbox.yaml. Its content lives in one place, the template the
/// package ships (build/Sandbox.Build.default.yaml); this only fills in the project's paths.
/// </summary>
internal static class DefaultSpec
{
    public const string OutputDirectoryToken = "{{OutputDirectory}}";

    public static string Render(string template, string outputDirectory)
    {
        if (!template.Contains(OutputDirectoryToken, StringComparison.Ordinal))
        {
            throw new FormatException($"the default spec template has no {OutputDirectoryToken}");
        }
        return template.Replace(OutputDirectoryToken, QuotedYaml(Path.TrimEndingDirectorySeparator(outputDirectory)), StringComparison.Ordinal);
    }

    /// <summary>
    /// A YAML double-quoted scalar: a path may hold spaces, '#', ': ' or quotes, any of which would change the meaning
    /// of a plain scalar.
    /// </summary>
    internal static string QuotedYaml(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case < ' ' or '\u007f': sb.Append($"\\x{(int)c:x2}"); break;
                default: sb.Append(c); break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Writes the rendered spec unless the file already holds it, so its time stamp moves only with its content.</summary>
    public static void Write(string path, string content)
    {
        if (File.Exists(path) && File.ReadAllText(path) == content)
        {
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, content);
        File.Move(tmp, path, overwrite: true);
    }
}
