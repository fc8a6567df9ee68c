using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sandbox.TestAdapter;

/// <summary>
/// What a RunReport (docs/run-report.md) says about the sandbox that ran a test, as the one line each result carries
/// and as the cause of a crash. "Peak memory" is the larger of wait4's max RSS (the biggest process's resident set,
/// shared libraries included: what a test needs to run at all) and the cgroup's peak (every process of the sandbox
/// together, but only pages it brought into memory itself), and says which one it is; the other is kept beside it.
/// </summary>
internal sealed record UsageSummary(
    int? ExitCode, string? SignalName, bool TimedOut, double? TimeoutMs, bool OomKilled, double? WallMs,
    long? MaxRssBytes, long? CgroupPeakBytes, string? CgroupPeakSource, double? CpuUserMs, double? CpuSystemMs, string? CpuSource,
    IReadOnlyList<string> Denied, IReadOnlyList<string> Blocked)
{
    public static UsageSummary? TryRead(string reportPath)
    {
        try
        {
            return File.Exists(reportPath) ? Parse(File.ReadAllText(reportPath)) : null;
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    public static UsageSummary Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        var usage = Get(r, "usage");
        var rusage = Get(r, "rusage");
        var seccomp = Get(r, "seccomp");
        var cgroupCpu = Number(usage, "cpuUserMs") is not null;
        return new(
            (int?)Number(r, "exitCode"), Text(r, "signalName"), Bool(r, "timedOut"), Number(r, "timeoutMs"), Bool(r, "oomKilled"),
            Number(r, "wallTimeMs"),
            (long?)Number(rusage, "maxRssBytes"), (long?)Number(usage, "peakMemoryBytes"), Text(usage, "peakMemorySource"),
            cgroupCpu ? Number(usage, "cpuUserMs") : Number(rusage, "userMs"),
            cgroupCpu ? Number(usage, "cpuSystemMs") : Number(rusage, "systemMs"),
            cgroupCpu ? Text(usage, "cpuSource") ?? "cgroup" : rusage is null ? null : Text(rusage, "source") ?? "wait4 rusage",
            List(seccomp, "denied", e => $"{Text(e, "syscall")} ({Text(e, "errnoName")}) ×{Number(e, "count")}"),
            List(seccomp, "blockedAddresses", e => $"{Text(e, "address")} ({Text(e, "syscall")}) ×{Number(e, "count")}"));
    }

    /// <summary>How the sandbox's first process ended, when it did not end well; null for a clean exit 0.</summary>
    public string? Cause
    {
        get
        {
            if (OomKilled)
            {
                return "killed by the OOM killer (the sandbox's memory limit)";
            }
            if (TimedOut)
            {
                return $"timed out after {Seconds(TimeoutMs ?? WallMs)}";
            }
            if (SignalName is not null)
            {
                return $"killed by {SignalName}";
            }
            return ExitCode is null or 0 ? null : $"exited with code {ExitCode}";
        }
    }

    /// <summary>The result message, e.g. "Sandbox: peak memory 29.1 MiB (max RSS, wait4; cgroup peak 4.8 MiB) · …".</summary>
    public string Describe()
    {
        var s = new StringBuilder("Sandbox: peak memory ");
        var cgroupLarger = CgroupPeakBytes is { } c && (MaxRssBytes is null || c > MaxRssBytes);
        if (MaxRssBytes is null && CgroupPeakBytes is null)
        {
            s.Append("unknown");
        }
        else if (cgroupLarger)
        {
            s.Append(CultureInfo.InvariantCulture, $"{MiB(CgroupPeakBytes)} (cgroup peak of all processes, {CgroupPeakSource ?? "cgroup"}; largest process's max RSS {MiB(MaxRssBytes)})");
        }
        else
        {
            s.Append(CultureInfo.InvariantCulture, $"{MiB(MaxRssBytes)} (largest process's max RSS, wait4; cgroup peak {MiB(CgroupPeakBytes)})");
        }
        s.Append(CultureInfo.InvariantCulture, $" · CPU {Seconds(CpuUserMs)} user / {Seconds(CpuSystemMs)} system ({CpuSource ?? "unknown source"})");
        s.Append(CultureInfo.InvariantCulture, $" · wall {Seconds(WallMs)}");
        s.Append(" · OOM-killed ").Append(OomKilled ? "yes" : "no");
        s.Append(" · timed out ").Append(TimedOut ? "yes" : "no");
        s.Append(" · denied syscalls: ").Append(Denied.Count == 0 ? "none" : string.Join(", ", Denied));
        s.Append(" · blocked addresses: ").Append(Blocked.Count == 0 ? "none" : string.Join(", ", Blocked));
        return s.ToString();
    }

    private static string MiB(long? bytes) =>
        bytes is { } b ? (b / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB" : "n/a";

    private static string Seconds(double? ms) =>
        ms is { } m ? (m / 1000).ToString("0.00", CultureInfo.InvariantCulture) + " s" : "n/a";

    private static JsonElement? Get(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    private static double? Number(JsonElement? e, string name) =>
        e is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static string? Text(JsonElement? e, string name) =>
        e is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement? e, string name) =>
        e is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static List<string> List(JsonElement? e, string name, Func<JsonElement, string> describe) =>
        e is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? [.. v.EnumerateArray().Select(describe)]
            : [];
}
