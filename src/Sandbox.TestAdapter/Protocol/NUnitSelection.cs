using System.Xml.Linq;

// How an NUnit group of `class` or `test` isolation runs by sources. NUnit3TestAdapter (5.2.0) keeps to no filter the
// agent evaluates (it parses a filter's text into an NUnit filter, or runs every test that is not explicit), and a
// run of test cases runs an explicit test it names. What it does keep to is an NUnit filter in the runsettings
// (`<NUnit><Where>`), which NUnit applies as it would in any run: its explicit rule included. Compiled into both
// assemblies: the adapter decides whether a group can run so, the agent writes the filter.
namespace Sandbox.TestAdapter.Protocol;

internal static class NUnitSelection
{
    /// <summary>Whether tests of this executor are NUnit3TestAdapter's.</summary>
    public static bool IsNUnit(string executorUri) =>
        executorUri.StartsWith("executor://NUnit3TestExecutor", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A category no test has. A filter with a category in it is one NUnit3TestAdapter hands NUnit as it is (it looks
    /// for "&lt;cat&gt;" in the filter's XML); any other it replaces with the list of the tests it selects, less the
    /// explicit ones, which are then not reported at all (measured, 5.2.0).
    /// </summary>
    public const string NoCategory = "Sandbox: no test has this category";

    /// <summary>
    /// The NUnit filter (NUnit's test selection language) that runs the tests of these full names as a run of the
    /// whole assembly without a filter would: <c>!(!(test == "A" || test == "B")) &amp;&amp; cat != "…"</c>. A test
    /// filter alone selects what it names, and NUnit runs a selected explicit test; through two negations it still
    /// passes the same tests, but selects none of them (NUnit's NotFilter matches nothing explicitly), so NUnit skips
    /// an explicit test (or the tests of an explicit fixture) with its reason, as in a plain run, and does not report
    /// the tests the filter leaves out. Measured with NUnit 4.4.0 and NUnit3TestAdapter 5.2.0.
    /// </summary>
    public static string Where(IEnumerable<string> fullNames) =>
        $"!(!({string.Join(" || ", fullNames.Select(n => "test == " + Quote(n)))})) && cat != {Quote(NoCategory)}";

    /// <summary>A string of NUnit's selection language: in double quotes, a backslash before each backslash and quote.</summary>
    public static string Quote(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>Whether the runsettings already give NUnit a filter (a Where of the user's).</summary>
    public static bool HasWhere(string? settingsXml) =>
        Parse(settingsXml)?.Root?.Element("NUnit")?.Element("Where") is { } where && !string.IsNullOrWhiteSpace(where.Value);

    /// <summary>The runsettings with <paramref name="where"/> as NUnit's filter (RunSettings/NUnit/Where, created or replaced).</summary>
    public static string WithWhere(string? settingsXml, string where)
    {
        var doc = Parse(settingsXml) ?? new XDocument();
        if (doc.Root is null)
        {
            doc.Add(new XElement("RunSettings"));
        }
        var nunit = doc.Root!.Element("NUnit");
        if (nunit is null)
        {
            doc.Root.Add(nunit = new XElement("NUnit"));
        }
        nunit.SetElementValue("Where", where);
        return doc.ToString(SaveOptions.DisableFormatting);
    }

    private static XDocument? Parse(string? settingsXml) =>
        string.IsNullOrWhiteSpace(settingsXml) ? null : XDocument.Parse(settingsXml);
}
