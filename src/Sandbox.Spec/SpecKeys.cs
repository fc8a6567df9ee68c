namespace Sandbox.Spec;

/// <summary>
/// The keys valid at each place of sandbox.yaml and the names allowed for enumerated values. Unknown-key errors,
/// their "did you mean" hints and the schema test (docs/sandbox.schema.json) all read these lists.
/// </summary>
internal static class SpecKeys
{
    public static IReadOnlyList<string> Root { get; } =
    [
        "version", "base", "hostname", "user", "workdir", "readOnlyRoot", "network", "env", "mounts", "tmpfs", "files",
        "etc", "limits", "seccomp", "capabilities", "command", "build", "test",
    ];

    public static IReadOnlyList<string> User { get; } = ["uid", "gid"];

    public static IReadOnlyList<string> Env { get; } = ["set", "pass"];

    public static IReadOnlyList<string> Mount { get; } = ["source", "target", "writable"];

    public static IReadOnlyList<string> Tmpfs { get; } = ["target", "size", "mode"];

    public static IReadOnlyList<string> File { get; } = ["source", "target"];

    public static IReadOnlyList<string> Etc { get; } = ["passwd", "group", "hosts", "resolvConf", "nsswitch", "extraHosts"];

    public static IReadOnlyList<string> Limits { get; } = ["memory", "cpus", "pids", "time"];

    public static IReadOnlyList<string> Build { get; } = ["inputs", "outputs"];

    public static IReadOnlyList<string> Test { get; } = ["isolation", "parallel", "testTimeout", "timeout", "enabled", "allowUnsandboxed"];

    public static IReadOnlyList<KeyValuePair<string, BaseImage>> Bases { get; } =
        [new("empty", BaseImage.Empty), new("dotnet", BaseImage.Dotnet)];

    public static IReadOnlyList<KeyValuePair<string, NetworkMode>> Networks { get; } =
        [new("none", NetworkMode.None), new("host", NetworkMode.Host)];

    public static IReadOnlyList<KeyValuePair<string, TestIsolation>> Isolations { get; } =
        [new("assembly", TestIsolation.Assembly), new("class", TestIsolation.Class), new("test", TestIsolation.Test)];

    public static IReadOnlyList<string> SeccompProfiles { get; } = ["default", "hermetic", "unconfined"];
}
