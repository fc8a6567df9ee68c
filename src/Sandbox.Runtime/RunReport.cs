using System.Text.Json.Serialization;

namespace Sandbox.Runtime;

/// <summary>
/// How a run ended and what it used: one JSON shape (docs/run-report.md) for the CLI, the MSBuild task and the
/// test adapter. Each usage figure says where it came from; a figure this host cannot measure is null.
/// </summary>
internal sealed record RunReport
{
    public int SchemaVersion { get; init; } = 1;
    public required string Id { get; init; }

    /// <summary>The exit code as `sandbox run` returns it: the program's code, or 128+signal.</summary>
    public int ExitCode { get; init; }

    /// <summary>The signal that ended the program, when one did.</summary>
    public int? Signal { get; init; }
    public string? SignalName { get; init; }
    public double WallTimeMs { get; init; }
    public bool TimedOut { get; init; }
    public double? TimeoutMs { get; init; }
    public bool OomKilled { get; init; }
    public required RunUsage Usage { get; init; }
    public required RusageFigures Rusage { get; init; }

    /// <summary>Limits the run was allowed to start without (an explicit option); empty normally.</summary>
    public List<string> Unenforced { get; init; } = [];
    public required SeccompSummary Seccomp { get; init; }
}

/// <summary>Usage from cgroups, where this host gives it; each figure carries its source.</summary>
internal sealed record RunUsage
{
    public long? PeakMemoryBytes { get; init; }
    public string? PeakMemorySource { get; init; }
    public double? CpuUserMs { get; init; }
    public double? CpuSystemMs { get; init; }
    public string? CpuSource { get; init; }
    public long? PidsPeak { get; init; }
    public string? PidsSource { get; init; }
    public long? IoReadBytes { get; init; }
    public long? IoWriteBytes { get; init; }
    public string? IoSource { get; init; }
}

/// <summary>wait4(2)'s rusage of the container's first process and the children it waited for: works without cgroups.</summary>
internal sealed record RusageFigures
{
    public string Source { get; init; } = "wait4 rusage";
    public long MaxRssBytes { get; init; }
    public double UserMs { get; init; }
    public double SystemMs { get; init; }
    public long MinorFaults { get; init; }
    public long MajorFaults { get; init; }
    public long VoluntaryContextSwitches { get; init; }
    public long InvoluntaryContextSwitches { get; init; }
}

internal sealed record SeccompSummary
{
    /// <summary>False until seccomp user notification records denied calls.</summary>
    public bool ViolationsRecorded { get; init; }
    public string Note { get; init; } = "seccomp filters are not installed by this version, so no violations are recorded";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(RunReport))]
internal sealed partial class RunReportJsonContext : JsonSerializerContext;
