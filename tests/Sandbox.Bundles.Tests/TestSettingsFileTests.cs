using Sandbox.Oci;
using Sandbox.Spec;

namespace Sandbox.Bundles.Tests;

/// <summary>The `test:` section of sandbox.yaml → the bundle's test.json, which the test adapter reads.</summary>
public sealed class TestSettingsFileTests : IDisposable
{
    private const string Head = "version: 1\nseccomp: unconfined\ncommand: [/bin/true]\nfiles:\n  - { source: app.txt, target: /app/app.txt }\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("test-settings-").FullName;
    private readonly BundleBuilder _builder;

    public TestSettingsFileTests()
    {
        File.WriteAllText(Path.Join(_dir, "app.txt"), "payload\n");
        _builder = new BundleBuilder(Path.Join(_dir, "cache"), 0, 0);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private string SpecPath => Path.Join(_dir, "sandbox.yaml");

    private string Bundle => Path.Join(_dir, "bundle");

    private string TestJson => Path.Join(Bundle, "test.json");

    /// <summary>Writes sandbox.yaml as a user would, loads it and builds it into <see cref="Bundle"/>.</summary>
    private BuiltBundle Build(string yaml)
    {
        File.WriteAllText(SpecPath, yaml);
        return _builder.Build(SpecParser.Load(SpecPath), Bundle);
    }

    // Each row: a test: section and what test.json holds after "source" (the contract the adapter reads).
    [Theory]
    [InlineData("test:\n  isolation: class\n  parallel: 4\n  testTimeout: 30s\n  timeout: 10m\n  enabled: true\n  allowUnsandboxed: false\n",
        "\"isolation\":\"class\",\"parallel\":4,\"testTimeoutMs\":30000,\"timeoutMs\":600000,\"enabled\":true,\"allowUnsandboxed\":false")]
    [InlineData("test: {}\n",
        "\"isolation\":\"assembly\",\"parallel\":0,\"testTimeoutMs\":null,\"timeoutMs\":null,\"enabled\":true,\"allowUnsandboxed\":false")]
    [InlineData("test:\n  isolation: test\n  testTimeout: 0.0004ms\n  timeout: 1h0.0005s\n  enabled: FALSE\n  allowUnsandboxed: true\n",
        "\"isolation\":\"test\",\"parallel\":0,\"testTimeoutMs\":1,\"timeoutMs\":3600001,\"enabled\":false,\"allowUnsandboxed\":true")]
    public void The_section_lands_in_test_json_in_the_agreed_form(string section, string settings)
    {
        Build(Head + section);

        Assert.Equal($$"""{"version":1,"source":"{{SpecPath}}",{{settings}}}""", File.ReadAllText(TestJson));
    }

    [Fact]
    public void A_spec_without_the_section_gets_no_test_json()
    {
        Build(Head);

        Assert.True(File.Exists(Path.Join(Bundle, OciConfigLoader.FileName)));
        Assert.False(File.Exists(TestJson));
    }

    [Fact]
    public void A_change_of_only_the_section_reaches_test_json_without_changing_the_bundle()
    {
        var first = Build(Head + "test:\n  isolation: class\n");
        var config = File.ReadAllText(Path.Join(Bundle, OciConfigLoader.FileName));

        var second = Build(Head + "test:\n  isolation: test\n  parallel: 2\n");

        Assert.True(second.Reused);
        Assert.Equal(first.Digest, second.Digest);
        Assert.Equal(config, File.ReadAllText(Path.Join(Bundle, OciConfigLoader.FileName)));
        Assert.Contains("\"isolation\":\"test\",\"parallel\":2,", File.ReadAllText(TestJson), StringComparison.Ordinal);
    }

    [Fact]
    public void A_reused_bundle_loses_test_json_when_the_section_goes_away()
    {
        var first = Build(Head + "test:\n  parallel: 3\n");
        Assert.True(File.Exists(TestJson));

        var second = Build(Head);

        Assert.True(second.Reused);
        Assert.Equal(first.Digest, second.Digest);
        Assert.False(File.Exists(TestJson));
    }

    [Fact]
    public void A_rebuilt_bundle_gets_the_new_test_json_or_none()
    {
        Build(Head + "test:\n  parallel: 3\n");
        File.WriteAllText(Path.Join(_dir, "app.txt"), "changed\n");

        var rebuilt = Build(Head + "test:\n  parallel: 5\n");

        Assert.False(rebuilt.Reused);
        Assert.Contains("\"parallel\":5,", File.ReadAllText(TestJson), StringComparison.Ordinal);

        File.WriteAllText(Path.Join(_dir, "app.txt"), "changed again\n");
        Assert.False(Build(Head).Reused);
        Assert.False(File.Exists(TestJson));
    }

    [Fact]
    public void Test_json_lies_beside_config_json_never_in_the_rootfs_and_leaves_no_temporary_file()
    {
        Build(Head + "test:\n  timeout: 1m\n");
        Build(Head + "test:\n  timeout: 2m\n");

        Assert.Equal(
            ["config.json", "digest", "rootfs", "rootfs.manifest", "test.json"],
            Directory.EnumerateFileSystemEntries(Bundle).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Join(Bundle, "rootfs"), "*test*", SearchOption.AllDirectories));
        Assert.Contains("\"timeoutMs\":120000,", File.ReadAllText(TestJson), StringComparison.Ordinal);
    }

    [Fact]
    public void A_bundle_built_in_the_cache_gets_no_test_json()
    {
        File.WriteAllText(SpecPath, Head + "test:\n  isolation: class\n");

        var built = _builder.BuildInCache(SpecParser.Load(SpecPath));

        Assert.True(File.Exists(Path.Join(built.Directory, OciConfigLoader.FileName)));
        Assert.False(File.Exists(Path.Join(built.Directory, "test.json")));
    }
}
