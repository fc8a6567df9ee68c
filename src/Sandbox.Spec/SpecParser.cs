using System.Text;
using Sandbox.Oci;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sandbox.Spec;

/// <summary>Reads sandbox.yaml (version 1) into a validated <see cref="SandboxSpec"/>, or reports all of its problems.</summary>
public static class SpecParser
{
    /// <summary>Reads and parses the file at <paramref name="path"/>.</summary>
    /// <exception cref="SpecException">The file cannot be read, or has problems; the exception lists them all.</exception>
    public static SandboxSpec Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[]? bytes;
        try
        {
            bytes = BoundedFile.Read(path, out var errno)
                ?? throw Unreadable(path, $"{path}: {BoundedFile.Describe(errno)}", "check the path and that you may read it");
        }
        catch (SandboxException e)
        {
            // Not a regular file, or too large: still the file's fault, reported in this parser's form.
            throw Unreadable(path, e.Message, e.Hint);
        }

        // Decoded as File.ReadAllText does: UTF-8 unless a byte order mark says otherwise, the mark dropped.
        using var text = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return Parse(text.ReadToEnd(), path);
    }

    private static SpecException Unreadable(string path, string why, string? hint) =>
        new([new SpecError(SpecErrorCodes.FileUnreadable, new SourceLocation(path, 1, 1), $"cannot read the file: {why}", hint)]);

    /// <summary>
    /// Parses <paramref name="yaml"/> as if read from <paramref name="path"/>: errors name that path as given, and
    /// relative host paths resolve against its directory.
    /// </summary>
    /// <exception cref="SpecException">The text has problems; the exception lists them all.</exception>
    public static SandboxSpec Parse(string yaml, string path)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentException.ThrowIfNullOrEmpty(path);

        // File.ReadAllText drops a byte order mark; text from elsewhere may still start with one, which YAML allows.
        yaml = yaml.StartsWith('\uFEFF') ? yaml[1..] : yaml;

        var reader = new NodeReader(path);
        var spec = LoadRoot(yaml, reader) is { } root ? new SpecReader(reader, Path.GetFullPath(path)).Read(root) : null;
        if (spec is null || reader.Errors.Count > 0)
        {
            // Sorted by position, the list reads like the file; equal positions keep the order they were found in.
            throw new SpecException([.. reader.Errors.OrderBy(e => e.Location.Line).ThenBy(e => e.Location.Column)]);
        }

        return spec;
    }

    private static YamlMappingNode? LoadRoot(string yaml, NodeReader reader)
    {
        const string SyntaxHint = "check the indentation, the quoting and the ':' after each key around this position";
        var stream = new YamlStream();
        var parser = new GuardedParser(new Parser(new StringReader(yaml)));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            var hint = e.Message.StartsWith("Duplicate key", StringComparison.Ordinal)
                ? "a key may appear only once in a mapping; remove or rename one"
                : SyntaxHint;
            reader.Report(SpecErrorCodes.Syntax, e.Start, $"YAML syntax error: {e.Message}", hint);
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // YamlDotNet's scanner fails on some malformed input with a bare exception and no position (seen:
            // InvalidOperationException for "{[a: 1}"). It is still the file's fault, not the caller's.
            reader.Report(SpecErrorCodes.Syntax, parser.LastEnd, $"YAML syntax error after this position: {e.Message}", SyntaxHint);
            return null;
        }

        if (stream.Documents.Count == 0 || (stream.Documents.Count == 1 && YamlNodes.IsNull(stream.Documents[0].RootNode)))
        {
            reader.Report(SpecErrorCodes.NotAMapping, new Mark(), "the file is empty", $"start with `version: {SandboxSpec.CurrentVersion}`; docs/sandbox-yaml.md shows a complete example");
            return null;
        }

        if (stream.Documents.Count > 1)
        {
            reader.Report(SpecErrorCodes.NotAMapping, stream.Documents[1].RootNode, "the file holds more than one YAML document",
                "keep one document: remove the '---' separator and what follows it, or merge the two");
            return null;
        }

        var root = stream.Documents[0].RootNode;
        if (root is not YamlMappingNode mapping)
        {
            reader.Report(SpecErrorCodes.NotAMapping, root, $"the top level must be a mapping of keys such as `version:`, but is {YamlNodes.Describe(root)}",
                $"write `key: value` lines at the top level, starting with `version: {SandboxSpec.CurrentVersion}`");
            return null;
        }

        return mapping;
    }
}
