using System.Text.Json;
using Sandbox.Runtime;

namespace Sandbox.Runtime.Tests;

public class RuntimeLogTests
{
    private static readonly DateTime When = new(2026, 11, 30, 14, 5, 6, 789, DateTimeKind.Utc);

    [Fact]
    public void A_json_record_is_one_object_per_line_with_level_msg_and_time_as_runc_writes()
    {
        var line = RuntimeLog.Format("warning", "a \"quoted\"\nmessage", When, json: true);
        Assert.EndsWith("\n", line, StringComparison.Ordinal);
        Assert.Single(line.TrimEnd('\n').Split('\n'));
        var o = JsonDocument.Parse(line).RootElement;
        Assert.Equal("warning", o.GetProperty("level").GetString());
        Assert.Equal("a \"quoted\"\nmessage", o.GetProperty("msg").GetString());
        Assert.Equal("2026-11-30T14:05:06.7890000Z", o.GetProperty("time").GetString());
    }

    [Fact]
    public void A_text_record_is_one_key_value_line_with_the_message_quoted()
    {
        Assert.Equal("time=\"2026-11-30T14:05:06.7890000Z\" level=error msg=\"SBX1001: a \\\"b\\\"\\nc\"\n",
            RuntimeLog.Format("error", "SBX1001: a \"b\"\nc", When, json: false));
    }

    [Fact]
    public void An_unknown_format_is_refused()
    {
        var e = Assert.Throws<SandboxException>(() => RuntimeLog.Configure(null, "yaml"));
        Assert.Contains("--log-format text or --log-format json", e.Hint, StringComparison.Ordinal);
    }
}
