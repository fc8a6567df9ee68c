// Which tests a sandbox of `class` or `test` isolation runs. The group runs by sources, as a plain `dotnet test`
// does, so that each framework keeps its own by-source behaviour (xunit v3's test ids, explicit tests, NUnit's
// reasons); the agent's run context hands the framework a filter that accepts the group's tests. Compiled into both
// assemblies: the agent decides with it which test cases of the run by sources are the group's, the adapter which
// discovered test a reported test case stands for (crash attribution, the rest of a crashed sandbox).
namespace Sandbox.TestAdapter.Protocol;

/// <summary>
/// A discovered test, as a group's selection names it: <see cref="Member"/> when it is one of the group's tests,
/// otherwise a test of another group that shares a fully qualified name with one of the group's (theory rows, data
/// rows, parameterized cases), which the group needs to tell its own test cases from theirs.
/// </summary>
internal sealed record SelectedTest(Guid Id, string FullyQualifiedName, string DisplayName, bool Member);

/// <summary>
/// The discovered tests of a selection, and which of them a test case of a run by sources stands for. The run by
/// sources need not report the ids discovery did (xunit v3's differ), nor one test case per discovered row (a
/// theory it does not enumerate is one test case), so a test case stands for the discovered test with its id, else
/// the first with its fully qualified and display names, else every discovered test with its fully qualified name
/// (and runs in the group of the first). Each group decides alone, from the tests sharing its tests' names, and every
/// group decides the same way: so every test case of the run by sources runs in exactly one group.
/// </summary>
internal sealed class TestSelection
{
    private readonly Dictionary<string, List<SelectedTest>> _byName = new(StringComparer.Ordinal);

    public TestSelection(IEnumerable<SelectedTest> tests)
    {
        foreach (var test in tests)
        {
            if (!_byName.TryGetValue(test.FullyQualifiedName, out var list))
            {
                _byName[test.FullyQualifiedName] = list = [];
            }
            list.Add(test);
        }
    }

    /// <summary>The discovered tests a test case of the run by sources stands for, the one whose group runs it
    /// first; empty when nothing discovered has its name.</summary>
    public IReadOnlyList<SelectedTest> StandsFor(Guid id, string fullyQualifiedName, string displayName)
    {
        if (!_byName.TryGetValue(fullyQualifiedName, out var named))
        {
            return [];
        }
        if (named.Find(t => t.Id == id) is { } same)
        {
            return [same];
        }
        if (named.Find(t => string.Equals(t.DisplayName, displayName, StringComparison.Ordinal)) is { } alike)
        {
            return [alike];
        }
        return named;
    }

    /// <summary>Whether the group runs this test case of the run by sources.</summary>
    public bool Accepts(Guid id, string fullyQualifiedName, string displayName) =>
        StandsFor(id, fullyQualifiedName, displayName) is [{ Member: true }, ..];

    /// <summary>
    /// The selection of a group of <paramref name="discovered"/> tests: its members, and the other tests that share a
    /// fully qualified name with them, in the order of discovery (which decides the group of a test case that stands
    /// for several).
    /// </summary>
    public static List<SelectedTest> For(IReadOnlySet<Guid> members, IEnumerable<TestCaseDto> discovered)
    {
        var all = discovered.ToList();
        var names = all.Where(d => members.Contains(d.Id)).Select(d => d.FullyQualifiedName).ToHashSet(StringComparer.Ordinal);
        return [.. all.Where(d => names.Contains(d.FullyQualifiedName)).Select(d => new SelectedTest(d.Id, d.FullyQualifiedName, d.DisplayName, members.Contains(d.Id)))];
    }
}
