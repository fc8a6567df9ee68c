using System.Text;

namespace Sandbox.Build.Tasks.Tests;

/// <summary>How SandboxExec reads a step's RunReport (RunFigures): the figures the log line shows, and the report kept as written.</summary>
public sealed class RunFiguresTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("figures-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Report(string json)
    {
        var path = Path.Combine(_dir, "report.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void The_cgroup_figures_are_read_and_the_report_is_kept_byte_for_byte()
    {
        const string json = """
            {
              "schemaVersion": 1, "exitCode": 3, "wallTimeMs": 120.4, "timedOut": false, "timeoutMs": null, "oomKilled": true,
              "usage": { "peakMemoryBytes": 3355443, "cpuUserMs": 10.25, "cpuSystemMs": 4 },
              "rusage": { "maxRssBytes": 1, "userMs": 99, "systemMs": 99 }
            }
            """;
        var f = RunFigures.Read(Report(json))!;
        Assert.Equal((3, 120.4, 10.25, 4.0, 3355443L, false, (double?)null, true), (f.ExitCode, f.WallMs, f.CpuUserMs, f.CpuSystemMs, f.PeakMemoryBytes, f.TimedOut, f.TimeoutMs, f.OomKilled));
        Assert.Equal(json, Encoding.UTF8.GetString(f.Report));
        Assert.Equal("exit 3, wall 120 ms, CPU 10 ms user / 4 ms system, peak memory 3.2 MiB, OOM-killed", f.ToString());
    }

    [Fact]
    public void Without_cgroup_figures_the_rusage_ones_are_used_and_a_figure_never_measured_stays_absent()
    {
        var f = RunFigures.Read(Report("""{"exitCode": 0, "wallTimeMs": 7, "timedOut": true, "timeoutMs": 5, "usage": {"peakMemoryBytes": null}, "rusage": {"maxRssBytes": 2048, "userMs": 1.5}}"""))!;
        Assert.Equal((0, 1.5, (double?)null, 2048L, true), (f.ExitCode, f.CpuUserMs, f.CpuSystemMs, f.PeakMemoryBytes, f.TimedOut));
        Assert.Equal("exit 0, wall 7 ms, peak memory 0.0 MiB, timed out after 5 ms", f.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1, 2]")]
    [InlineData("""{"exitCode": 0""")]
    [InlineData("""{"exitCode": "zero"}""")]
    [InlineData("""{"exitCode": 1.5}""")]
    [InlineData("""{"exitCode": 0, "usage": {"cpuUserMs": "fast"}}""")]
    [InlineData("""{"exitCode": 0, "oomKilled": 1}""")]
    public void What_is_not_a_report_reads_as_none(string text) => Assert.Null(RunFigures.Read(Report(text)));

    [Fact]
    public void No_report_reads_as_none() => Assert.Null(RunFigures.Read(Path.Combine(_dir, "missing.json")));
}
