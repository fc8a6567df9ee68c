using Sandbox.Spec;

namespace Sandbox.Build.Tasks.Tests;

public sealed class DefaultSpecTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-default-spec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_default_spec_is_hermetic_and_shows_the_output_directory_read_only_at_its_own_path()
    {
        // A path a plain YAML scalar would misread: a space, '#', ': ' and a quote.
        var output = Directory.CreateDirectory(Path.Combine(_dir, "my app #1: \"out\"", "bin")).FullName;
        var specPath = Path.Combine(_dir, "obj", "sandbox.yaml");
        DefaultSpec.Write(specPath, DefaultSpec.Render(File.ReadAllText(SandboxBuildBundleTests.TemplatePath), output + "/"));

        var spec = SpecParser.Load(specPath);
        Assert.Equal(BaseImage.Dotnet, spec.Base);
        Assert.Equal(output, spec.WorkingDirectory);
        var mount = Assert.Single(spec.Mounts);
        Assert.Equal((output, output, false), (mount.HostPath, mount.ContainerPath, mount.Writable));
        Assert.True(spec.ReadOnlyRoot);
        Assert.Equal(NetworkMode.None, spec.Network);
        Assert.Equal("default", spec.Seccomp);
        var tmp = Assert.Single(spec.Tmpfs);
        Assert.Equal("/tmp", tmp.ContainerPath);
        Assert.Equal(2L << 30, spec.Limits.MemoryBytes);
        Assert.Equal("/tmp", spec.Environment["HOME"]);
        Assert.Equal("UTC", spec.Environment["TZ"]);
        Assert.Equal("C.UTF-8", spec.Environment["LANG"]);
        Assert.Equal(["TERM", "NO_COLOR"], spec.PassEnvironment);
    }

    [Fact]
    public void Writing_the_same_spec_again_leaves_the_file_alone()
    {
        var path = Path.Combine(_dir, "sandbox.yaml");
        DefaultSpec.Write(path, "version: 1\n");
        var stamp = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(path, stamp);
        DefaultSpec.Write(path, "version: 1\n");
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(path));
        DefaultSpec.Write(path, "version: 1\nbase: dotnet\n");
        Assert.NotEqual(stamp, File.GetLastWriteTimeUtc(path));
    }

    [Fact]
    public void Control_characters_and_backslashes_are_escaped()
    {
        Assert.Equal("\"a\\\\b\\x09c\\\"\"", DefaultSpec.QuotedYaml("a\\b\tc\""));
    }

    [Fact]
    public void Docs_show_the_template_as_it_is()
    {
        // docs/msbuild.md shows the default spec; it must be the file the package ships, not a retelling.
        var docs = File.ReadAllText(Path.Combine(RepoRoot, "docs/msbuild.md"));
        var template = File.ReadAllText(SandboxBuildBundleTests.TemplatePath);
        Assert.Contains("```yaml\n" + template + "```", docs, StringComparison.Ordinal);
    }

    internal static string RepoRoot => PackageFixture.RepoRoot;
}
