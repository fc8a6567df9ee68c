using System.Buffers;
using System.Text.Json;
using Sandbox.Oci;
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

    /// <summary>
    /// The report's JSON: what the source-generated serializer writes (<see cref="RunReportJsonContext"/>: camelCase,
    /// indented, nulls written), written directly so that `sandbox` carries no serializer metadata. RunReportJsonTests
    /// hold the two to the same bytes, so a field added here and not below fails them.
    /// </summary>
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options(indented: true)))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", SchemaVersion);
            w.WriteString("id", Id);
            w.WriteNumber("exitCode", ExitCode);
            Number(w, "signal", Signal);
            w.WriteString("signalName", SignalName);
            w.WriteNumber("wallTimeMs", WallTimeMs);
            w.WriteBoolean("timedOut", TimedOut);
            Number(w, "timeoutMs", TimeoutMs);
            w.WriteBoolean("oomKilled", OomKilled);
            w.WritePropertyName("usage");
            Object(w, Usage, static (w, u) => u.Write(w));
            w.WritePropertyName("rusage");
            Object(w, Rusage, static (w, r) => r.Write(w));
            w.WriteStartArray("unenforced");
            foreach (var u in Unenforced)
            {
                w.WriteStringValue(u);
            }
            w.WriteEndArray();
            w.WritePropertyName("seccomp");
            Object(w, Seccomp, static (w, s) => s.Write(w));
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>An object, or null where there is none (the serializer writes null; the runtime never leaves one out).</summary>
    internal static void Object<T>(Utf8JsonWriter w, T? value, Action<Utf8JsonWriter, T> write)
        where T : class
    {
        if (value is null)
        {
            w.WriteNullValue();
        }
        else
        {
            write(w, value);
        }
    }

    /// <summary>A named array of <paramref name="items"/>, each written as <see cref="Object"/> writes it.</summary>
    internal static void Array<T>(Utf8JsonWriter w, string name, List<T> items, Action<Utf8JsonWriter, T> write)
        where T : class
    {
        w.WriteStartArray(name);
        foreach (var item in items)
        {
            Object(w, item, write);
        }
        w.WriteEndArray();
    }

    internal static void Number(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    internal static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
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

    internal void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        RunReport.Number(w, "peakMemoryBytes", PeakMemoryBytes);
        w.WriteString("peakMemorySource", PeakMemorySource);
        RunReport.Number(w, "cpuUserMs", CpuUserMs);
        RunReport.Number(w, "cpuSystemMs", CpuSystemMs);
        w.WriteString("cpuSource", CpuSource);
        RunReport.Number(w, "pidsPeak", PidsPeak);
        w.WriteString("pidsSource", PidsSource);
        RunReport.Number(w, "ioReadBytes", IoReadBytes);
        RunReport.Number(w, "ioWriteBytes", IoWriteBytes);
        w.WriteString("ioSource", IoSource);
        w.WriteEndObject();
    }
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

    internal void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("source", Source);
        w.WriteNumber("maxRssBytes", MaxRssBytes);
        w.WriteNumber("userMs", UserMs);
        w.WriteNumber("systemMs", SystemMs);
        w.WriteNumber("minorFaults", MinorFaults);
        w.WriteNumber("majorFaults", MajorFaults);
        w.WriteNumber("voluntaryContextSwitches", VoluntaryContextSwitches);
        w.WriteNumber("involuntaryContextSwitches", InvoluntaryContextSwitches);
        w.WriteEndObject();
    }
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

    internal void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteBoolean("filtered", Filtered);
        w.WriteBoolean("violationsRecorded", ViolationsRecorded);
        w.WriteString("note", Note);
        RunReport.Array(w, "denied", Denied, static (w, d) =>
        {
            w.WriteStartObject();
            w.WriteString("syscall", d.Syscall);
            w.WriteNumber("errno", d.Errno);
            w.WriteString("errnoName", d.ErrnoName);
            w.WriteNumber("count", d.Count);
            w.WriteEndObject();
        });
        RunReport.Array(w, "blockedAddresses", BlockedAddresses, static (w, b) =>
        {
            w.WriteStartObject();
            w.WriteString("syscall", b.Syscall);
            w.WriteString("family", b.Family);
            w.WriteString("address", b.Address);
            w.WriteNumber("count", b.Count);
            w.WriteEndObject();
        });
        w.WriteEndObject();
    }
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

/// <summary>The serializer <see cref="RunReport.ToJson"/> stands in for: kept for the tests that hold the two to the same bytes.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(RunReport))]
internal sealed partial class RunReportJsonContext : JsonSerializerContext;
