using Xunit;
using Xunit.Abstractions;

namespace HermeticTests;

/// <summary>What a test may write: its private /tmp and the output directory (a copy-on-write layer of its own); nothing else.</summary>
public class FileSystem(ITestOutputHelper output)
{
    [Fact]
    public void Writing_outside_tmp_and_the_output_directory_is_refused()
    {
        // As root and unsandboxed this write succeeds (and the test removes the file and fails).
        const string path = "/hermetic-tests-probe.txt";
        var refused = Record.Exception(() => File.WriteAllText(path, "written by HermeticTests"));
        if (refused is null)
        {
            File.Delete(path);
        }
        Assert.True(refused is IOException or UnauthorizedAccessException, $"writing {path} was allowed");
        output.WriteLine($"writing {path}: {refused.GetType().Name}: {refused.Message}");
    }

    [Fact]
    public void Tmp_is_writable()
    {
        var path = Path.Combine(Path.GetTempPath(), "hermetic-tests.txt");
        File.WriteAllText(path, "x");
        Assert.Equal("x", File.ReadAllText(path));
    }

    [Fact]
    public void Writes_beside_the_assembly_stay_in_the_sandbox()
    {
        // Allowed, into the sandbox's own layer over the output directory: the host's directory never gets the file.
        var path = Path.Combine(AppContext.BaseDirectory, "written-in-the-sandbox.txt");
        File.WriteAllText(path, "x");
        Assert.Equal("x", File.ReadAllText(path));
    }

    [Fact]
    public void Files_the_build_put_beside_the_assembly_can_be_overwritten()
    {
        // The build (root, in CI) owns fixtures/: the sandbox's user may still change it, as unsandboxed, in its copy.
        var fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures");
        Assert.Equal("written by the build", File.ReadAllText(Path.Combine(fixtures, "greeting.txt")).Trim());
        File.WriteAllText(Path.Combine(fixtures, "greeting.txt"), "overwritten in the sandbox");
        File.WriteAllText(Path.Combine(fixtures, "added-in-the-sandbox.txt"), "x");
        Assert.Equal("overwritten in the sandbox", File.ReadAllText(Path.Combine(fixtures, "greeting.txt")));
    }
}
