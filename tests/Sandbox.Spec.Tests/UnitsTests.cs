namespace Sandbox.Spec.Tests;

public sealed class UnitsTests
{
    [Theory]
    [InlineData("1", 1L)]
    [InlineData("4096", 4096L)]
    [InlineData("1Ki", 1024L)]
    [InlineData("1k", 1000L)]
    [InlineData("1K", 1000L)]
    [InlineData("64Mi", 67108864L)]
    [InlineData("2M", 2000000L)]
    [InlineData("1.5Gi", 1610612736L)]
    [InlineData("1G", 1000000000L)]
    [InlineData("1Ti", 1099511627776L)]
    [InlineData("1T", 1000000000000L)]
    [InlineData("0.5Ki", 512L)]
    [InlineData("1.3Gi", 1395864371L)] // 1395864371.2 bytes, rounded down
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("8388607.99Ti", 9223372025859659530L)] // just under 2^63
    public void Sizes_parse(string text, long bytes)
    {
        Assert.True(Units.TryParseSize(text, out var parsed, out var error), error);
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("0", "zero")]
    [InlineData("0Mi", "zero")]
    [InlineData("-1", "negative")]
    [InlineData("-1Ki", "negative")]
    [InlineData("10X", "unknown unit 'X'")]
    [InlineData("512MiB", "unknown unit 'MiB'")]
    [InlineData("1 Mi", "unknown unit ' Mi'")]
    [InlineData("1m", "unknown unit 'm'")]
    [InlineData("1.5", "fraction of a byte")]
    [InlineData("9223372036854775808", "too large")]
    [InlineData("8Ei", "unknown unit")]
    [InlineData("8388608Ti", "too large")]
    [InlineData("99999999999999999999999999999999Ki", "too large")]
    [InlineData("0.0001k", "less than one byte")]
    [InlineData("", "empty")]
    [InlineData("Mi", "not a number")]
    [InlineData("1.Mi", "not a number")]
    [InlineData(".5Mi", "not a number")]
    [InlineData("1e3", "unknown unit 'e3'")]
    public void Bad_sizes_say_why(string text, string reason)
    {
        Assert.False(Units.TryParseSize(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1", 1.0)]
    [InlineData("1.5", 1.5)]
    [InlineData("0.25", 0.25)]
    [InlineData("1500m", 1.5)]
    [InlineData("1m", 0.001)]
    [InlineData("64", 64.0)]
    public void Cpu_counts_parse(string text, double cpus)
    {
        Assert.True(Units.TryParseCpus(text, out var parsed, out var error), error);
        Assert.Equal(cpus, parsed, 12);
    }

    [Theory]
    [InlineData("0", "zero")]
    [InlineData("0m", "zero")]
    [InlineData("0.0", "zero")]
    [InlineData("-1", "negative")]
    [InlineData("1.5m", "fraction of a millicpu")]
    [InlineData("2 cpus", "unknown unit")]
    [InlineData("1e2", "unknown unit")]
    [InlineData("NaN", "not a number")]
    [InlineData("Infinity", "not a number")]
    [InlineData("999999999999999999999999999999999", "too large")]
    public void Bad_cpu_counts_say_why(string text, string reason)
    {
        Assert.False(Units.TryParseCpus(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("500ms", 5_000_000L)]
    [InlineData("30s", 300_000_000L)]
    [InlineData("1.5s", 15_000_000L)]
    [InlineData("2m", 1_200_000_000L)]
    [InlineData("1h", 36_000_000_000L)]
    [InlineData("1h30m", 54_000_000_000L)]
    [InlineData("1m30s500ms", 905_000_000L)]
    [InlineData("0.5ms", 5_000L)]
    [InlineData("0s1ms", 10_000L)]
    [InlineData("1h0m0s", 36_000_000_000L)]
    [InlineData("0.0001ms", 1L)]
    public void Durations_parse(string text, long ticks)
    {
        Assert.True(Units.TryParseDuration(text, out var parsed, out var error), error);
        Assert.Equal(TimeSpan.FromTicks(ticks), parsed);
    }

    [Fact]
    public void One_and_a_half_hours_is_5400_seconds()
    {
        Assert.True(Units.TryParseDuration("1h30m", out var parsed, out _));
        Assert.Equal(5400, parsed.TotalSeconds);
    }

    [Theory]
    [InlineData("30", "no unit")]
    [InlineData("1h30", "no unit")]
    [InlineData("0s", "zero")]
    [InlineData("0h0m", "zero")]
    [InlineData("-1s", "negative")]
    [InlineData("1d", "unknown unit")]
    [InlineData("1 s", "unknown unit")]
    [InlineData("30m1h", "largest first")]
    [InlineData("1s1s", "largest first")]
    [InlineData("1ms1s", "largest first")]
    [InlineData("0.00001ms", "resolution")]
    [InlineData("99999999999999h", "too long")]
    [InlineData("256204778h59m", "too long")]
    [InlineData("", "empty")]
    [InlineData("s", "not a number")]
    public void Bad_durations_say_why(string text, string reason)
    {
        Assert.False(Units.TryParseDuration(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_longest_duration_is_the_longest_timespan()
    {
        var text = $"{TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMillisecond}ms";

        Assert.True(Units.TryParseDuration(text, out var parsed, out var error), error);
        Assert.Equal(TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMillisecond, (long)parsed.TotalMilliseconds);
    }
}
