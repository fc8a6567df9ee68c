using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Sandbox.Oci.Tests;

/// <summary>
/// JsonWriting's encoder stands in for System.Text.Json's default one (whose tables cost every `sandbox run` on its
/// first string): whatever is written with it, property names and values, is the same bytes.
/// </summary>
public class JsonWritingTests
{
    private static string Written(JsonWriterOptions options, string text)
    {
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            using (var w = new Utf8JsonWriter(buffer, options))
            {
                w.WriteStartObject();
                w.WriteString(text, text);
                w.WriteStartArray("a");
                w.WriteStringValue(text);
                w.WriteStringValue(Encoding.UTF8.GetBytes(text));
                w.WriteEndArray();
                w.WriteEndObject();
            }
            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
        catch (ArgumentException e)
        {
            return e.GetType().Name;
        }
    }

    private static IEnumerable<string> Texts()
    {
        for (var c = 0; c <= 0xFFFF; c++)
        {
            yield return $"a{(char)c}";
        }
        yield return "\U0001F600 x \U00010000\U0010FFFF";
        yield return "\uD800";
        yield return "x\uDC00y";
        yield return "\uDBFF\uDFFF\uD800";
        yield return "";
        yield return "/run/sandbox/c1 é \"quoted\" <a href='x'>&amp;</a> 1+1 `cmd` back\\slash \t\r\n\b\f\u007f\u0085\u2028";
        yield return new string('\u00e9', 5000);
    }

    [Fact]
    public void Every_character_is_written_as_the_default_encoder_writes_it()
    {
        foreach (var indented in new[] { false, true })
        {
            var failures = Texts()
                .Select(t => (Text: t, Expected: Written(new JsonWriterOptions { Indented = indented }, t), Actual: Written(JsonWriting.Options(indented), t)))
                .Where(x => x.Expected != x.Actual)
                .Select(x => $"U+{(x.Text.Length > 1 ? (int)x.Text[1] : 0):X4}: {x.Expected} vs {x.Actual}")
                .ToList();
            Assert.True(failures.Count == 0, $"{failures.Count} differ; the first: " + string.Join("\n", failures.Take(5)));
        }
    }
}
