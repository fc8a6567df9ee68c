using System.Text.Json;

namespace Sandbox.Build.Tasks;

/// <summary>Reading the JSON `sandbox` writes (a bundle's config.json, a RunReport) without a tree of its own.</summary>
internal static class JsonElements
{
    /// <summary>The member <paramref name="name"/> of an object; an undefined element when there is none or <paramref name="e"/> is no object.</summary>
    public static JsonElement Child(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var c) ? c : default;
}
