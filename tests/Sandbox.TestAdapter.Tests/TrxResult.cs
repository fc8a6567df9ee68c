using System.Xml.Linq;

namespace Sandbox.TestAdapter.Tests;

/// <summary>One UnitTestResult of a TRX file, as far as the end-to-end comparisons need it.</summary>
internal sealed record TrxResult(Guid Id, string Name, string Outcome, string Message, IReadOnlyList<string> TextMessages, IReadOnlyList<string> ResultFiles)
{
    /// <summary>What the test wrote to its output (ITestOutputHelper, Console).</summary>
    public string StdOut { get; init; } = "";

    private static readonly XNamespace Trx = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";

    public static List<TrxResult> Read(string path)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        return [.. XDocument.Load(path).Descendants(Trx + "UnitTestResult").Select(r => new TrxResult(
            Guid.Parse((string)r.Attribute("testId")!),
            (string)r.Attribute("testName")!,
            (string)r.Attribute("outcome")!,
            (string?)r.Element(Trx + "Output")?.Element(Trx + "ErrorInfo")?.Element(Trx + "Message") ?? "",
            [.. r.Descendants(Trx + "TextMessages").Elements(Trx + "Message").Select(m => m.Value)],
            [.. r.Descendants(Trx + "ResultFile").Select(f => (string)f.Attribute("path")!)])
        {
            StdOut = (string?)r.Element(Trx + "Output")?.Element(Trx + "StdOut") ?? "",
        })];
    }
}
