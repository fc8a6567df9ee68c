using System.Text.Json;
using Sandbox.Fuzzing;
using Sandbox.Oci;

namespace Sandbox.Seccomp.Tests;

/// <summary>Mutated seccomp profile files go through `--seccomp PATH`'s path: read, parse, compile. Only SandboxException may come out.</summary>
[Collection(FuzzCollection.Name)]
public sealed class ProfileFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-seccomp-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static IReadOnlyList<(string Name, string Text)> Seeds() =>
    [
        ("default", JsonSerializer.Serialize(BuiltInProfiles.Get("default")!, OciSeccompJsonContext.Default.OciSeccomp)),
        ("hermetic", JsonSerializer.Serialize(BuiltInProfiles.Get("hermetic")!, OciSeccompJsonContext.Default.OciSeccomp)),
        ("seccomp-notify.json", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fuzzing/seeds/seccomp-notify.json"))),
    ];

    [Fact]
    public void Mutated_profiles_only_ever_give_SandboxException()
    {
        var file = Path.Combine(_dir, "profile.json");
        var result = Fuzz.Run("seccomp", Fuzz.Count(600, 0.25), 7_000_000, Seeds(), (seed, text) => new JsonMutator(seed).Mutate(text), input =>
        {
            File.WriteAllBytes(file, input);
            if (BuiltInProfiles.Resolve(file) is { } profile)
            {
                try
                {
                    SeccompCompiler.Compile(profile);
                }
                finally
                {
                    SeccompCompiler.Compile(profile, "$", record: true);
                }
            }
        }, e => e is SandboxException);
        Assert.True(result.Failures.Count == 0, result.Describe());
    }
}
