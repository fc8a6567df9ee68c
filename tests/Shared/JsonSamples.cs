using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Sandbox.Tests.Shared;

/// <summary>
/// JSON documents of a model's shape, made from its source-generated serializer metadata (so that a field added to the
/// model is in them without a change here): for holding a hand-written reader, writer or walk of the model to the
/// serializer it stands in for. Linked into every test project.
/// </summary>
internal static class JsonSamples
{
    /// <summary>What to put in the document.</summary>
    internal enum Fill
    {
        /// <summary>Every property set, each to a value of its own, with strings that need escaping.</summary>
        Full,

        /// <summary>Every property set, strings holding a NUL, lists and maps holding a null before each element.</summary>
        NullsAndNuls,
    }

    /// <summary>A document of <paramref name="info"/>'s type; <paramref name="n"/> numbers the values, so no two are alike.</summary>
    public static JsonNode? Of(JsonTypeInfo info, Fill fill, ref int n, int depth = 0)
    {
        var type = Nullable.GetUnderlyingType(info.Type) ?? info.Type;
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object:
                var o = new JsonObject();
                foreach (var property in info.Properties)
                {
                    o[property.Name] = Of(info.Options.GetTypeInfo(property.PropertyType), fill, ref n, depth + 1);
                }
                return o;
            case JsonTypeInfoKind.Enumerable:
                var elements = info.Options.GetTypeInfo(info.ElementType!);
                var array = new JsonArray();
                if (fill == Fill.NullsAndNuls && CanBeNull(info.ElementType!))
                {
                    array.Add(null);
                }
                array.Add(Of(elements, fill, ref n, depth + 1));
                array.Add(Of(elements, fill, ref n, depth + 1));
                return array;
            case JsonTypeInfoKind.Dictionary:
                var values = info.Options.GetTypeInfo(info.ElementType!);
                var map = new JsonObject { [$"k{n++}.x"] = Of(values, fill, ref n, depth + 1) };
                if (fill == Fill.NullsAndNuls)
                {
                    map[$"n{n++}"] = null;
                    map[$"k\0{n++}"] = Of(values, fill, ref n, depth + 1);
                }
                else
                {
                    map[$"<é&'\"+\u2028{n++}>"] = Of(values, fill, ref n, depth + 1);
                }
                return map;
        }
        n++;
        if (type == typeof(string))
        {
            return fill == Fill.NullsAndNuls ? $"a\0b{n}" : $"s{n} <é&'\"+`\\\u2028\u0001>";
        }
        if (type == typeof(bool))
        {
            return n % 2 == 0;
        }
        if (type == typeof(double) || type == typeof(float))
        {
            return n + (n % 3 == 0 ? 0.1 : n % 3 == 1 ? 1e-7 : 12345.675);
        }
        if (type == typeof(JsonElement))
        {
            return JsonNode.Parse($"[{n}, {{ \"a\": null }}]");
        }
        return n % 200 + 1;
    }

    private static bool CanBeNull(Type t) => !t.IsValueType || Nullable.GetUnderlyingType(t) is not null;
}
