// Deterministic mutations of a sandbox.yaml: values swapped for null, other types, NUL and control characters,
// extreme numbers, deep nesting and aliases; lines deleted, repeated or re-indented; cut-off and bit-flipped text.
using System.Text;

namespace Sandbox.Fuzzing;

internal sealed class YamlMutator(int seed)
{
    private readonly Random _random = new(seed);

    private static readonly string[] Values =
    [
        "null", "~", "\"\"", "[]", "{}", "[null]", "[~, a]", "{a: }", "\"a\\0b\"", "\"\\0\"", "'a\u0000b'", "-1", "0",
        "18446744073709551616", "-9223372036854775809", "1e400", ".inf", ".nan", "0x7fffffff", "1.5", "true", "yes",
        "*nowhere", "&a x", "!!binary AAAA", "!!map {}", "\"/dev/zero\"", "/..", "../../..", "a:b", "'", "\"", "|", ">",
        "- a", "? a", "@", "`", "%", "\t", "\"\\ud800\"", "\u00e9\ud83d\ude00",
    ];

    public string Mutate(string document)
    {
        var lines = document.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        for (var edits = _random.Next(1, 4); edits > 0; edits--)
        {
            Edit(lines);
        }
        var text = string.Join('\n', lines);
        return _random.Next(6) == 0 ? CharEdit(text) : text;
    }

    private void Edit(List<string> lines)
    {
        if (lines.Count == 0)
        {
            lines.Add("version: 1");
            return;
        }
        var at = _random.Next(lines.Count);
        var line = lines[at];
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        switch (_random.Next(9))
        {
            case 0:
            case 1:
            case 2:
                // The value of a `key: value` line (or a `- item`) replaced.
                var dash = line.TrimStart().StartsWith('-') ? line.IndexOf('-', StringComparison.Ordinal) : -1;
                var cut = colon >= 0 ? colon + 1 : dash >= 0 ? dash + 1 : line.Length;
                lines[at] = line[..cut] + " " + Value();
                break;
            case 3:
                lines.RemoveAt(at);
                break;
            case 4:
                lines.Insert(at, line);
                break;
            case 5:
                lines[at] = (_random.Next(2) == 0 ? "  " : "") + (line.StartsWith("  ", StringComparison.Ordinal) ? line[2..] : "  " + line);
                break;
            case 6:
                lines[at] = line + " " + Value();
                break;
            case 7:
                var depth = _random.Next(2, 100);
                lines[at] = (colon >= 0 ? line[..(colon + 1)] : line + ":") + " " + new string('[', depth) + new string(']', depth);
                break;
            default:
                lines.Insert(at, new string(' ', _random.Next(0, 6)) + Value() + ": " + Value());
                break;
        }
    }

    private string Value() => _random.Next(8) == 0 ? new string('a', _random.Next(1, 5000)) : Values[_random.Next(Values.Length)];

    private string CharEdit(string text)
    {
        var sb = new StringBuilder(text);
        switch (_random.Next(4))
        {
            case 0:
                return text[.._random.Next(text.Length + 1)];
            case 1:
                for (var i = _random.Next(1, 8); i > 0 && sb.Length > 0; i--)
                {
                    var at = _random.Next(sb.Length);
                    sb[at] = (char)(sb[at] ^ (1 << _random.Next(8)));
                }
                return sb.ToString();
            case 2:
                return sb.Insert(_random.Next(sb.Length + 1), '\0').ToString();
            default:
                return sb.Insert(_random.Next(sb.Length + 1), (char)_random.Next(0xd800, 0xe000)).ToString();
        }
    }
}
