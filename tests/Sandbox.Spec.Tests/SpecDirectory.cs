namespace Sandbox.Spec.Tests;

/// <summary>
/// A temporary directory standing in for the one a sandbox.yaml lives in, holding the host paths the test specs name:
/// a data/ directory, a config.json file and a profile.json seccomp profile.
/// </summary>
public sealed class SpecDirectory : IDisposable
{
    public SpecDirectory()
    {
        Root = Directory.CreateTempSubdirectory("sandbox-spec-tests-").FullName;
        Directory.CreateDirectory(Path.Combine(Root, "data"));
        File.WriteAllText(Path.Combine(Root, "config.json"), "{}");
        File.WriteAllText(Path.Combine(Root, "profile.json"), """{ "defaultAction": "SCMP_ACT_ERRNO" }""");
    }

    public string Root { get; }

    /// <summary>Where the spec under test pretends to be; relative host paths resolve against <see cref="Root"/>.</summary>
    public string SpecPath => Path.Combine(Root, "sandbox.yaml");

    public SandboxSpec Parse(string yaml) => SpecParser.Parse(yaml, SpecPath);

    public IReadOnlyList<SpecError> Errors(string yaml) => Assert.Throws<SpecException>(() => Parse(yaml)).Errors;

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
