namespace Sandbox.TestAdapter.Tests;

/// <summary>Which test assembly a warm start is for: only one that is certain (the end-to-end tests run it).</summary>
public sealed class WarmAgentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("warm-agent-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Touch(params string[] names)
    {
        foreach (var name in names)
        {
            File.WriteAllText(Path.Combine(_dir, name), "");
        }
    }

    [Fact]
    public void The_one_assembly_with_a_manifest_is_the_source()
    {
        Touch("Tests.sandbox.json", "Tests.dll", "Sandbox.TestAdapter.dll", "xunit.core.dll");
        Assert.Equal(Path.Combine(_dir, "Tests.dll"), WarmAgent.SourceIn(_dir));
    }

    [Fact]
    public void No_manifest_two_manifests_or_a_manifest_without_its_assembly_is_no_source()
    {
        Touch("Tests.dll");
        Assert.Null(WarmAgent.SourceIn(_dir));
        Touch("Tests.sandbox.json", "Other.sandbox.json", "Other.dll");
        Assert.Null(WarmAgent.SourceIn(_dir));
        File.Delete(Path.Combine(_dir, "Other.sandbox.json"));
        File.Delete(Path.Combine(_dir, "Tests.dll"));
        Assert.Null(WarmAgent.SourceIn(_dir));
    }
}
