using System.Reflection;

namespace Sandbox.Build.Tasks.Tests;

public class ErrorCodeDocsTests
{
    private static List<string> AllCodes() =>
        typeof(TaskErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetRawConstantValue()!).ToList();

    [Fact]
    public void Codes_are_distinct_and_in_the_range_of_the_msbuild_package()
    {
        var codes = AllCodes();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(codes, code => Assert.Matches("^SBX50(0[1-9]|1[0-9])$", code));
    }

    [Fact]
    public void Every_code_is_documented_in_errors_md_and_msbuild_md()
    {
        var errors = File.ReadAllText(Path.Combine(DefaultSpecTests.RepoRoot, "docs/errors.md"));
        var section = errors[errors.IndexOf("## The MSBuild package (SBX50xx)", StringComparison.Ordinal)..];
        var msbuild = File.ReadAllText(Path.Combine(DefaultSpecTests.RepoRoot, "docs/msbuild.md"));
        Assert.All(AllCodes(), code =>
        {
            Assert.Contains($"| {code} |", section, StringComparison.Ordinal);
            Assert.Contains($"| {code} |", msbuild, StringComparison.Ordinal);
        });
    }
}
