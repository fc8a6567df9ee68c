using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAdapter;

/// <summary>
/// How the groups of one test assembly run (class and test isolation, the rest of a crashed sandbox, a test run again
/// alone): the tests discovered for it, and the request that runs some of them in a sandbox. A group runs by
/// sources with its selection (<see cref="TestSelection"/>), which the agent hands the framework as a filter (NUnit:
/// as an NUnit filter in the runsettings, <see cref="NUnitSelection"/>), so the framework runs it as a plain `dotnet
/// test` would: its own test ids, explicit tests not run, its messages. NUnit with a filter of the user's is the
/// exception (<see cref="RunsTestCases"/>): its groups run as runs of test cases.
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

    /// <summary>The plan of a run by sources: by sources, unless the discovered tests are NUnit's and
    /// <see cref="RunsTestCases"/> says so.</summary>
    public static GroupPlan ForSources(string source, string? settingsXml, string? filter, List<TestCaseDto> discovered) =>
        new(source, settingsXml, filter, discovered, !RunsTestCases(settingsXml, filter, discovered));

    public bool BySources { get; }

    /// <summary>
    /// The discovered tests the groups run. By sources, all of them: the framework decides about explicit tests as it
    /// does without Sandbox. As runs of test cases (NUnit with a filter of the user's), what NUnit3TestAdapter runs
    /// in a plain run with a filter (measured, 5.2.0): the tests the filter selects less the explicit ones, which it
    /// does not report at all, unless every test it selects is explicit: then all of them (an "explicit run").
    /// </summary>
    public IEnumerable<TestCaseDto> Runnable =>
        BySources || (UserFiltered && _discovered.All(d => !RunsBySource(d))) ? _discovered : _discovered.Where(RunsBySource);

    /// <summary>Whether the user gave a filter: a `--filter`, or a Where for NUnit.</summary>
    private bool UserFiltered => !string.IsNullOrEmpty(_filter) || NUnitSelection.HasWhere(_settingsXml);

    /// <summary>
    /// The discovered tests the groups leave out that the caller reports not run (a result without an outcome): those
    /// a plain run reports without running them. With a filter of the user's (a `--filter`, a Where), NUnit3TestAdapter
    /// reports nothing for the explicit tests it leaves out (measured, 5.2.0); without one, it skips them with their
    /// reason, which only a run by sources gives (the groups of NUnit tests whose fully qualified names repeat).
    /// </summary>
    public IEnumerable<TestCaseDto> ReportedNotRun =>
        BySources || UserFiltered ? [] : _discovered.Except(Runnable);

    /// <summary>
    /// Whether NUnit's groups must run as runs of test cases. NUnit3TestAdapter (5.2.0) keeps to no filter the agent
    /// evaluates, so a group of NUnit tests runs by sources with an NUnit filter in the runsettings instead
    /// (<see cref="NUnitSelection"/>). That filter is ignored when there is a VSTest filter (the user's `--filter`
    /// wins), would change what a Where of the user's means, and names tests by their fully qualified names, which
    /// must then be NUnit's full names, one per test (UseParentFQNForParametrizedTests gives a test case its
    /// method's). In those cases the groups run as runs of test cases, as NUnit would run the user's filter.
    /// </summary>
    public static bool RunsTestCases(string? settingsXml, string? filter, IReadOnlyCollection<TestCaseDto> discovered) =>
        discovered.Any(d => NUnitSelection.IsNUnit(d.ExecutorUri))
        && (!string.IsNullOrEmpty(filter) || NUnitSelection.HasWhere(settingsXml)
            || discovered.Select(d => d.FullyQualifiedName).Distinct(StringComparer.Ordinal).Count() != discovered.Count);

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
