using System.Text;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAgent;

/// <summary>
/// Keeps a result within the protocol's line. The host refuses a line over <see cref="LineChannel.MaxLineBytes"/> as
/// not the protocol and stops the sandbox, yet a result carries what its test wrote (ITestOutputHelper, a failure's
/// message), which can be any size, and JSON makes some characters six bytes (<c>&lt;</c> is <c>\u003C</c>). A result
/// whose line would not fit has its long texts cut in the middle, their start and end kept, with a note of how many
/// bytes (UTF-8) were dropped; the test's outcome is untouched.
/// </summary>
internal static class ResultLimit
{
    /// <summary>What a result's line may take: the cap, with room to spare.</summary>
    public const int MaxResultLineBytes = LineChannel.MaxLineBytes - (1024 * 1024);

    /// <summary>A text this short is never cut: the long ones are what make a result too large.</summary>
    private const int UncutChars = 4096;

    /// <summary>The most JSON makes of one UTF-16 character: <c>\u003C</c>.</summary>
    private const int EscapedBytes = 6;

    public static TestResultDto Fit(TestResultDto result)
    {
        // The common case, measured without serializing: texts that fit in half the line even with every character escaped.
        var chars = (long)(result.ErrorMessage?.Length ?? 0) + (result.ErrorStackTrace?.Length ?? 0) + result.Messages.Sum(m => (long)m.Text.Length);
        if (chars * EscapedBytes <= MaxResultLineBytes / 2)
        {
            return result;
        }
        var size = LineBytes(result);
        var share = 1.0;
        var fitted = result;
        // Each round cuts the original texts to a smaller share; escaping is uneven, so one round may not be enough.
        for (var round = 0; round < 8 && size > MaxResultLineBytes; round++)
        {
            share *= 0.9 * MaxResultLineBytes / size;
            fitted = result with
            {
                ErrorMessage = Cut(result.ErrorMessage, share),
                ErrorStackTrace = Cut(result.ErrorStackTrace, share),
                Messages = [.. result.Messages.Select(m => m with { Text = Cut(m.Text, share) ?? "" })],
            };
            size = LineBytes(fitted);
        }
        return fitted;
    }

    private static int LineBytes(TestResultDto result) =>
        LineChannel.Serialize(new AgentMessage { Type = MessageTypes.Result, Result = result }).Length;

    /// <summary><paramref name="text"/> with its middle dropped so that <paramref name="share"/> of it is left, and a note.</summary>
    public static string? Cut(string? text, double share)
    {
        if (text is null || text.Length <= UncutChars)
        {
            return text;
        }
        var keep = Math.Max(UncutChars, (int)(text.Length * share));
        if (keep >= text.Length)
        {
            return text;
        }
        var head = keep / 2;
        var tail = keep - head;
        // Never half a surrogate pair on either side of the cut.
        if (char.IsHighSurrogate(text[head - 1]))
        {
            head--;
        }
        if (char.IsLowSurrogate(text[text.Length - tail]))
        {
            tail--;
        }
        var dropped = Encoding.UTF8.GetByteCount(text.AsSpan(head, text.Length - head - tail));
        return string.Concat(text.AsSpan(0, head),
            $"\n… {dropped} bytes dropped (Sandbox: this result was larger than the agent protocol's {LineChannel.MaxLineBytes / (1024 * 1024)} MiB line) …\n",
            text.AsSpan(text.Length - tail));
    }
}
