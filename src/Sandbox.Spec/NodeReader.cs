using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sandbox.Spec;

/// <summary>A value read from sandbox.yaml together with the node it came from, for errors found later.</summary>
internal sealed record Located(string Value, YamlNode Node, string Path);

/// <summary>
/// Typed access to the nodes of one sandbox.yaml. Every accessor either returns the value or records a SpecError at
/// the offending node and returns null, so reading goes on and all problems of a file are reported together.
/// </summary>
internal sealed class NodeReader(string file)
{
    private readonly List<SpecError> _errors = [];

    public IReadOnlyList<SpecError> Errors => _errors;

    public SourceLocation Locate(YamlNode node) => YamlNodes.Locate(node, file);

    public void Report(string code, YamlNode node, string message, string? hint) =>
        _errors.Add(new SpecError(code, Locate(node), message, hint));

    public void Report(string code, Mark mark, string message, string? hint) =>
        _errors.Add(new SpecError(code, new SourceLocation(file, YamlNodes.Clamp(mark.Line), YamlNodes.Clamp(mark.Column)), message, hint));

    /// <summary>A mapping whose keys are checked against <paramref name="keys"/>; empty (null) counts as absent.</summary>
    public MappingView? Mapping(YamlNode node, string path, IReadOnlyList<string> keys) =>
        FreeMapping(node, path) is { } mapping ? new MappingView(this, mapping, path, keys) : null;

    /// <summary>A mapping with names of the user's choosing as keys (env.set, etc.extraHosts); empty counts as absent.</summary>
    public YamlMappingNode? FreeMapping(YamlNode node, string path)
    {
        if (node is YamlMappingNode mapping)
        {
            return mapping;
        }

        if (!YamlNodes.IsNull(node))
        {
            WrongType(node, path, "a mapping of keys to values");
        }

        return null;
    }

    /// <summary>A list; empty (null) counts as absent.</summary>
    public YamlSequenceNode? Sequence(YamlNode node, string path)
    {
        if (node is YamlSequenceNode sequence)
        {
            return sequence;
        }

        if (!YamlNodes.IsNull(node))
        {
            WrongType(node, path, "a list");
        }

        return null;
    }

    /// <summary>A list of strings; entries of another type are reported and left out.</summary>
    public List<Located>? TextList(YamlNode node, string path)
    {
        if (Sequence(node, path) is not { } sequence)
        {
            return null;
        }

        var items = new List<Located>();
        for (var i = 0; i < sequence.Children.Count; i++)
        {
            var itemPath = $"{path}[{i}]";
            if (Text(sequence.Children[i], itemPath) is { } text)
            {
                items.Add(new Located(text, sequence.Children[i], itemPath));
            }
        }

        return items;
    }

    /// <summary>
    /// Any scalar as text: numbers and booleans are strings too (an environment value of 8080 is "8080"). Refuses NUL,
    /// which no path, argument or environment entry can hold.
    /// </summary>
    public string? Text(YamlNode node, string path)
    {
        if (node is not YamlScalarNode scalar || YamlNodes.IsNull(node))
        {
            WrongType(node, path, "a string");
            return null;
        }

        var value = scalar.Value ?? string.Empty;
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            Report(SpecErrorCodes.WrongType, node, $"`{path}` contains a NUL character", "remove the \\0 escape; no path, argument or variable can hold it");
            return null;
        }

        return value;
    }

    /// <summary>true or false, in YAML 1.2's spellings; yes/no and on/off are refused as too easy to misread.</summary>
    public bool? Bool(YamlNode node, string path)
    {
        if (node is YamlScalarNode { Value: "true" or "True" or "TRUE" })
        {
            return true;
        }

        if (node is YamlScalarNode { Value: "false" or "False" or "FALSE" })
        {
            return false;
        }

        WrongType(node, path, "true or false");
        return null;
    }

    /// <summary>A decimal integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long? Integer(YamlNode node, string path, long min, long max)
    {
        if (node is YamlScalarNode { Value: { } text } && IsInteger(text))
        {
            var parsed = long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value);
            if (parsed && value >= min && value <= max)
            {
                return value;
            }

            // Digits that do not fit a long are out of range on the side of their sign.
            var tooSmall = parsed ? value < min : text.StartsWith('-');
            var bound = tooSmall ? $"at least {min}" : $"at most {max}";
            Report(SpecErrorCodes.OutOfRange, node, $"`{path}` is {YamlNodes.Shorten(text)}, but must be {bound}", $"use an integer from {min} to {max}");
            return null;
        }

        WrongType(node, path, "an integer");
        return null;
    }

    private static bool IsInteger(string text)
    {
        var digits = text.StartsWith('-') ? text.AsSpan(1) : text.AsSpan();
        return !digits.IsEmpty && !digits.ContainsAnyExcept("0123456789");
    }

    /// <summary>One of a fixed set of names, spelled exactly; a near miss gets a "did you mean".</summary>
    public T? Choice<T>(YamlNode node, string path, IReadOnlyList<KeyValuePair<string, T>> choices)
        where T : struct
    {
        if (Text(node, path) is not { } text)
        {
            return null;
        }

        foreach (var choice in choices)
        {
            if (choice.Key == text)
            {
                return choice.Value;
            }
        }

        ReportChoice(node, path, text, choices.Select(c => c.Key).ToList(), null);
        return null;
    }

    public void ReportChoice(YamlNode node, string path, string given, IReadOnlyList<string> allowed, string? alternative)
    {
        var options = string.Join(", ", allowed) + (alternative is null ? string.Empty : ", or " + alternative);
        var hint = Suggestions.Closest(given, allowed) is { } near ? $"did you mean `{near}`? allowed: {options}" : $"allowed: {options}";
        Report(SpecErrorCodes.InvalidChoice, node, $"`{path}` is '{YamlNodes.Shorten(given)}', which is not a known value", hint);
    }

    public void WrongType(YamlNode node, string path, string expected)
    {
        var hint = YamlNodes.IsNull(node)
            ? "give a value, or remove the key to use the default"
            : node is YamlScalarNode ? $"write {expected} here" : $"write {expected} here; check the indentation";
        Report(SpecErrorCodes.WrongType, node, $"`{path}` must be {expected}, but is {YamlNodes.Describe(node)}", hint);
    }
}
