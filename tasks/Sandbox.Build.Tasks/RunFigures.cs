using System.Globalization;
using System.Text.Json.Nodes;

namespace Sandbox.Build.Tasks;

/// <summary>
/// The figures of a RunReport (docs/run-report.md) a build log shows: how the step ended and what it used. A figure
/// the host could not measure is absent, never guessed; peak memory is the cgroup's when there is one, else the
/// largest process's max RSS from wait4.
/// </summary>
internal sealed record RunFigures(int ExitCode, double WallMs, double? CpuUserMs, double? CpuSystemMs, long? PeakMemoryBytes, bool TimedOut, double? TimeoutMs, bool OomKilled, JsonObject Report)
{
    public static RunFigures? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            var r = JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
            if (r is null)
            {
                return null;
            }
            var usage = r["usage"];
            var rusage = r["rusage"];
            return new RunFigures(
                (int?)r["exitCode"] ?? -1,
                (double?)r["wallTimeMs"] ?? 0,
                (double?)usage?["cpuUserMs"] ?? (double?)rusage?["userMs"],
                (double?)usage?["cpuSystemMs"] ?? (double?)rusage?["systemMs"],
                (long?)usage?["peakMemoryBytes"] ?? (long?)rusage?["maxRssBytes"],
                (bool?)r["timedOut"] ?? false,
                (double?)r["timeoutMs"],
                (bool?)r["oomKilled"] ?? false,
                r);
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>One line: "exit 0, wall 120 ms, CPU 10 ms user / 4 ms system, peak memory 3.2 MiB".</summary>
    public override string ToString()
    {
        var parts = new List<string> { $"exit {ExitCode}", $"wall {Ms(WallMs)}" };
        if (CpuUserMs is { } u && CpuSystemMs is { } s)
        {
            parts.Add($"CPU {Ms(u)} user / {Ms(s)} system");
        }
        if (PeakMemoryBytes is { } m)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"peak memory {m / 1048576.0:F1} MiB"));
        }
        if (TimedOut)
        {
            parts.Add($"timed out after {Ms(TimeoutMs ?? WallMs)}");
        }
        if (OomKilled)
        {
            parts.Add("OOM-killed");
        }
        return string.Join(", ", parts);

        static string Ms(double ms) => string.Create(CultureInfo.InvariantCulture, $"{ms:F0} ms");
    }
}
