using System.Globalization;
using System.Text.Json;
using static Sandbox.Build.Tasks.JsonElements;

namespace Sandbox.Build.Tasks;

/// <summary>
/// The figures of a RunReport (docs/run-report.md) a build log shows: how the step ended and what it used. A figure
/// the host could not measure is absent, never guessed; peak memory is the cgroup's when there is one, else the
/// largest process's max RSS from wait4. <see cref="Report"/> is the report's text as `sandbox` wrote it, checked to be
/// JSON: the usage file carries it as it is.
/// </summary>
internal sealed record RunFigures(int ExitCode, double WallMs, double? CpuUserMs, double? CpuSystemMs, long? PeakMemoryBytes, bool TimedOut, double? TimeoutMs, bool OomKilled, byte[] Report)
{
    /// <summary>The report's figures, or null when there is no report or it is not the JSON object a report is.</summary>
    public static RunFigures? Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // none (the sandbox was never made), or unreadable
        }
        try
        {
            // A JsonDocument, not a JsonNode tree: every step reads one, and the tree's generic value types cost the build
            // node more than the figures are worth (measured with the node's JIT: the largest part of a step's own work).
            using var document = JsonDocument.Parse(bytes);
            var r = document.RootElement;
            if (r.ValueKind != JsonValueKind.Object)
            {
                return null;
            }
            var usage = Child(r, "usage");
            var rusage = Child(r, "rusage");
            return new RunFigures(
                (int?)Integer(r, "exitCode") ?? -1,
                Real(r, "wallTimeMs") ?? 0,
                Real(usage, "cpuUserMs") ?? Real(rusage, "userMs"),
                Real(usage, "cpuSystemMs") ?? Real(rusage, "systemMs"),
                Integer(usage, "peakMemoryBytes") ?? Integer(rusage, "maxRssBytes"),
                Flag(r, "timedOut"),
                Real(r, "timeoutMs"),
                Flag(r, "oomKilled"),
                bytes);
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            return null; // not JSON, or a figure of the wrong kind: not a report this task can read
        }
    }

    private static double? Real(JsonElement e, string name) => Number(e, name)?.GetDouble();

    private static long? Integer(JsonElement e, string name) => Number(e, name)?.GetInt64(); // FormatException for a fraction or one beyond 64 bits

    /// <summary>A number, null when absent or null; a value of another kind is not a report's (FormatException).</summary>
    private static JsonElement? Number(JsonElement e, string name) => Child(e, name) switch
    {
        { ValueKind: JsonValueKind.Number } n => n,
        { ValueKind: JsonValueKind.Undefined or JsonValueKind.Null } => null,
        _ => throw new FormatException($"{name} is not a number"),
    };

    private static bool Flag(JsonElement e, string name) => Child(e, name) switch
    {
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False or JsonValueKind.Undefined or JsonValueKind.Null } => false,
        _ => throw new FormatException($"{name} is not true or false"),
    };

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
