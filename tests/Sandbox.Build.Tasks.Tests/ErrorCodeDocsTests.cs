namespace Sandbox.Build.Tasks.Tests;

public class ErrorCodeDocsTests
{
    [Fact]
    public void Codes_are_distinct_and_in_the_range_of_the_msbuild_package() =>
        ErrorCodeDocs.AssertDistinctAndInRange(typeof(TaskErrorCodes), "^SBX50(0[1-9]|1[0-9])$");

    [Fact]
    public void Every_code_is_documented_in_errors_md_and_msbuild_md() =>
        ErrorCodeDocs.AssertDocumented(typeof(TaskErrorCodes), DefaultSpecTests.RepoRoot, "## The MSBuild package (SBX50xx)", "docs/msbuild.md");
}
