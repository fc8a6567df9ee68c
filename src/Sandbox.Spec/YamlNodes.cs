using YamlDotNet.RepresentationModel;

namespace Sandbox.Spec;

/// <summary>What sandbox.yaml needs to know about a YAML node beyond YamlDotNet's model.</summary>
internal static class YamlNodes
{
    /// <summary>
    /// An empty value (<c>key:</c>), <c>~</c> or <c>null</c> written without quotes: YAML's null. Quoted, the same
    /// text is a string, so <c>""</c> stays an empty string.
    /// </summary>
    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: not (YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted) } scalar
        && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";

    /// <summary>The node's kind as an error message names it.</summary>
    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        _ when IsNull(node) => "empty",
        YamlScalarNode scalar => $"'{Shorten(scalar.Value ?? "")}'",
        _ => "an alias",
    };

    /// <summary>Long values are cut so that one error stays one readable line.</summary>
    public static string Shorten(string text) => text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "...");

    public static SourceLocation Locate(YamlNode node, string file) => new(file, Clamp(node.Start.Line), Clamp(node.Start.Column));

    public static int Clamp(long mark) => (int)Math.Clamp(mark, 1, int.MaxValue);
}
