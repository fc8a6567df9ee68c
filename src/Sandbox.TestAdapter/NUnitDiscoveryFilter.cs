using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Adapter;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAdapter;

/// <summary>
/// The user's `--filter` applied to the tests NUnit3TestAdapter discovered. Its discoverer (5.2.0) ignores the filter
/// (it applies it only when it runs tests), so the groups of a filtered NUnit run, which run as runs of test cases
/// (<see cref="GroupPlan.RunsTestCases"/>), would otherwise run tests the filter leaves out (measured). The filter is
/// evaluated as NUnit3TestAdapter evaluates it with UseNUnitFilter false (its VsTestFilter): vstest's filter engine,
/// with the properties FullyQualifiedName, Name (the display name), TestCategory and Category (NUnit's categories),
/// and Priority (a trait). NUnit's own parser of the filter (UseNUnitFilter true, the default) means the same for
/// these properties and operators.
/// </summary>
internal static class NUnitDiscoveryFilter
{
    private static readonly string[] Supported = ["FullyQualifiedName", "Name", "TestCategory", "Category", "Priority"];

    private static readonly TestProperty Category =
        TestProperty.Find("TestCategory") ?? TestProperty.Register("TestCategory", "TestCategory", typeof(string[]), typeof(TestCase));

    private static readonly TestProperty Priority =
        TestProperty.Find("Priority") ?? TestProperty.Register("Priority", "Priority", typeof(string), typeof(TestCase));

    /// <summary>
    /// The discovered tests the user's filter selects, when they are NUnit's and there is a filter; otherwise
    /// <paramref name="discovered"/>. Throws vstest's TestPlatformFormatException for a filter it cannot use, as
    /// NUnit3TestAdapter would.
    /// </summary>
    public static List<TestCaseDto> Apply(List<TestCaseDto> discovered, IRunContext? runContext)
    {
        if (!discovered.Any(d => NUnitSelection.IsNUnit(d.ExecutorUri))
            || runContext?.GetTestCaseFilter(Supported, PropertyOf) is not { TestCaseFilterValue.Length: > 0 } filter)
        {
            return discovered;
        }
        return [.. discovered.Where(d =>
        {
            var test = TestObjectMapper.FromDto(d);
            return filter.MatchTestCase(test, name => Value(test, name));
        })];
    }

    private static TestProperty? PropertyOf(string name) => name.ToUpperInvariant() switch
    {
        "FULLYQUALIFIEDNAME" => TestCaseProperties.FullyQualifiedName,
        "NAME" => TestCaseProperties.DisplayName,
        "TESTCATEGORY" or "CATEGORY" => Category,
        "PRIORITY" => Priority,
        _ => null,
    };

    /// <summary>A string, an array of strings for several values, or null when the test has none.</summary>
    internal static object? Value(TestCase test, string name)
    {
        switch (name.ToUpperInvariant())
        {
            case "FULLYQUALIFIEDNAME":
                return test.FullyQualifiedName;
            case "NAME":
                return test.DisplayName;
            case "TESTCATEGORY" or "CATEGORY":
                if (test.Properties.FirstOrDefault(p => p.Id == "NUnit.TestCategory") is { } categories
                    && test.GetPropertyValue(categories) is string[] { Length: > 0 } values)
                {
                    return values.Length == 1 ? values[0] : values;
                }
                return Traits(test, "Category");
            case "PRIORITY":
                return Traits(test, "Priority");
            default:
                return null;
        }
    }

    private static object? Traits(TestCase test, string trait)
    {
        var values = test.Traits.Where(t => t.Name == trait).Select(t => t.Value).ToArray();
        return values.Length switch { 0 => null, 1 => values[0], _ => values };
    }
}
