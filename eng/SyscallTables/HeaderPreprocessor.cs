// Runs the preprocessor directives the kernel's unistd headers use (#define, #undef, #if, #ifdef, #ifndef,
// #elif, #else, #endif) and returns the macros defined once the header ends. Anything else is an error: a
// header that has grown a construct this generator does not know must stop it, not quietly change a table.
namespace SyscallTables;

internal sealed class HeaderPreprocessor
{
    private readonly IReadOnlySet<string> ignoredIncludes;
    private readonly Dictionary<string, Macro> macros = new(StringComparer.Ordinal);
    private readonly Stack<Conditional> conditionals = new();

    private HeaderPreprocessor(IReadOnlySet<string> ignoredIncludes)
    {
        this.ignoredIncludes = ignoredIncludes;
    }

    private bool Active => conditionals.Count == 0 || conditionals.Peek().Active;

    /// <summary>
    /// The macros <paramref name="text"/> leaves defined, starting from <paramref name="predefined"/> (what the
    /// architecture's own headers define before including it). <paramref name="ignoredIncludes"/> are the
    /// #include targets whose only effect <paramref name="predefined"/> already stands in for.
    /// </summary>
    public static IReadOnlyDictionary<string, Macro> Run(
        string path, string text, IEnumerable<(string Name, string Value)> predefined, IReadOnlySet<string> ignoredIncludes)
    {
        var preprocessor = new HeaderPreprocessor(ignoredIncludes);
        foreach (var (name, value) in predefined)
        {
            preprocessor.macros[name] = new Macro(name, value, IsFunctionLike: false, Line: 0);
        }

        foreach (var (line, code) in LogicalLines(text))
        {
            try
            {
                preprocessor.Process(line, code);
            }
            catch (HeaderException e)
            {
                throw new HeaderException($"{path}:{line}: {e.Message}", e);
            }
        }

        if (preprocessor.conditionals.Count > 0)
        {
            throw new HeaderException($"{path}:{preprocessor.conditionals.Peek().Line}: #if without #endif");
        }

        return preprocessor.macros;
    }

    // Lines as the preprocessor sees them: backslash-newlines spliced, comments replaced by a space.
    // Each carries the number of the physical line it starts on.
    private static IEnumerable<(int Line, string Code)> LogicalLines(string text)
    {
        var physical = text.ReplaceLineEndings("\n").Split('\n');
        var inComment = false;
        for (var i = 0; i < physical.Length; i++)
        {
            var start = i + 1;
            var spliced = physical[i];
            while (spliced.EndsWith('\\') && i + 1 < physical.Length)
            {
                spliced = spliced[..^1] + physical[++i];
            }

            var code = new System.Text.StringBuilder(spliced.Length);
            for (var j = 0; j < spliced.Length; j++)
            {
                if (inComment)
                {
                    if (spliced[j] == '*' && j + 1 < spliced.Length && spliced[j + 1] == '/')
                    {
                        inComment = false;
                        code.Append(' ');
                        j++;
                    }
                }
                else if (spliced[j] == '/' && j + 1 < spliced.Length && spliced[j + 1] == '*')
                {
                    inComment = true;
                    j++;
                }
                else if (spliced[j] == '/' && j + 1 < spliced.Length && spliced[j + 1] == '/')
                {
                    break;
                }
                else
                {
                    code.Append(spliced[j]);
                }
            }

            yield return (start, code.ToString().Trim());
        }
    }

    private void Process(int line, string code)
    {
        if (!code.StartsWith('#'))
        {
            // Outside directives the headers only invoke the syscall-table macros, which say nothing about numbers.
            if (Active && code.Length > 0 && !code.StartsWith("__SYSCALL(", StringComparison.Ordinal) && !code.StartsWith("__SC_", StringComparison.Ordinal))
            {
                throw new HeaderException($"unexpected text '{code}'");
            }

            return;
        }

        var rest = code[1..].TrimStart();
        var nameLength = rest.TakeWhile(c => char.IsAsciiLetter(c)).Count();
        var directive = rest[..nameLength];
        var argument = rest[nameLength..].Trim();

        switch (directive)
        {
            case "if":
                Push(line, Active && Condition(argument));
                break;
            case "ifdef":
                Push(line, Active && macros.ContainsKey(MacroName(argument)));
                break;
            case "ifndef":
                Push(line, Active && !macros.ContainsKey(MacroName(argument)));
                break;
            case "elif":
                Elif(Top("#elif"), argument);
                break;
            case "else":
                Else(Top("#else"));
                break;
            case "endif":
                Top("#endif");
                conditionals.Pop();
                break;
            case "define" when Active:
                Define(line, argument);
                break;
            case "undef" when Active:
                macros.Remove(MacroName(argument));
                break;
            case "include" when Active && !ignoredIncludes.Contains(argument):
                throw new HeaderException($"#include {argument} is not one this generator knows how to stand in for");
            case "define" or "undef" or "include":
                break;
            default:
                throw new HeaderException($"#{directive} is not a directive this generator evaluates");
        }
    }

    private bool Condition(string expression) =>
        MacroExpression.Evaluate(expression, macros, UndefinedNames.AreZero) != 0;

    private void Push(int line, bool taken) =>
        conditionals.Push(new Conditional(line, ParentActive: Active, Active: taken, AnyTaken: taken, SeenElse: false));

    private Conditional Top(string directive) =>
        conditionals.Count > 0 ? conditionals.Peek() : throw new HeaderException($"{directive} without #if");

    private void Elif(Conditional top, string argument)
    {
        if (top.SeenElse)
        {
            throw new HeaderException("#elif after #else");
        }

        // Like a compiler, evaluate the #elif only when no earlier branch was taken.
        var taken = top.ParentActive && !top.AnyTaken && Condition(argument);
        Replace(top with { Active = taken, AnyTaken = top.AnyTaken || taken });
    }

    private void Else(Conditional top)
    {
        if (top.SeenElse)
        {
            throw new HeaderException("#else after #else");
        }

        var taken = top.ParentActive && !top.AnyTaken;
        Replace(top with { Active = taken, AnyTaken = true, SeenElse = true });
    }

    private void Replace(Conditional top)
    {
        conditionals.Pop();
        conditionals.Push(top);
    }

    private void Define(int line, string argument)
    {
        var name = new string(argument.TakeWhile(c => char.IsAsciiLetterOrDigit(c) || c == '_').ToArray());
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            throw new HeaderException($"#define {argument} does not name a macro");
        }

        var rest = argument[name.Length..];
        var isFunctionLike = rest.StartsWith('(');
        if (isFunctionLike)
        {
            var close = rest.IndexOf(')', StringComparison.Ordinal);
            rest = close >= 0 ? rest[(close + 1)..] : throw new HeaderException($"#define {name}( has no ')'");
        }

        macros[name] = new Macro(name, rest.Trim(), isFunctionLike, line);
    }

    private static string MacroName(string argument)
    {
        var valid = argument.Length > 0
            && (char.IsAsciiLetter(argument[0]) || argument[0] == '_')
            && argument.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
        return valid ? argument : throw new HeaderException($"'{argument}' is not a macro name");
    }

    /// <summary>One open #if: where it started, whether the group around it is live, and which branch is.</summary>
    private sealed record Conditional(int Line, bool ParentActive, bool Active, bool AnyTaken, bool SeenElse);
}
