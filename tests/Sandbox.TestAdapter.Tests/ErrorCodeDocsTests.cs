using System.Reflection;
using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

public class ErrorCodeDocsTests
{
    private static List<string> AllCodes() =>
        [.. typeof(AdapterErrors).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetRawConstantValue()!)];

    [Fact]
    public void Codes_are_distinct_and_in_the_range_of_the_test_adapter()
    {
        var codes = AllCodes();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(codes, code => Assert.Matches("^SBX50(2[0-9]|3[0-9]|4[0-9])$", code));
    }

    [Fact]
    public void Every_code_is_documented_in_errors_md_and_testing_md()
    {
        var errors = File.ReadAllText(Path.Combine(PackageFixture.RepoRoot, "docs/errors.md"));
        var section = errors[errors.IndexOf("## The test adapter (SBX5020–SBX5049)", StringComparison.Ordinal)..];
        var testing = File.ReadAllText(Path.Combine(PackageFixture.RepoRoot, "docs/testing.md"));
        Assert.All(AllCodes(), code =>
        {
            Assert.Contains($"| {code} |", section, StringComparison.Ordinal);
            Assert.Contains($"| {code} |", testing, StringComparison.Ordinal);
        });
    }
}
