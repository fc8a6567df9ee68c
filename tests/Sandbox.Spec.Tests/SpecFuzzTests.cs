using Sandbox.Fuzzing;

namespace Sandbox.Spec.Tests;

/// <summary>Mutated sandbox.yaml files (the sample, the docs' complete examples, a test: section) only ever give SpecException.</summary>
[Collection(FuzzCollection.Name)]
public sealed class SpecFuzzTests(SpecDirectory dir) : IClassFixture<SpecDirectory>
{
    private static IReadOnlyList<(string Name, string Text)> Seeds()
    {
        var seeds = new List<(string, string)>
        {
            ("samples/spec/sandbox.yaml", File.ReadAllText(RepoFiles.PathOf("samples/spec/sandbox.yaml"))),
            // A short spec, so that most mutations land in the test: section's lines.
            ("test section", "version: 1\ntest:\n  isolation: class\n  parallel: 4\n  testTimeout: 30s\n  timeout: 10m\n  enabled: true\n  allowUnsandboxed: false\n"),
        };
        var index = 0;
        foreach (var row in DocsTests.CompleteExamples())
        {
            seeds.Add(($"docs/sandbox-yaml.md example {index++}", (string)row[1]));
        }
        return seeds;
    }

    [Fact]
    public void Mutated_specs_only_ever_give_SpecException()
    {
        // The sample's host paths, so that mutations of a valid spec get past the checks of its paths.
        File.WriteAllText(Path.Combine(dir.Root, "data", "README.md"), "seed\n");
        var file = dir.SpecPath;
        var result = Fuzz.Run("sandbox.yaml", Fuzz.Count(2000, 0.5), 5_000_000, Seeds(),
            (seed, text) => System.Text.Encoding.UTF8.GetBytes(new YamlMutator(seed).Mutate(text)), input =>
            {
                File.WriteAllBytes(file, input);
                SpecParser.Load(file);
            }, e => e is SpecException);
        Assert.True(result.Failures.Count == 0, result.Describe());
    }
}
