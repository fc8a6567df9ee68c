using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

public class ErrorCodeDocsTests
{
    [Fact]
    public void Codes_are_distinct_and_in_the_range_of_the_test_adapter() =>
        ErrorCodeDocs.AssertDistinctAndInRange(typeof(AdapterErrors), "^SBX50(2[0-9]|3[0-9]|4[0-9])$");

    [Fact]
    public void Every_code_is_documented_in_errors_md_and_testing_md() =>
        ErrorCodeDocs.AssertDocumented(typeof(AdapterErrors), PackageFixture.RepoRoot, "## The test adapter (SBX5020–SBX5049)", "docs/testing.md");
}
