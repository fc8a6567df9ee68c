using System.Text.Json;

namespace Sandbox.Runtime.Tests;

/// <summary>
/// The RunReport `sandbox run --report` writes (read by the test adapter, the MSBuild task and users) is written by
/// hand so that `sandbox` carries no serializer metadata: held here to the bytes the source-generated serializer writes.
/// </summary>
public class RunReportJsonTests
{
    private static void Agree(RunReport report) =>
        Assert.Equal(JsonSerializer.Serialize(report, RunReportJsonContext.Default.RunReport), System.Text.Encoding.UTF8.GetString(report.ToJson()));

    [Fact]
    public void Every_field_is_written_as_the_serializer_writes_it()
    {
        foreach (var fill in new[] { JsonSamples.Fill.Full, JsonSamples.Fill.NullsAndNuls })
        {
            var n = 0;
            var json = JsonSamples.Of(RunReportJsonContext.Default.RunReport, fill, ref n)!.ToJsonString();
            Agree(JsonSerializer.Deserialize(json, RunReportJsonContext.Default.RunReport)!);
        }
    }

    [Fact]
    public void A_report_with_its_nulls_and_empty_lists_is_written_as_the_serializer_writes_it() => Agree(new RunReport
    {
        Id = "c1",
        ExitCode = 0,
        WallTimeMs = 3.0,
        Usage = new RunUsage(),
        Rusage = new RusageFigures(),
        Seccomp = new SeccompSummary(),
    });

    [Theory]
    [InlineData(0.1, 1e-7, 12345678901234.5)]
    [InlineData(double.Epsilon, double.MaxValue, -0.0)]
    [InlineData(1.0 / 3, 2.5e-300, 100)]
    public void Numbers_are_written_as_the_serializer_writes_them(double wall, double cpu, double timeout) => Agree(new RunReport
    {
        Id = "c2",
        ExitCode = 137,
        Signal = 9,
        SignalName = "SIGKILL",
        WallTimeMs = wall,
        TimedOut = true,
        TimeoutMs = timeout,
        OomKilled = true,
        Usage = new RunUsage { PeakMemoryBytes = long.MaxValue, CpuUserMs = cpu, CpuSystemMs = -cpu, PidsPeak = long.MinValue, CpuSource = "cgroup v2 cpu.stat" },
        Rusage = new RusageFigures { MaxRssBytes = 1 << 20, UserMs = cpu, SystemMs = wall, MinorFaults = 3 },
        Unenforced = ["memory", "pids <&>"],
        Seccomp = new SeccompSummary
        {
            Filtered = true,
            ViolationsRecorded = true,
            Denied = [new DeniedCall { Syscall = "ptrace", Errno = 1, ErrnoName = "EPERM", Count = 2 }, new DeniedCall { Syscall = "bpf", ErrnoName = "ENOSYS" }],
            BlockedAddresses = [new BlockedAddress { Syscall = "connect", Family = "AF_INET", Address = "10.0.0.1:80", Count = 1 }],
        },
    });
}
