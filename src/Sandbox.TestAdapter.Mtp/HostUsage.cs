using System.Globalization;
using System.Xml.Linq;

namespace Sandbox.TestAdapter.Mtp;

/// <summary>
/// The RunReport of the test host's sandbox (docs/run-report.md) as a Microsoft.Testing.Platform run shows it: the usage
/// line of the VSTest adapter (UsageSummary) on the console, or the cause when the sandbox ended the test host (the OOM
/// killer, the timeout, a signal); the RunReport itself as a file artifact in the results directory; and both in the
/// TRX reports the test host wrote. The platform's TRX writer runs in the test host, which ends before its sandbox's
/// figures exist, so they are added to its file afterwards, where MTP's own controller-side TRX handler adds
/// artifacts: a run-level message (RunInfos) and an attachment of a "Sandbox" collector (CollectorDataEntries).
/// </summary>
internal sealed class HostUsage(string json, UsageSummary summary)
{
    private static readonly XNamespace Trx = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";

    public UsageSummary Summary => summary;

    public static HostUsage? Read(string reportPath)
    {
        try
        {
            var json = File.ReadAllText(reportPath);
            return new(json, UsageSummary.Parse(json));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Why the test host ended early, with the figures and what to do, when it did: a test over its per-test timeout
    /// (SBX5029: TestProgressWatch stopped the host and left the test's name in <paramref name="progress"/>), or the
    /// sandbox's OOM killer, timeout or a signal (SBX5024, naming the tests <paramref name="progress"/> says were
    /// running). Null when the test host ended by itself, with whatever exit code its tests gave it.
    /// </summary>
    public string? CrashCause(IReadOnlyList<string> progress)
    {
        if (progress is [TestProgressWatch.TimedOutMarker, var test, var ms, ..])
        {
            var timeout = Durations.Describe(TimeSpan.FromMilliseconds(double.Parse(ms, CultureInfo.InvariantCulture)));
            return $"{AdapterErrors.TestTimedOut}: {test} timed out after {timeout} (the per-test timeout): the test host was stopped, and the tests it had not finished have no result. "
                + $"{summary.Describe()}. To fix: fix the test, or raise the timeout (--{SandboxCommandLineOptions.TestTimeout}, or testTimeout: in the test: section of sandbox.yaml)";
        }
        if (!summary.OomKilled && !summary.TimedOut && summary.SignalName is null)
        {
            return null;
        }
        var fix = summary.OomKilled ? "raise the memory limit in sandbox.yaml (limits: memory:), or find the test that allocates"
            : summary.TimedOut ? $"raise the timeout (--{SandboxCommandLineOptions.Timeout}, or timeout: in the test: section of sandbox.yaml), or find the test that does not end"
            : "find what killed it (a test that kills its own process, or a signal from outside)";
        var running = progress.Count == 0 ? "" : $" Running then: {string.Join(", ", progress)}.";
        return $"{AdapterErrors.SandboxCrashed}: the test host's sandbox ended it: {summary.Cause}; the tests it had not finished have no result.{running} {summary.Describe()}. To fix: {fix}";
    }

    /// <summary>The RunReport as RESULTS/Sandbox_ASSEMBLY_TIME.json; returns its path.</summary>
    public string WriteArtifact(string resultsDirectory, string assemblyName)
    {
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'.'fff", CultureInfo.InvariantCulture);
        var path = Path.Combine(resultsDirectory, $"Sandbox_{assemblyName}_{stamp}.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>The .trx files in <paramref name="resultsDirectory"/> written since <paramref name="sinceUtc"/>: this run's.</summary>
    public static IEnumerable<string> TrxFilesSince(string resultsDirectory, DateTime sinceUtc) =>
        Directory.Exists(resultsDirectory)
            ? Directory.EnumerateFiles(resultsDirectory, "*.trx").Where(f => File.GetLastWriteTimeUtc(f) >= sinceUtc.AddSeconds(-1)).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>
    /// Adds the usage line (or <paramref name="crashCause"/>) as a run-level message and <paramref name="artifact"/> as an attachment
    /// of a "Sandbox" collector, copied, as MTP copies artifacts, into the run's deployment directory (In/MACHINE/). A
    /// file that is not a TRX is left alone.
    /// </summary>
    public void AddToTrx(string trxPath, string artifact, string? crashCause)
    {
        XDocument doc;
        try
        {
            doc = XDocument.Load(trxPath);
        }
        catch (System.Xml.XmlException)
        {
            return;
        }
        if (doc.Root is not { } run || run.Name != Trx + "TestRun")
        {
            return;
        }
        var summaryElement = run.Element(Trx + "ResultSummary");
        if (summaryElement is null)
        {
            summaryElement = new XElement(Trx + "ResultSummary");
            run.Add(summaryElement);
        }
        var runInfos = summaryElement.Element(Trx + "RunInfos");
        if (runInfos is null)
        {
            runInfos = new XElement(Trx + "RunInfos");
            if (summaryElement.Element(Trx + "Counters") is { } counters)
            {
                counters.AddAfterSelf(runInfos);
            }
            else
            {
                summaryElement.AddFirst(runInfos);
            }
        }
        runInfos.Add(new XElement(Trx + "RunInfo",
            new XAttribute("computerName", Environment.MachineName),
            new XAttribute("outcome", crashCause is null ? "Completed" : "Error"),
            new XAttribute("timestamp", DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture)),
            new XElement(Trx + "Text", crashCause ?? summary.Describe())));

        var deploymentRoot = (string?)run.Element(Trx + "TestSettings")?.Element(Trx + "Deployment")?.Attribute("runDeploymentRoot");
        var trxDirectory = Path.GetDirectoryName(Path.GetFullPath(trxPath))!;
        string href;
        if (deploymentRoot is { Length: > 0 })
        {
            var inDirectory = Directory.CreateDirectory(Path.Combine(trxDirectory, deploymentRoot, "In", Environment.MachineName)).FullName;
            File.Copy(artifact, Path.Combine(inDirectory, Path.GetFileName(artifact)), overwrite: true);
            href = Path.Combine(Environment.MachineName, Path.GetFileName(artifact));
        }
        else
        {
            href = Path.GetRelativePath(trxDirectory, artifact);
        }
        var collectors = summaryElement.Element(Trx + "CollectorDataEntries");
        if (collectors is null)
        {
            collectors = new XElement(Trx + "CollectorDataEntries");
            summaryElement.Add(collectors);
        }
        collectors.Add(new XElement(Trx + "Collector",
            new XAttribute("agentName", Environment.MachineName),
            new XAttribute("uri", "datacollector://Sandbox/" + (typeof(HostUsage).Assembly.GetName().Version?.ToString() ?? "0.0.0")),
            new XAttribute("collectorDisplayName", "Sandbox"),
            new XElement(Trx + "UriAttachments", new XElement(Trx + "UriAttachment", new XElement(Trx + "A", new XAttribute("href", href))))));
        doc.Save(trxPath);
    }
}
