namespace Sandbox.Runtime;

/// <summary>Reads /proc/PID/stat: whether a process lives, and since when (to tell a reused pid apart).</summary>
internal static class ProcessInfo
{
    /// <summary>The start time in clock ticks since boot, or null if there is no such process.</summary>
    public static ulong? StartTime(int pid, string procRoot = "/proc") => Parse(ReadStat(pid, procRoot))?.StartTime;

    /// <summary>This process's start time, read once (its state claims and records name it).</summary>
    public static ulong OwnStartTime => ownStartTime ??= StartTime(Environment.ProcessId) ?? 0;

    private static ulong? ownStartTime;

    /// <summary>True if the process exists with that start time and is not a zombie.</summary>
    public static bool IsAlive(int pid, ulong startTime, string procRoot = "/proc")
    {
        if (pid <= 0)
        {
            return false;
        }
        var stat = Parse(ReadStat(pid, procRoot));
        return stat is { } s && s.StartTime == startTime && s.State is not ('Z' or 'X');
    }

    internal static (char State, ulong StartTime)? Parse(string? stat)
    {
        if (stat is null)
        {
            return null;
        }
        // "pid (comm) S ppid ..." where comm may hold spaces and parentheses: split after the last ')'.
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }
        var fields = stat[(close + 2)..].Split(' ');
        if (fields.Length < 20 || !ulong.TryParse(fields[19], out var start))
        {
            return null;
        }
        return (fields[0][0], start);
    }

    private static string? ReadStat(int pid, string procRoot)
    {
        var bytes = RawFiles.Read($"{procRoot}/{pid}/stat", out _);
        return bytes is null ? null : System.Text.Encoding.UTF8.GetString(bytes);
    }
}
