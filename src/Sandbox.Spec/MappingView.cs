using System.Diagnostics.CodeAnalysis;
using YamlDotNet.RepresentationModel;

namespace Sandbox.Spec;

/// <summary>
/// A mapping of sandbox.yaml whose keys have been checked against those valid at its place: unknown keys are
/// reported (at the key) when the view is made, so readers only ask for the keys they know.
/// </summary>
internal sealed class MappingView
{
    private readonly NodeReader _reader;
    private readonly Dictionary<string, YamlNode> _values = new(StringComparer.Ordinal);

    public MappingView(NodeReader reader, YamlMappingNode node, string path, IReadOnlyList<string> keys)
    {
        _reader = reader;
        Node = node;
        Path = path;
        foreach (var (key, value) in node.Children)
        {
            // GuardedParser lets only scalars through as keys; this keeps a future change there from becoming a crash.
            if (key is not YamlScalarNode { Value: var name })
            {
                reader.WrongType(key, path, "a plain key");
                continue;
            }

            name ??= string.Empty;
            if (keys.Contains(name))
            {
                _values[name] = value;
                continue;
            }

            var place = path.Length == 0 ? "at the top level" : $"in `{path}`";
            var hint = Suggestions.Closest(name, keys) is { } near
                ? $"did you mean `{near}`?"
                : $"keys allowed {place}: {string.Join(", ", keys)}";
            reader.Report(SpecErrorCodes.UnknownKey, key, $"unknown key `{YamlNodes.Shorten(name)}` {place}", hint);
        }
    }

    public YamlMappingNode Node { get; }

    /// <summary>Where this mapping is, as errors name it: "" for the top level, "etc", "mounts[2]".</summary>
    public string Path { get; }

    public string PathOf(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public bool TryGet(string key, [NotNullWhen(true)] out YamlNode? value) => _values.TryGetValue(key, out value);

    /// <summary>The value of a key the entry cannot do without; its absence is reported at the mapping.</summary>
    public YamlNode? Required(string key)
    {
        if (TryGet(key, out var value))
        {
            return value;
        }

        _reader.Report(SpecErrorCodes.RequiredKeyMissing, Node, $"`{Path}` has no `{key}`", $"add `{key}:` to this entry");
        return null;
    }

    public string? Text(string key) => TryGet(key, out var node) ? _reader.Text(node, PathOf(key)) : null;

    public Located? LocatedText(string key) =>
        TryGet(key, out var node) && _reader.Text(node, PathOf(key)) is { } text ? new Located(text, node, PathOf(key)) : null;

    public bool Bool(string key, bool fallback) => TryGet(key, out var node) ? _reader.Bool(node, PathOf(key)) ?? fallback : fallback;

    /// <summary>One of a fixed set of names (<see cref="NodeReader.Choice"/>); <paramref name="fallback"/> when absent or invalid.</summary>
    public T Choice<T>(string key, IReadOnlyList<KeyValuePair<string, T>> choices, T fallback)
        where T : struct =>
        TryGet(key, out var node) ? _reader.Choice(node, PathOf(key), choices) ?? fallback : fallback;

    public MappingView? Mapping(string key, IReadOnlyList<string> keys) =>
        TryGet(key, out var node) ? _reader.Mapping(node, PathOf(key), keys) : null;
}
