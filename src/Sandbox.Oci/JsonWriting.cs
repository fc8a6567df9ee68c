using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sandbox.Oci;

/// <summary>
/// Options for every Utf8JsonWriter of `sandbox`: an encoder that escapes exactly what System.Text.Json's default
/// escapes, and writes each escape as it does, without building the default encoder's tables on the first string
/// written. Those tables cost a `sandbox run` 0.92 M instructions (16 % of its own process, under valgrind) when
/// state.json was written. JsonWritingTests hold the output to the default's for every UTF-16 character.
/// </summary>
public static class JsonWriting
{
    public static JsonWriterOptions Options(bool indented = false) => new() { Indented = indented, Encoder = AsciiJsonEncoder.Instance };
}

/// <summary>
/// What JavaScriptEncoder.Default lets through unescaped: printable ASCII other than the HTML-sensitive characters
/// <c>" &amp; ' + &lt; &gt; `</c> and the backslash; everything else is written as System.Text.Json writes it.
/// </summary>
internal sealed class AsciiJsonEncoder : JavaScriptEncoder
{
    public static readonly AsciiJsonEncoder Instance = new();

    // A scalar above U+FFFF is two \uXXXX escapes.
    public override int MaxOutputCharactersPerInputCharacter => 12;

    private static bool Escaped(int c) => c is < 0x20 or > 0x7E or '"' or '&' or '\'' or '+' or '<' or '>' or '\\' or '`';

    public override bool WillEncode(int unicodeScalar) => Escaped(unicodeScalar);

    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        for (var i = 0; i < textLength; i++)
        {
            if (Escaped(text[i]))
            {
                return i;
            }
        }
        return -1;
    }

    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        var shortForm = unicodeScalar switch
        {
            '\b' => 'b',
            '\t' => 't',
            '\n' => 'n',
            '\f' => 'f',
            '\r' => 'r',
            '\\' => '\\',
            _ => '\0',
        };
        if (shortForm != '\0')
        {
            return Write(buffer, bufferLength, ['\\', shortForm], out numberOfCharactersWritten);
        }
        if (unicodeScalar <= 0xFFFF)
        {
            return Write(buffer, bufferLength, Hex((char)unicodeScalar), out numberOfCharactersWritten);
        }
        var high = (char)(((unicodeScalar - 0x10000) >> 10) + 0xD800);
        var low = (char)(((unicodeScalar - 0x10000) & 0x3FF) + 0xDC00);
        return Write(buffer, bufferLength, [.. Hex(high), .. Hex(low)], out numberOfCharactersWritten);
    }

    private static char[] Hex(char c) => ['\\', 'u', Digit(c >> 12), Digit(c >> 8), Digit(c >> 4), Digit(c)];

    private static char Digit(int v) => "0123456789ABCDEF"[v & 0xF];

    private static unsafe bool Write(char* buffer, int bufferLength, ReadOnlySpan<char> text, out int written)
    {
        if (text.Length > bufferLength)
        {
            written = 0;
            return false;
        }
        text.CopyTo(new Span<char>(buffer, bufferLength));
        written = text.Length;
        return true;
    }
}
