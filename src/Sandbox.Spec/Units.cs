using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Sandbox.Spec;

/// <summary>
/// Sizes, CPU counts and durations as sandbox.yaml writes them. Each parser either returns the value or says what
/// is wrong with the text; the caller adds where the text was. Arithmetic is done in decimal so that 1.5Gi is exact
/// and an overflow is detected, never wrapped.
/// </summary>
internal static class Units
{
    public const string SizeUnits = "k, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024)";
    public const string DurationUnits = "ms, s, m, h";

    private static readonly (string Suffix, decimal Factor)[] SizeFactors =
    [
        ("Ki", 1024m), ("Mi", 1024m * 1024), ("Gi", 1024m * 1024 * 1024), ("Ti", 1024m * 1024 * 1024 * 1024),
        ("k", 1000m), ("K", 1000m), ("M", 1e6m), ("G", 1e9m), ("T", 1e12m),
    ];

    // Largest unit first: a duration lists each unit at most once, in this order, as in 1h30m or 1m30s500ms.
    private static readonly (string Unit, long Ticks)[] DurationFactors =
    [
        ("h", TimeSpan.TicksPerHour), ("m", TimeSpan.TicksPerMinute), ("s", TimeSpan.TicksPerSecond),
        ("ms", TimeSpan.TicksPerMillisecond),
    ];

    /// <summary>Bytes: an integer, or a number (decimals allowed) with a unit of <see cref="SizeUnits"/>.</summary>
    public static bool TryParseSize(string text, out long bytes, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        bytes = 0;
        if (!TryReadNumber(text, 0, out var number, out var end, out error))
        {
            return false;
        }

        var suffix = text[end..];
        decimal factor = 1;
        if (suffix.Length > 0)
        {
            var known = Array.FindIndex(SizeFactors, f => f.Suffix == suffix);
            if (known < 0)
            {
                error = $"'{YamlNodes.Shorten(text)}' has an unknown unit '{YamlNodes.Shorten(suffix)}'";
                return false;
            }

            factor = SizeFactors[known].Factor;
        }
        else if (decimal.Truncate(number) != number)
        {
            error = $"'{text}' is a fraction of a byte";
            return false;
        }

        if (number == 0)
        {
            error = $"'{text}' is zero; a size must be greater than zero";
            return false;
        }

        if (number > long.MaxValue / factor)
        {
            error = $"'{YamlNodes.Shorten(text)}' is too large (at most {long.MaxValue} bytes)";
            return false;
        }

        // A fraction of a unit that is not a whole number of bytes (1.3Gi) rounds down, as the kernel rounds a limit.
        var whole = decimal.Floor(number * factor);
        if (whole == 0)
        {
            error = $"'{text}' is less than one byte";
            return false;
        }

        bytes = (long)whole;
        return true;
    }

    /// <summary>A CPU count: a number greater than zero (1.5), or whole millicpus (1500m).</summary>
    public static bool TryParseCpus(string text, out double cpus, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        cpus = 0;
        if (!TryReadNumber(text, 0, out var number, out var end, out error))
        {
            return false;
        }

        var suffix = text[end..];
        if (suffix == "m")
        {
            if (decimal.Truncate(number) != number)
            {
                error = $"'{text}' is a fraction of a millicpu; write whole millicpus or a decimal number of CPUs";
                return false;
            }

            number /= 1000;
        }
        else if (suffix.Length > 0)
        {
            error = $"'{YamlNodes.Shorten(text)}' has an unknown unit '{YamlNodes.Shorten(suffix)}'";
            return false;
        }

        if (number == 0)
        {
            error = $"'{text}' is zero; a CPU count must be greater than zero";
            return false;
        }

        cpus = (double)number;
        return true;
    }

    /// <summary>A duration: numbers with units <see cref="DurationUnits"/>, largest first, as in 500ms, 1.5s or 1h30m.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        duration = TimeSpan.Zero;
        decimal ticks = 0;
        var position = 0;
        var nextUnit = 0;
        do
        {
            if (!TryReadNumber(text, position, out var number, out var end, out error))
            {
                return false;
            }

            var unit = ReadDurationUnit(text, end);
            if (unit.Length == 0)
            {
                error = end == text.Length
                    ? $"'{YamlNodes.Shorten(text)}' has no unit after {text[position..end]}; write for example {text[position..end]}s"
                    : $"'{YamlNodes.Shorten(text)}' has an unknown unit at '{YamlNodes.Shorten(text[end..])}'";
                return false;
            }

            var index = Array.FindIndex(DurationFactors, f => f.Unit == unit);
            if (index < nextUnit)
            {
                error = $"'{YamlNodes.Shorten(text)}' repeats or reorders units; list each unit once, largest first (1h30m)";
                return false;
            }

            var factor = DurationFactors[index].Ticks;
            if (number > (TimeSpan.MaxValue.Ticks - ticks) / factor)
            {
                error = $"'{YamlNodes.Shorten(text)}' is too long (at most {TimeSpan.MaxValue.Days} days)";
                return false;
            }

            ticks += number * factor;
            position = end + unit.Length;
            nextUnit = index + 1;
        }
        while (position < text.Length);

        if (ticks == 0)
        {
            error = $"'{text}' is zero; a duration must be greater than zero";
            return false;
        }

        var whole = decimal.Floor(ticks);
        if (whole == 0)
        {
            error = $"'{text}' is shorter than the 100 ns resolution of a duration";
            return false;
        }

        duration = TimeSpan.FromTicks((long)whole);
        return true;
    }

    private static string ReadDurationUnit(string text, int start)
    {
        var rest = text.AsSpan(start);
        return rest.StartsWith("ms", StringComparison.Ordinal) ? "ms"
            : rest.StartsWith("h", StringComparison.Ordinal) ? "h"
            : rest.StartsWith("m", StringComparison.Ordinal) ? "m"
            : rest.StartsWith("s", StringComparison.Ordinal) ? "s"
            : string.Empty;
    }

    /// <summary>Reads digits with an optional fraction (12, 1.5) at <paramref name="start"/>; no sign, no exponent.</summary>
    private static bool TryReadNumber(string text, int start, out decimal number, out int end, [NotNullWhen(false)] out string? error)
    {
        number = 0;
        end = start;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }

        var digitsEnd = end;
        if (end < text.Length && text[end] == '.')
        {
            end++;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }
        }

        if (digitsEnd == start || end == digitsEnd + 1)
        {
            error = text.Length == 0 ? "the value is empty"
                : start == 0 && text[0] == '-' ? $"'{YamlNodes.Shorten(text)}' is negative; it must be greater than zero"
                : $"'{YamlNodes.Shorten(text)}' is not a number followed by a unit";
            return false;
        }

        if (!decimal.TryParse(text.AsSpan(start, end - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number))
        {
            error = $"'{YamlNodes.Shorten(text)}' is too large";
            return false;
        }

        error = null;
        return true;
    }
}
