using System.Text;
using Sandbox.Fuzzing;
using Sandbox.Oci;
using Sandbox.Runtime.Cgroups;

namespace Sandbox.Runtime.Tests;

/// <summary>
/// Mutated config.json files go the way `sandbox run` takes them, short of the kernel: parse and validate, pass the
/// environment, plan the container (as root and rootless), resolve the cgroup. Only SandboxException may come out.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class ConfigFuzzTests
{
    internal static IReadOnlyList<(string Name, string Text)> Seeds() =>
    [
        ("samples/hello/config.json", File.ReadAllText(Path.Combine(Fixtures.RepoRoot(), "samples/hello/config.json"))),
        ("sandbox spec", OciConfigLoader.Serialize(DefaultConfig.Create(rootless: false, 0, 0))),
        ("sandbox spec --rootless", OciConfigLoader.Serialize(DefaultConfig.Create(rootless: true, 1000, 1000))),
        ("config-every-field.json", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fuzzing/seeds/config-every-field.json"))),
    ];

    [Fact]
    public void The_seeds_are_valid_so_mutations_reach_the_planner()
    {
        using var bundle = new Fixtures.TempBundle();
        foreach (var (name, text) in Seeds())
        {
            var config = OciConfigLoader.Parse(Encoding.UTF8.GetBytes(text), name);
            ContainerPlanner.Build(config, new LaunchOptions { Id = "seed", Bundle = bundle.Dir }, config.Linux?.Namespaces?.Any(n => n.Type == "user") == true ? Fixtures.User() : Fixtures.Root());
        }
    }

    [Fact]
    public void Mutated_config_json_only_ever_gives_SandboxException()
    {
        using var bundle = new Fixtures.TempBundle();
        var result = Fuzz.Run("config.json", Fuzz.Count(2500, 1.0), 9_000_000, Seeds(),
            (seed, text) => new JsonMutator(seed).Mutate(text), input => Plan(input, bundle.Dir), e => e is SandboxException);
        Assert.True(result.Failures.Count == 0, result.Describe());
    }

    private static void Plan(byte[] input, string bundle)
    {
        var config = SandboxAnnotations.WithPassedEnvironment(OciConfigLoader.Parse(input, "config.json"), Environment.GetEnvironmentVariables);
        var options = new LaunchOptions { Id = "fuzz", Bundle = bundle };
        // Planned both as root and rootless (most configs are for one of them): accepted when either plan is made.
        var asRoot = Refusal(() => ContainerPlanner.Build(config, options, Fixtures.Root()));
        var rootless = Refusal(() => ContainerPlanner.Build(config, options with { Detached = true, NoPivot = true, ReportPath = "/dev/null" }, Fixtures.User()));
        _ = CgroupHost.Limits(config.Linux?.Resources);
        if (config.Linux?.CgroupsPath is { } path)
        {
            CgroupPaths.Resolve("/sys/fs/cgroup", "/sys/fs/cgroup/own", path);
        }
        if (asRoot is not null && rootless is not null)
        {
            throw asRoot;
        }
    }

    private static SandboxException? Refusal(Action plan)
    {
        try
        {
            plan();
            return null;
        }
        catch (SandboxException e)
        {
            return e;
        }
    }
}
