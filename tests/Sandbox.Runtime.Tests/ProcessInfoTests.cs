using Sandbox.Runtime;

namespace Sandbox.Runtime.Tests;

public class ProcessInfoTests
{
    [Fact]
    public void Stat_is_parsed_after_the_last_parenthesis_so_odd_command_names_do_not_shift_fields()
    {
        var stat = "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615";
        var parsed = ProcessInfo.Parse(stat);
        Assert.Equal('S', parsed!.Value.State);
        Assert.Equal(987654ul, parsed.Value.StartTime);
        Assert.Null(ProcessInfo.Parse("garbage"));
        Assert.Null(ProcessInfo.Parse(null));
    }

    [Fact]
    public void This_process_is_alive_and_a_wrong_start_time_is_not()
    {
        var me = Environment.ProcessId;
        var start = ProcessInfo.StartTime(me);
        Assert.NotNull(start);
        Assert.True(ProcessInfo.IsAlive(me, start!.Value));
        Assert.False(ProcessInfo.IsAlive(me, start.Value + 1));
        Assert.False(ProcessInfo.IsAlive(0, 0));
    }
}
