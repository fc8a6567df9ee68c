// The sandbox.yaml model (version 1), after parsing and validation: paths are absolute, units are parsed,
// defaults are filled in. docs/sandbox-yaml.md documents every key; docs/sandbox.schema.json is its JSON schema.
namespace Sandbox.Spec;

/// <summary>Where a value came from in sandbox.yaml, for errors found after parsing.</summary>
public readonly record struct SourceLocation(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

public enum BaseImage
{
    /// <summary>Nothing but what the spec adds: files, mounts, generated /etc.</summary>
    Empty,

    /// <summary>What a .NET app needs: the host's .NET installation and the native libraries it loads.</summary>
    Dotnet,
}

public enum NetworkMode
{
    /// <summary>A new network namespace with only loopback up.</summary>
    None,

    /// <summary>The host's network namespace.</summary>
    Host,
}

public sealed record SandboxSpec
{
    public const int CurrentVersion = 1;

    /// <summary>The absolute path of the sandbox.yaml this came from; relative host paths resolve against its directory.</summary>
    public required string SourcePath { get; init; }

    public int Version { get; init; } = CurrentVersion;
    public BaseImage Base { get; init; } = BaseImage.Empty;
    public string Hostname { get; init; } = "sandbox";
    public uint Uid { get; init; } = 1000;
    public uint Gid { get; init; } = 1000;
    public string WorkingDirectory { get; init; } = "/";
    public bool ReadOnlyRoot { get; init; } = true;
    public NetworkMode Network { get; init; } = NetworkMode.None;

    /// <summary>Variables set explicitly. TZ=UTC, LANG=C.UTF-8, HOME and PATH are defaults the spec may override.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Host variables passed through when set on the host: exact names, or a prefix ending in '*'.</summary>
    public IReadOnlyList<string> PassEnvironment { get; init; } = [];

    public IReadOnlyList<HostMount> Mounts { get; init; } = [];
    public IReadOnlyList<TmpfsMount> Tmpfs { get; init; } = [];
    public IReadOnlyList<CopiedPath> Files { get; init; } = [];
    public EtcFiles Etc { get; init; } = new();
    public ResourceLimits Limits { get; init; } = new();

    /// <summary>A built-in profile name (default, hermetic, unconfined) or an absolute path to an OCI profile JSON file.</summary>
    public string Seccomp { get; init; } = "default";

    /// <summary>Capabilities the process keeps (CAP_ names); none by default.</summary>
    public IReadOnlyList<string> Capabilities { get; init; } = [];

    /// <summary>The default command, when `sandbox run --spec` is given none.</summary>
    public IReadOnlyList<string>? Command { get; init; }

    /// <summary>For hermetic build steps: what the step reads and writes.</summary>
    public BuildStep? Build { get; init; }

    /// <summary>How the test adapter runs this project's tests; null when the spec has no `test:` section.</summary>
    public TestSettings? Test { get; init; }
}

/// <summary>A host file or directory made visible at <see cref="ContainerPath"/>; read-only unless declared writable.</summary>
public sealed record HostMount(string HostPath, string ContainerPath, bool Writable, SourceLocation Location);

public sealed record TmpfsMount(string ContainerPath, long SizeBytes, uint Mode, SourceLocation Location);

/// <summary>A host file or directory copied into the image (a content-addressed layer), not mounted.</summary>
public sealed record CopiedPath(string HostPath, string ContainerPath, SourceLocation Location);

/// <summary>Which /etc files the bundle generates, and extra hosts entries.</summary>
public sealed record EtcFiles
{
    public bool Passwd { get; init; } = true;
    public bool Group { get; init; } = true;
    public bool Hosts { get; init; } = true;
    public bool ResolvConf { get; init; } = true;
    public bool NsswitchConf { get; init; } = true;

    /// <summary>Extra /etc/hosts lines: name → address.</summary>
    public IReadOnlyDictionary<string, string> ExtraHosts { get; init; } = new Dictionary<string, string>();
}

public sealed record ResourceLimits
{
    public long? MemoryBytes { get; init; }
    public double? Cpus { get; init; }
    public long? Pids { get; init; }
    public TimeSpan? WallTime { get; init; }
}

public sealed record BuildStep(IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, SourceLocation Location);

/// <summary>How many tests share one sandbox.</summary>
public enum TestIsolation
{
    /// <summary>One sandbox per test assembly.</summary>
    Assembly,

    /// <summary>One sandbox per test class.</summary>
    Class,

    /// <summary>One sandbox per test.</summary>
    Test,
}

/// <summary>
/// The `test:` section: settings the test adapter reads from the bundle's test.json, each of which a runsettings
/// `&lt;Sandbox&gt;` element overrides. Null values are "not given": the adapter's default applies.
/// </summary>
public sealed record TestSettings
{
    public TestIsolation Isolation { get; init; } = TestIsolation.Assembly;

    /// <summary>How many sandboxes run at once; null: as many as the host has CPUs.</summary>
    public int? Parallel { get; init; }

    /// <summary>How long one test may run; null: no limit.</summary>
    public TimeSpan? TestTimeout { get; init; }

    /// <summary>How long one sandbox may run; null: no limit.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>False runs this project's tests unsandboxed.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>On a host that cannot make sandboxes, run unsandboxed with a warning on every result instead of failing.</summary>
    public bool AllowUnsandboxed { get; init; }
}
