using System.Collections;
using System.Text;
using System.Text.Json.Serialization.Metadata;

namespace Sandbox.Oci;

/// <summary>
/// Finds the two things a deserialized model may hold that no check of a field thinks of: a JSON null as a list
/// element or map value (System.Text.Json lets it into a List&lt;string&gt; or List&lt;OciHook&gt;, where it truncates
/// argv or crashes whatever reads the list), and a NUL character in a string (every string here ends up as a C string:
/// a path, an argument, a variable, a name, where NUL cuts it short). It walks the model by the source-generated JSON
/// metadata, so a field added to the model later is covered without a change here.
/// </summary>
public static class NullAndNulScan
{
    /// <summary>
    /// The problems of <paramref name="model"/>, each named by its JSON path below <paramref name="path"/>: nulls with
    /// <paramref name="nullCode"/>, NUL characters with <paramref name="nulCode"/>.
    /// </summary>
    public static IReadOnlyList<ConfigProblem> Scan<T>(T model, JsonTypeInfo<T> info, string path, string nullCode, string nulCode)
    {
        var problems = new List<ConfigProblem>();
        if (model is not null)
        {
            Walk(model, info, path, nullCode, nulCode, problems);
        }
        return problems;
    }

    private static void Walk(object value, JsonTypeInfo info, string path, string nullCode, string nulCode, List<ConfigProblem> problems)
    {
        switch (info.Kind)
        {
            case JsonTypeInfoKind.None:
                if (value is string s && s.Contains('\0', StringComparison.Ordinal))
                {
                    problems.Add(Nul(path, nulCode));
                }
                break;
            case JsonTypeInfoKind.Object:
                foreach (var property in info.Properties)
                {
                    if (property.Get?.Invoke(value) is { } child)
                    {
                        Walk(child, info.Options.GetTypeInfo(property.PropertyType), $"{path}.{property.Name}", nullCode, nulCode, problems);
                    }
                }
                break;
            case JsonTypeInfoKind.Enumerable:
                var elements = info.Options.GetTypeInfo(info.ElementType!);
                var i = 0;
                foreach (var item in (IEnumerable)value)
                {
                    Element(item, elements, $"{path}[{i++}]", nullCode, nulCode, problems);
                }
                break;
            case JsonTypeInfoKind.Dictionary:
                var values = info.Options.GetTypeInfo(info.ElementType!);
                foreach (DictionaryEntry entry in (IDictionary)value)
                {
                    var key = (string)entry.Key;
                    var at = $"{path}.{Printable(key)}";
                    if (key.Contains('\0', StringComparison.Ordinal))
                    {
                        problems.Add(Nul(at, nulCode));
                    }
                    Element(entry.Value, values, at, nullCode, nulCode, problems);
                }
                break;
        }
    }

    private static void Element(object? item, JsonTypeInfo info, string path, string nullCode, string nulCode, List<ConfigProblem> problems)
    {
        if (item is null)
        {
            problems.Add(new(nullCode, path, "null is not allowed", "remove the null, or put a value of the right type in its place"));
        }
        else
        {
            Walk(item, info, path, nullCode, nulCode, problems);
        }
    }

    private static ConfigProblem Nul(string path, string code) =>
        new(code, path, "holds a NUL character (\\u0000), which no path, argument or name given to the kernel can contain",
            "remove the \\u0000");

    /// <summary>A key as it can be shown in a path: control characters escaped, as JSON writes them.</summary>
    public static string Printable(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }
        var sb = new StringBuilder();
        foreach (var c in text)
        {
            sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        }
        return sb.ToString();
    }
}
