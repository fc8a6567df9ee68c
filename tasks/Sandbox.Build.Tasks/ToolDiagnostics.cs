using System.Globalization;
using System.Text.RegularExpressions;

namespace Sandbox.Build.Tasks;

/// <summary>
/// One error `sandbox-build` reported: a code, a message with its hint, and for sandbox.yaml problems the file, line
/// and column, so MSBuild prints `sandbox.yaml(12,5): error SBX4003: ...` and an IDE can jump there.
/// </summary>
internal sealed record ToolDiagnostic(string Code, string Message, string? File = null, int Line = 0, int Column = 0);

/// <summary>
/// Reads the stderr of `sandbox-build` (the forms of src/Sandbox.Cli/Program.cs and src/Sandbox.Cli.Build/SpecCommands.cs):
/// <c>sandbox: SBXnnnn: what failed</c> followed by <c>  hint: what to do</c>, and for sandbox.yaml every problem as
/// <c>file:line:col: SBXnnnn: message</c> followed by its own hint line. Earlier versions put the hint inline, <c>(hint:
/// ...)</c>, the first problem after a <c>sandbox: SBXnnnn: </c> prefix, and ended with a summary hint: read too, and
/// the summary dropped.
/// </summary>
internal static partial class ToolDiagnostics
{
    public static IReadOnlyList<ToolDiagnostic> Parse(IEnumerable<string> stderrLines)
    {
        var found = new List<ToolDiagnostic>();
        // A hint line belongs to the `sandbox: SBXnnnn:` line before it, unless that line was a located spec
        // problem: those carry their hint inline, and the trailing hint only says "fix the N problems above".
        var hintTarget = -1;
        foreach (var raw in stderrLines)
        {
            var line = raw.TrimEnd('\r');
            if (HintLine().Match(line) is { Success: true } hint)
            {
                if (hintTarget >= 0)
                {
                    var d = found[hintTarget];
                    found[hintTarget] = d with { Message = $"{d.Message} (hint: {hint.Groups["hint"].Value})" };
                    hintTarget = -1;
                }
                continue;
            }
            hintTarget = -1;
            var text = line;
            string? prefixCode = null;
            if (ToolLine().Match(line) is { Success: true } tool)
            {
                prefixCode = tool.Groups["code"].Value;
                text = tool.Groups["rest"].Value;
            }
            if (LocatedLine().Match(text) is { Success: true } located)
            {
                found.Add(new ToolDiagnostic(located.Groups["code"].Value, located.Groups["message"].Value, located.Groups["file"].Value,
                    int.Parse(located.Groups["line"].Value, CultureInfo.InvariantCulture), int.Parse(located.Groups["col"].Value, CultureInfo.InvariantCulture)));
                if (!located.Groups["message"].Value.Contains("(hint: ", StringComparison.Ordinal))
                {
                    hintTarget = found.Count - 1;
                }
            }
            else if (prefixCode is not null)
            {
                found.Add(new ToolDiagnostic(prefixCode, text));
                hintTarget = found.Count - 1;
            }
        }
        return found;
    }

    [GeneratedRegex(@"^sandbox(?:-build)?: (?<code>SBX\d{4}): (?<rest>.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex ToolLine();

    // The file part is lazy but must be followed by :line:col: CODE, so a path with colons still parses.
    [GeneratedRegex(@"^(?<file>.+?):(?<line>\d+):(?<col>\d+): (?<code>SBX\d{4}): (?<message>.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex LocatedLine();

    [GeneratedRegex(@"^\s+hint: (?<hint>.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex HintLine();
}
