using System.Collections;
using System.Text.Json.Serialization.Metadata;

namespace Sandbox.Oci.Tests;

/// <summary>
/// The null and NUL scan as it was before `sandbox` stopped carrying serializer metadata: a walk of the model driven by
/// that metadata, which covers every field by construction. <see cref="NullAndNulScan"/>, written out, is held to it.
/// </summary>
internal static class NullAndNulMetadataScan
{
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
                    var at = $"{path}.{NullAndNulScan.Printable(key)}";
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
}
