using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Sandbox.TestAdapter.Protocol;
using Sandbox.TestAgent;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// How a group's run by sources picks its tests (TestSelection, the agent's filter): every test case the framework's
/// run by sources reports runs in exactly one group, whether its id is the discovered one or not, and whether it is
/// one discovered row or stands for several.
/// </summary>
public sealed class TestSelectionTests
{
    private static TestCaseDto Discovered(string fqn, string displayName) =>
        new() { Id = Guid.NewGuid(), FullyQualifiedName = fqn, DisplayName = displayName, ExecutorUri = "executor://x", Source = "/o/p.dll" };

    /// <summary>A class with a fact and a theory of three rows, and another class.</summary>
    private static readonly List<TestCaseDto> Suite =
    [
        Discovered("N.C.Fact", "N.C.Fact"),
        Discovered("N.C.Rows", "N.C.Rows(n: 1)"),
        Discovered("N.C.Rows", "N.C.Rows(n: 2)"),
        Discovered("N.C.Rows", "N.C.Rows(n: 3)"),
        Discovered("N.D.Other", "N.D.Other"),
    ];

    /// <summary>Test isolation: one group per discovered test.</summary>
    private static List<TestSelection> OnePerTest() =>
        [.. Suite.Select(d => new TestSelection(TestSelection.For(new HashSet<Guid> { d.Id }, Suite)))];

    /// <summary>Class isolation: one group per class.</summary>
    private static List<TestSelection> OnePerClass() =>
        [.. Suite.GroupBy(d => d.FullyQualifiedName[..d.FullyQualifiedName.LastIndexOf('.')])
            .Select(g => new TestSelection(TestSelection.For(g.Select(d => d.Id).ToHashSet(), Suite)))];

    private static List<int> GroupsRunning(List<TestSelection> groups, Guid id, string fqn, string displayName) =>
        [.. groups.Select((g, i) => (g, i)).Where(x => x.g.Accepts(id, fqn, displayName)).Select(x => x.i)];

    [Fact]
    public void With_the_discovered_ids_each_row_runs_in_its_own_group_and_only_there()
    {
        var groups = OnePerTest();
        for (var i = 0; i < Suite.Count; i++)
        {
            Assert.Equal([i], GroupsRunning(groups, Suite[i].Id, Suite[i].FullyQualifiedName, Suite[i].DisplayName));
        }
    }

    [Fact]
    public void With_ids_of_its_own_the_run_by_sources_is_matched_by_names()
    {
        foreach (var groups in new[] { OnePerTest(), OnePerClass() })
        {
            var runs = Suite.Select(d => GroupsRunning(groups, Guid.NewGuid(), d.FullyQualifiedName, d.DisplayName)).ToList();
            Assert.All(runs, r => Assert.Single(r));
            // A row's group is the one its discovered test is in.
            Assert.Equal(groups.Count, runs.Select(r => r[0]).Distinct().Count());
        }
    }

    [Fact]
    public void A_test_case_that_stands_for_several_rows_runs_once_in_the_group_of_the_first()
    {
        // A theory the run by sources did not enumerate: one test case, its display name no row's.
        var groups = OnePerTest();
        Assert.Equal([1], GroupsRunning(groups, Guid.NewGuid(), "N.C.Rows", "N.C.Rows"));
        var all = new TestSelection(Suite.Select(d => new SelectedTest(d.Id, d.FullyQualifiedName, d.DisplayName, true)));
        Assert.Equal(Suite.Skip(1).Take(3).Select(d => d.Id), all.StandsFor(Guid.NewGuid(), "N.C.Rows", "N.C.Rows").Select(t => t.Id));
        Assert.Equal([Suite[2].Id], all.StandsFor(Guid.NewGuid(), "N.C.Rows", "N.C.Rows(n: 2)").Select(t => t.Id));
    }

    [Fact]
    public void A_test_case_nothing_discovered_has_the_name_of_runs_nowhere()
    {
        Assert.Empty(GroupsRunning(OnePerTest(), Guid.NewGuid(), "N.C.Filtered_out", "N.C.Filtered_out"));
        Assert.Empty(GroupsRunning(OnePerClass(), Suite[0].Id, "N.C.Renamed", "N.C.Renamed"));
    }

    [Fact]
    public void A_groups_selection_names_its_tests_and_the_others_sharing_their_names_only()
    {
        var selection = TestSelection.For(new HashSet<Guid> { Suite[2].Id }, Suite);
        Assert.Equal(Suite.Skip(1).Take(3).Select(d => d.Id), selection.Select(s => s.Id));
        Assert.Equal([false, true, false], selection.Select(s => s.Member));
    }

    private static TestCase Case(TestCaseDto d, Guid? id = null)
    {
        var t = new TestCase(d.FullyQualifiedName, new Uri("executor://x"), d.Source) { DisplayName = d.DisplayName };
        t.Id = id ?? d.Id;
        return t;
    }

    [Fact]
    public void The_agents_filter_is_the_users_filter_and_the_selection()
    {
        var selection = TestSelection.For(new HashSet<Guid> { Suite[0].Id, Suite[1].Id }, Suite);
        var context = new AgentRunContext(null, "DisplayName!=N.C.Fact", "/tmp", selection);
        var filter = context.GetTestCaseFilter(["FullyQualifiedName", "DisplayName"], _ => null)!;
        object? Provider(TestCase t, string name) => name == "DisplayName" ? t.DisplayName : name == "FullyQualifiedName" ? t.FullyQualifiedName : null;
        Assert.Equal([false, true, false, false, false], Suite.Select(d => filter.MatchTestCase(Case(d), n => Provider(Case(d), n))));
        Assert.NotEmpty(filter.TestCaseFilterValue);
        // Without a selection, the user's filter alone, as testhost would hand it over.
        var plain = new AgentRunContext(null, "DisplayName!=N.C.Fact", "/tmp").GetTestCaseFilter(null, _ => null)!;
        Assert.Equal("DisplayName!=N.C.Fact", plain.TestCaseFilterValue);
        Assert.Null(new AgentRunContext(null, null, "/tmp").GetTestCaseFilter(null, _ => null));
    }

    private static TestCaseDto NUnitTest(string fqn, bool isExplicit = false) => new()
    {
        Id = Guid.NewGuid(), FullyQualifiedName = fqn, DisplayName = fqn[(fqn.LastIndexOf('.', fqn.IndexOf('(') < 0 ? fqn.Length - 1 : fqn.IndexOf('(')) + 1)..],
        ExecutorUri = "executor://NUnit3TestExecutor", Source = "/o/p.dll",
        Properties = isExplicit ? [new PropertyDto { Id = "TestObject.Traits", Kind = "pairs", Pairs = [new("Explicit", "")] }] : [],
    };

    private static readonly List<TestCaseDto> NUnitSuite = [NUnitTest("N.C.Passes"), NUnitTest("N.C.Cases(1)"), NUnitTest("N.C.Asked", isExplicit: true)];

    [Fact]
    public void An_nunit_groups_filter_names_its_tests_through_two_negations_and_a_category_no_test_has()
    {
        Assert.Equal("!(!(test == \"N.C.A\" || test == \"N.C.B(1)\")) && cat != \"Sandbox: no test has this category\"", NUnitSelection.Where(["N.C.A", "N.C.B(1)"]));
        // NUnit's selection language: a backslash before each backslash and double quote inside a quoted string.
        Assert.Equal("\"N.C.Q(\\\"x\\\\\\\"y) || z\\\")\"", NUnitSelection.Quote("N.C.Q(\"x\\\"y) || z\")"));
    }

    [Fact]
    public void An_nunit_groups_runsettings_carry_its_filter_beside_the_users_settings()
    {
        var xml = NUnitSelection.WithWhere("<RunSettings><NUnit><NumberOfTestWorkers>1</NumberOfTestWorkers><Where>cat == Old</Where></NUnit><Sandbox><Isolation>class</Isolation></Sandbox></RunSettings>", "test == \"a<b\"");
        var doc = System.Xml.Linq.XDocument.Parse(xml);
        Assert.Equal("test == \"a<b\"", doc.Root!.Element("NUnit")!.Element("Where")!.Value);
        Assert.Equal("1", doc.Root.Element("NUnit")!.Element("NumberOfTestWorkers")!.Value);
        Assert.Equal("class", doc.Root.Element("Sandbox")!.Element("Isolation")!.Value);
        Assert.Single(doc.Root.Element("NUnit")!.Elements("Where"));
        Assert.Equal("x", System.Xml.Linq.XDocument.Parse(NUnitSelection.WithWhere(null, "x")).Root!.Element("NUnit")!.Element("Where")!.Value);
        Assert.Equal("x", System.Xml.Linq.XDocument.Parse(NUnitSelection.WithWhere("<RunSettings />", "x")).Root!.Element("NUnit")!.Element("Where")!.Value);
        Assert.True(NUnitSelection.HasWhere(xml));
        Assert.False(NUnitSelection.HasWhere("<RunSettings><NUnit><Where> </Where></NUnit></RunSettings>"));
        Assert.False(NUnitSelection.HasWhere(null));
    }

    [Fact]
    public void Nunit_groups_run_by_sources_with_explicit_tests_unless_a_filter_of_the_users_or_a_shared_name_makes_them_runs_of_test_cases()
    {
        var bySources = GroupPlan.ForSources("/o/p.dll", null, null, NUnitSuite);
        Assert.True(bySources.BySources);
        Assert.Equal(NUnitSuite, bySources.Runnable);
        Assert.Empty(bySources.ReportedNotRun);
        // A `--filter`: explicit tests left out and not reported, as NUnit3TestAdapter does with a filter.
        var filtered = GroupPlan.ForSources("/o/p.dll", null, "FullyQualifiedName~N.C", NUnitSuite);
        Assert.False(filtered.BySources);
        Assert.Equal(NUnitSuite.Take(2), filtered.Runnable);
        Assert.Empty(filtered.ReportedNotRun);
        // ... unless every test it selects is explicit: then NUnit runs them.
        Assert.Equal(NUnitSuite.Skip(2), GroupPlan.ForSources("/o/p.dll", null, "Name=Asked", NUnitSuite.Skip(2).ToList()).Runnable);
        // A Where of the user's.
        Assert.False(GroupPlan.ForSources("/o/p.dll", "<RunSettings><NUnit><Where>cat == A</Where></NUnit></RunSettings>", null, NUnitSuite).BySources);
        // Names a Where cannot tell apart (UseParentFQNForParametrizedTests): explicit tests reported without an outcome.
        List<TestCaseDto> parentNames = [NUnitTest("N.C.Cases"), NUnitTest("N.C.Cases"), NUnitTest("N.C.Asked", isExplicit: true)];
        var shared = GroupPlan.ForSources("/o/p.dll", null, null, parentNames);
        Assert.False(shared.BySources);
        Assert.Equal(parentNames.Skip(2), shared.ReportedNotRun);
        // ... and never run, even when they are all there is: without a filter NUnit runs no explicit test.
        Assert.Empty(GroupPlan.ForSources("/o/p.dll", null, null, [NUnitTest("N.C.Asked", isExplicit: true), NUnitTest("N.C.Asked", isExplicit: true)]).Runnable);
        // Other frameworks: by sources whatever the filter.
        Assert.True(GroupPlan.ForSources("/o/p.dll", null, "FullyQualifiedName~N.C", Suite).BySources);
    }

    [Fact]
    public void A_users_filter_picks_the_nunit_tests_the_groups_run_as_nunit3testadapter_would_evaluate_it()
    {
        var slow = NUnitTest("N.D.Slow") with { Properties = [new PropertyDto { Id = "NUnit.TestCategory", Label = "TestCategory", Kind = "string[]", Values = ["Slow", "Db"] }] };
        List<TestCaseDto> suite = [.. NUnitSuite, slow];
        List<TestCaseDto> Picked(string? filter) => NUnitDiscoveryFilter.Apply(suite, new AgentRunContext(null, filter, "/tmp"));
        Assert.Equal(suite, Picked(null));
        Assert.Equal([NUnitSuite[0], NUnitSuite[1], NUnitSuite[2]], Picked("FullyQualifiedName~N.C."));
        Assert.Equal([slow], Picked("TestCategory=Db"));
        Assert.Equal([NUnitSuite[0], slow], Picked("Name=Passes|Category=Slow"));
        // Other frameworks' discoverers apply the filter themselves: their tests are left as they are.
        Assert.Equal(Suite, NUnitDiscoveryFilter.Apply(Suite, new AgentRunContext(null, "FullyQualifiedName~N.D", "/tmp")));
    }
}
