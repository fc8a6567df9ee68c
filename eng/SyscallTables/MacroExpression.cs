// Integer expressions as the unistd headers write them, in #if lines and in the values of __NR_ macros:
// literals, macro names, defined(X), !, +, ==, !=, && and ||, with parentheses.
using System.Globalization;

namespace SyscallTables;

/// <summary>What a name that is not a macro means: 0 in an #if line, a mistake in a syscall number.</summary>
internal enum UndefinedNames
{
    AreZero,
    AreErrors,
}

/// <summary>An object-like or function-like macro as the header defined it, and the line that did.</summary>
internal sealed record Macro(string Name, string Body, bool IsFunctionLike, int Line);

internal sealed class MacroExpression
{
    private readonly IReadOnlyDictionary<string, Macro> macros;
    private readonly UndefinedNames undefinedNames;

    // The macros being expanded further up, so a macro that reaches itself is reported instead of looping.
    private readonly HashSet<string> expanding = new(StringComparer.Ordinal);

    private MacroExpression(IReadOnlyDictionary<string, Macro> macros, UndefinedNames undefinedNames)
    {
        this.macros = macros;
        this.undefinedNames = undefinedNames;
    }

    public static long Evaluate(string text, IReadOnlyDictionary<string, Macro> macros, UndefinedNames undefinedNames) =>
        new MacroExpression(macros, undefinedNames).EvaluateText(text);

    private long EvaluateText(string text)
    {
        var tokens = Tokenize(text);
        if (tokens.Count == 0)
        {
            throw new HeaderException("empty expression");
        }

        var parser = new Parser(this, tokens, text);
        var value = parser.Or();
        parser.ExpectEnd();
        return value;
    }

    private long ValueOf(string name)
    {
        if (!macros.TryGetValue(name, out var macro))
        {
            return undefinedNames == UndefinedNames.AreZero
                ? 0
                : throw new HeaderException($"'{name}' is not defined");
        }

        if (macro.IsFunctionLike)
        {
            throw new HeaderException($"'{name}' is a function-like macro, which expressions here do not call");
        }

        if (!expanding.Add(name))
        {
            throw new HeaderException($"'{name}' expands to itself");
        }

        try
        {
            return EvaluateText(macro.Body);
        }
        catch (HeaderException e)
        {
            throw new HeaderException($"in '{name}' (line {macro.Line}): {e.Message}", e);
        }
        finally
        {
            expanding.Remove(name);
        }
    }

    private static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (char.IsAsciiLetterOrDigit(c) || c == '_')
            {
                var start = i;
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
                {
                    i++;
                }

                tokens.Add(text[start..i]);
            }
            else if (i + 1 < text.Length && text.AsSpan(i, 2) is "||" or "&&" or "==" or "!=")
            {
                tokens.Add(text.Substring(i, 2));
                i += 2;
            }
            else if (c is '!' or '+' or '(' or ')')
            {
                tokens.Add(c.ToString());
                i++;
            }
            else
            {
                throw new HeaderException($"'{c}' in '{text}' is not an operator this generator evaluates");
            }
        }

        return tokens;
    }

    private static long ParseInteger(string token)
    {
        var digits = token.TrimEnd('u', 'U', 'l', 'L');
        try
        {
            return digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? Convert.ToInt64(digits[2..], 16)
                : digits.Length > 1 && digits[0] == '0' ? Convert.ToInt64(digits[1..], 8)
                : long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new HeaderException($"'{token}' is not an integer", e);
        }
    }

    private static bool IsIdentifier(string token) => char.IsAsciiLetter(token[0]) || token[0] == '_';

    // Recursive descent in C's precedence order, from loosest to tightest: || && ==/!= + ! and primaries.
    private sealed class Parser(MacroExpression owner, List<string> tokens, string text)
    {
        private int position;

        public long Or()
        {
            var value = And();
            while (Accept("||"))
            {
                var right = And();
                value = value != 0 || right != 0 ? 1 : 0;
            }

            return value;
        }

        public void ExpectEnd()
        {
            if (position < tokens.Count)
            {
                throw new HeaderException($"unexpected '{tokens[position]}' in '{text}'");
            }
        }

        private long And()
        {
            var value = Equality();
            while (Accept("&&"))
            {
                var right = Equality();
                value = value != 0 && right != 0 ? 1 : 0;
            }

            return value;
        }

        private long Equality()
        {
            var value = Sum();
            while (true)
            {
                if (Accept("=="))
                {
                    value = value == Sum() ? 1 : 0;
                }
                else if (Accept("!="))
                {
                    value = value != Sum() ? 1 : 0;
                }
                else
                {
                    return value;
                }
            }
        }

        private long Sum()
        {
            var value = Unary();
            while (Accept("+"))
            {
                value = checked(value + Unary());
            }

            return value;
        }

        private long Unary() => Accept("!") ? (Unary() == 0 ? 1 : 0) : Primary();

        private long Primary()
        {
            var token = Next();
            if (token == "(")
            {
                var value = Or();
                Expect(")");
                return value;
            }

            if (token == "defined")
            {
                var parenthesized = Accept("(");
                var name = Next();
                if (!IsIdentifier(name))
                {
                    throw new HeaderException($"defined needs a macro name in '{text}'");
                }

                if (parenthesized)
                {
                    Expect(")");
                }

                return owner.macros.ContainsKey(name) ? 1 : 0;
            }

            if (char.IsAsciiDigit(token[0]))
            {
                return ParseInteger(token);
            }

            if (IsIdentifier(token))
            {
                return owner.ValueOf(token);
            }

            throw new HeaderException($"unexpected '{token}' in '{text}'");
        }

        private string Next() =>
            position < tokens.Count ? tokens[position++] : throw new HeaderException($"'{text}' ends too soon");

        private bool Accept(string token)
        {
            if (position < tokens.Count && tokens[position] == token)
            {
                position++;
                return true;
            }

            return false;
        }

        private void Expect(string token)
        {
            if (!Accept(token))
            {
                throw new HeaderException($"expected '{token}' in '{text}'");
            }
        }
    }
}
