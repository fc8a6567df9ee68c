using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAdapter;

/// <summary>
/// How the groups of one test assembly run (class and test isolation, the rest of a crashed sandbox, a test run again
/// alone): the tests discovered for it, and the request that runs some of them in a sandbox. A group runs by
/// sources with its selection (<see cref="TestSelection"/>), which the agent hands the framework as a filter, so the
/// framework runs it as a plain `dotnet test` would: its own test ids, explicit tests not run, its messages. NUnit is
/// the exception (<see cref="RunsTestCases"/>): its groups run as runs of test cases.
/// </summary>
internal sealed class GroupPlan
{
    private readonly string _source;
    private readonly string? _settingsXml;
    private readonly string? _filter;
    private readonly List<TestCaseDto> _discovered;
    private readonly TestSelection _all;

    /// <param name="discovered">The tests discovered with the user's filter, in the order of discovery.</param>
    /// <param name="bySources">False when the groups must run as runs of test cases (a selection the user made, NUnit).</param>
    public GroupPlan(string source, string? settingsXml, string? filter, List<TestCaseDto> discovered, bool bySources)
    {
        _source = source;
        _settingsXml = settingsXml;
        _filter = filter;
        _discovered = discovered;
        _all = new TestSelection(discovered.Select(d => new SelectedTest(d.Id, d.FullyQualifiedName, d.DisplayName, true)));
        BySources = bySources;
    }

    /// <summary>The plan of a run by sources: by sources, unless the discovered tests are NUnit's.</summary>
    public static GroupPlan ForSources(string source, string? settingsXml, string? filter, List<TestCaseDto> discovered) =>
        new(source, settingsXml, filter, discovered, !discovered.Any(d => RunsTestCases(d.ExecutorUri)));

    public bool BySources { get; }

    /// <summary>
    /// The discovered tests the groups run. By sources, all of them: the framework decides about explicit tests as it
    /// does without Sandbox. As runs of test cases, a run of an explicit test would run it (a run of test cases is a
    /// selection), so explicit tests stay out (<see cref="RunsBySource"/>) and the caller reports them not run.
    /// </summary>
    public IEnumerable<TestCaseDto> Runnable => BySources ? _discovered : _discovered.Where(RunsBySource);

    /// <summary>
    /// NUnit3TestAdapter (5.2.0) does not keep to a filter it does not parse itself: with UseNUnitFilter false it
    /// calls MatchTestCase on each test it discovered and then runs every test of the assembly that is not explicit
    /// (measured); and the text of a filter cannot say "these tests and not the explicit ones" either.
    /// </summary>
    public static bool RunsTestCases(string executorUri) =>
        executorUri.StartsWith("executor://NUnit3TestExecutor", StringComparison.OrdinalIgnoreCase);

    /// <summary>The request that runs <paramref name="tests"/> (proxies of discovered tests) in one sandbox.</summary>
    public AgentMessage Request(IEnumerable<TestCase> tests)
    {
        if (!BySources)
        {
            return new() { Type = MessageTypes.RunTests, Tests = [.. tests.Select(SandboxTestAdapter.FromProxy)], SettingsXml = _settingsXml };
        }
        var members = tests.Select(t => t.Id).ToHashSet();
        return new()
        {
            Type = MessageTypes.RunSources,
            Sources = [_source],
            SettingsXml = _settingsXml,
            Filter = _filter,
            Selection = TestSelection.For(members, _discovered),
        };
    }

    /// <summary>The discovered tests a request runs, by id; null for a run of the whole source.</summary>
    public static List<Guid>? Members(AgentMessage request) =>
        request.Selection?.Where(s => s.Member).Select(s => s.Id).ToList() ?? request.Tests?.Select(t => t.Id).ToList();

    /// <summary>The discovered tests a test case the framework reported stands for (its own id when it is one).</summary>
    public IEnumerable<Guid> StandsFor(TestCaseDto reported) =>
        _all.StandsFor(reported.Id, reported.FullyQualifiedName, reported.DisplayName) is { Count: > 0 } tests ? tests.Select(t => t.Id) : [reported.Id];

    /// <summary>
    /// Whether a discovered test runs when its assembly runs without a selection. Explicit tests (NUnit's
    /// [Explicit], xunit v3's Explicit = true) are discovered but run only when selected, and a run of test cases is
    /// a selection.
    /// </summary>
    internal static bool RunsBySource(TestCaseDto test) =>
        !test.Properties.Any(p =>
            (p.Id == "TestObject.Traits" && p.Pairs?.Any(t => string.Equals(t.Key, "Explicit", StringComparison.OrdinalIgnoreCase)) == true)
            || (p.Id.EndsWith(".Explicit", StringComparison.OrdinalIgnoreCase) && string.Equals(p.Value, "True", StringComparison.OrdinalIgnoreCase)));
}
