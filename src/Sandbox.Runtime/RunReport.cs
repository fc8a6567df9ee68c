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

/// <summary>
/// What the seccomp filter refused. Denials are recorded through seccomp user notification: the filter hands each
/// call the profile denies to `sandbox run`, which answers with the profile's errno and counts it.
/// </summary>
internal sealed record SeccompSummary
{
    /// <summary>Whether a filter was installed (false for `unconfined` or a config without linux.seccomp).</summary>
    public bool Filtered { get; init; }
    public bool ViolationsRecorded { get; init; }

    /// <summary>Why violations were not recorded, when a filter was installed but they were not.</summary>
    public string? Note { get; init; }

    /// <summary>Denied calls by name, most frequent first.</summary>
    public List<DeniedCall> Denied { get; init; } = [];

    /// <summary>connect() and sendto() destinations refused because the profile does not let socket() create their family.</summary>
    public List<BlockedAddress> BlockedAddresses { get; init; } = [];
}

internal sealed record DeniedCall
{
    public required string Syscall { get; init; }
    public int Errno { get; init; }
    public required string ErrnoName { get; init; }
    public long Count { get; init; }
}

internal sealed record BlockedAddress
{
    public required string Syscall { get; init; }
    public required string Family { get; init; }
    public required string Address { get; init; }
    public long Count { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(RunReport))]
internal sealed partial class RunReportJsonContext : JsonSerializerContext;
