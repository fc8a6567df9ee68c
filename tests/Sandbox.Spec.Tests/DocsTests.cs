using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sandbox.Spec.Tests;

/// <summary>The documentation, the schema and the sample stay true to the parser.</summary>
public sealed partial class DocsTests
{
    private static readonly string SampleSpec = RepoFiles.PathOf("samples/spec/sandbox.yaml");

    [Fact]
    public void The_sample_spec_parses()
    {
        var spec = SpecParser.Load(SampleSpec);

        Assert.Equal(RepoFiles.PathOf("samples/spec/data"), spec.Mounts.Single().HostPath);
        Assert.Equal(BaseImage.Dotnet, spec.Base);
    }

    public static TheoryData<int, string> CompleteExamples()
    {
        var data = new TheoryData<int, string>();
        var index = 0;
        foreach (Match match in CompleteExample().Matches(File.ReadAllText(RepoFiles.PathOf("docs/sandbox-yaml.md"))))
        {
            data.Add(index++, match.Groups["yaml"].Value);
        }

        return data;
    }

    // The page says its complete examples are checked as if they sat in samples/spec/, beside its data/ directory.
    [Theory]
    [MemberData(nameof(CompleteExamples))]
    public void Every_complete_example_in_the_docs_parses(int index, string yaml)
    {
        var spec = SpecParser.Parse(yaml, SampleSpec);

        Assert.True(index >= 0);
        Assert.Equal(SandboxSpec.CurrentVersion, spec.Version);
    }

    [Fact]
    public void The_docs_have_complete_examples() => Assert.True(CompleteExamples().Count >= 2);

    [Fact]
    public void The_schema_is_draft_2020_12_and_closed_at_the_top()
    {
        using var schema = LoadSchema();
        var root = schema.RootElement;

        Assert.Equal("https://json-schema.org/draft/2020-12/schema", root.GetProperty("$schema").GetString());
        Assert.False(root.GetProperty("additionalProperties").GetBoolean());
        Assert.Equal(["version"], root.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void The_schema_lists_every_top_level_key_the_parser_accepts()
    {
        using var schema = LoadSchema();

        Assert.Equal(SpecKeys.Root.Order(), Keys(schema.RootElement).Order());
    }

    [Theory]
    [InlineData("user", false)]
    [InlineData("env", false)]
    [InlineData("mounts", true)]
    [InlineData("tmpfs", true)]
    [InlineData("files", true)]
    [InlineData("etc", false)]
    [InlineData("limits", false)]
    [InlineData("build", false)]
    [InlineData("test", false)]
    public void The_schema_lists_the_keys_of_each_section_and_refuses_others(string section, bool isList)
    {
        using var schema = LoadSchema();
        var node = schema.RootElement.GetProperty("properties").GetProperty(section);
        if (isList)
        {
            node = node.GetProperty("items");
        }

        var expected = section switch
        {
            "user" => SpecKeys.User,
            "env" => SpecKeys.Env,
            "mounts" => SpecKeys.Mount,
            "tmpfs" => SpecKeys.Tmpfs,
            "files" => SpecKeys.File,
            "etc" => SpecKeys.Etc,
            "limits" => SpecKeys.Limits,
            "test" => SpecKeys.Test,
            _ => SpecKeys.Build,
        };
        Assert.Equal(expected.Order(), Keys(node).Order());
        Assert.False(node.GetProperty("additionalProperties").GetBoolean());
    }

    [Fact]
    public void The_schema_knows_the_same_capabilities_and_choices_as_the_parser()
    {
        using var schema = LoadSchema();
        var properties = schema.RootElement.GetProperty("properties");

        Assert.Equal(Oci.LinuxNames.Capabilities, Enum(properties.GetProperty("capabilities").GetProperty("items")));
        Assert.Equal(SpecKeys.Bases.Select(b => b.Key), Enum(properties.GetProperty("base")));
        Assert.Equal(SpecKeys.Networks.Select(n => n.Key), Enum(properties.GetProperty("network")));
        Assert.Equal(SpecKeys.SeccompProfiles, Enum(properties.GetProperty("seccomp").GetProperty("anyOf")[0]));
        Assert.Equal(SpecKeys.Isolations.Select(i => i.Key), Enum(properties.GetProperty("test").GetProperty("properties").GetProperty("isolation")));
    }

    public static TheoryData<string> Codes()
    {
        var data = new TheoryData<string>();
        foreach (var code in AllCodes())
        {
            data.Add(code);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Codes))]
    public void Every_code_is_documented_in_both_pages(string code)
    {
        var errors = File.ReadAllText(RepoFiles.PathOf("docs/errors.md"));
        var section = errors[errors.IndexOf("## sandbox.yaml (SBX4xxx)", StringComparison.Ordinal)..];

        Assert.Contains($"| {code} |", section, StringComparison.Ordinal);
        Assert.Contains($"| {code} |", File.ReadAllText(RepoFiles.PathOf("docs/sandbox-yaml.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void Codes_are_distinct_and_in_the_spec_range()
    {
        var codes = AllCodes();

        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(codes, code => Assert.Matches("^SBX40[0-9][0-9]$", code));
    }

    private static List<string> AllCodes() =>
        typeof(SpecErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();

    private static JsonDocument LoadSchema() => JsonDocument.Parse(File.ReadAllText(RepoFiles.PathOf("docs/sandbox.schema.json")));

    private static IEnumerable<string> Keys(JsonElement objectSchema) =>
        objectSchema.GetProperty("properties").EnumerateObject().Select(p => p.Name);

    private static IEnumerable<string?> Enum(JsonElement schema) =>
        schema.GetProperty("enum").EnumerateArray().Select(e => e.GetString());

    [GeneratedRegex(@"<!-- complete example -->\r?\n```yaml\r?\n(?<yaml>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CompleteExample();
}
