using YamlDotNet.RepresentationModel;

namespace Sandbox.Spec;

/// <summary>
/// Turns the top-level mapping of a sandbox.yaml into a <see cref="SandboxSpec"/>: fills in defaults, parses units,
/// resolves host paths, and records every problem in the <see cref="NodeReader"/> instead of stopping at the first.
/// The filesystem sections (mounts, tmpfs, files, seccomp) are in SpecReader.Filesystem.cs.
/// </summary>
internal sealed partial class SpecReader(NodeReader reader, string sourcePath)
{
    private readonly string _baseDirectory = Path.GetDirectoryName(sourcePath) ?? "/";

    // Container paths claimed by mounts, tmpfs and files, to find two claims of one path once all are read.
    private readonly List<Located> _targets = [];

    public SandboxSpec Read(YamlMappingNode rootNode)
    {
        var root = new MappingView(reader, rootNode, string.Empty, SpecKeys.Root);
        ReadVersion(root);

        var user = root.Mapping("user", SpecKeys.User);
        var env = root.Mapping("env", SpecKeys.Env);
        var (environment, setNames) = ReadEnvironmentSet(env);
        var pass = ReadPassEnvironment(env);
        SpecValidation.CheckEnvDisjoint(reader, setNames, pass);

        var spec = new SandboxSpec
        {
            SourcePath = sourcePath,
            Base = root.Choice("base", SpecKeys.Bases, BaseImage.Empty),
            Hostname = ReadHostname(root) ?? "sandbox",
            Uid = ReadId(user, "uid"),
            Gid = ReadId(user, "gid"),
            WorkingDirectory = ReadWorkingDirectory(root) ?? "/",
            ReadOnlyRoot = root.Bool("readOnlyRoot", true),
            Network = root.Choice("network", SpecKeys.Networks, NetworkMode.None),
            Environment = environment,
            PassEnvironment = pass.Select(p => p.Value).ToList(),
            Mounts = ReadMounts(root),
            Tmpfs = ReadTmpfs(root),
            Files = ReadFiles(root),
            Etc = ReadEtc(root),
            Limits = ReadLimits(root),
            Seccomp = ReadSeccomp(root) ?? "default",
            Capabilities = ReadCapabilities(root),
            Command = ReadCommand(root),
            Build = ReadBuild(root),
            Test = ReadTest(root),
        };
        SpecValidation.CheckTargetsUnique(reader, _targets);
        return spec;
    }

    private void ReadVersion(MappingView root)
    {
        if (!root.TryGet("version", out var node))
        {
            reader.Report(SpecErrorCodes.VersionMissing, root.Node, "`version` is missing", $"add `version: {SandboxSpec.CurrentVersion}` at the top of the file");
            return;
        }

        if (reader.Text(node, "version") is { } text && text != SandboxSpec.CurrentVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            reader.Report(SpecErrorCodes.VersionUnknown, node, $"version '{YamlNodes.Shorten(text)}' is not known to this Sandbox", $"write `version: {SandboxSpec.CurrentVersion}`, the only version so far");
        }
    }

    private string? ReadHostname(MappingView root)
    {
        if (root.LocatedText("hostname") is not { } hostname)
        {
            return null;
        }

        if (!NameRules.IsHostname(hostname.Value, NameRules.MaxHostnameLength))
        {
            reader.Report(SpecErrorCodes.InvalidHostname, hostname.Node, $"`hostname` '{YamlNodes.Shorten(hostname.Value)}' is not a valid hostname",
                $"use letters, digits, '-' and '.', at most {NameRules.MaxHostnameLength} characters, no label starting or ending with '-'");
            return null;
        }

        return hostname.Value;
    }

    // 2^32 - 1 is (uid_t)-1, which the kernel's calls take to mean "no change", so it cannot be an identity.
    private uint ReadId(MappingView? user, string key) =>
        user is not null && user.TryGet(key, out var node) && reader.Integer(node, user.PathOf(key), 0, uint.MaxValue - 1) is { } id
            ? (uint)id
            : 1000;

    private string? ReadWorkingDirectory(MappingView root) =>
        root.LocatedText("workdir") is { } workdir ? ContainerPath(workdir) : null;

    /// <summary>A normalized absolute container path, or null after reporting why it is not one.</summary>
    private string? ContainerPath(Located path)
    {
        if (ContainerPaths.TryNormalize(path.Value, out var normalized, out var problem))
        {
            return normalized;
        }

        reader.Report(SpecErrorCodes.ContainerPathInvalid, path.Node, $"`{path.Path}` {problem}",
            "write an absolute path inside the container, starting with '/' and without '..', such as /data");
        return null;
    }

    private (Dictionary<string, string> Values, List<Located> Names) ReadEnvironmentSet(MappingView? env)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new List<Located>();
        if (env is null || !env.TryGet("set", out var setNode) || reader.FreeMapping(setNode, "env.set") is not { } set)
        {
            return (values, names);
        }

        foreach (var (keyNode, valueNode) in set.Children)
        {
            var name = (keyNode as YamlScalarNode)?.Value ?? string.Empty;
            var path = $"env.set.{YamlNodes.Shorten(name)}";
            if (!NameRules.IsEnvName(name))
            {
                reader.Report(SpecErrorCodes.InvalidEnvName, keyNode, $"`{YamlNodes.Shorten(name)}` in env.set is not a valid environment variable name",
                    "start with a letter or '_', then use letters, digits and '_' only");
                continue;
            }

            names.Add(new Located(name, keyNode, path));
            if (YamlNodes.IsNull(valueNode))
            {
                reader.Report(SpecErrorCodes.WrongType, valueNode, $"`{path}` has no value",
                    $"write `{name}: \"\"` for an empty value, or list {name} under env.pass to take the host's value");
            }
            else if (reader.Text(valueNode, path) is { } value)
            {
                values[name] = value;
            }
        }

        return (values, names);
    }

    private List<Located> ReadPassEnvironment(MappingView? env)
    {
        if (env is null || !env.TryGet("pass", out var passNode) || reader.TextList(passNode, "env.pass") is not { } patterns)
        {
            return [];
        }

        var valid = patterns.Where(pattern =>
        {
            if (NameRules.IsEnvPattern(pattern.Value))
            {
                return true;
            }

            reader.Report(SpecErrorCodes.InvalidEnvName, pattern.Node, $"`{pattern.Path}` '{YamlNodes.Shorten(pattern.Value)}' is not a variable name or a name prefix ending in '*'",
                "write a name such as HOME, or a prefix such as DOTNET_*; passing every variable ('*') is not allowed");
            return false;
        }).ToList();
        SpecValidation.CheckNoRepeats(reader, valid, "env.pass");
        return valid;
    }

    private EtcFiles ReadEtc(MappingView root)
    {
        if (root.Mapping("etc", SpecKeys.Etc) is not { } etc)
        {
            return new EtcFiles();
        }

        return new EtcFiles
        {
            Passwd = etc.Bool("passwd", true),
            Group = etc.Bool("group", true),
            Hosts = etc.Bool("hosts", true),
            ResolvConf = etc.Bool("resolvConf", true),
            NsswitchConf = etc.Bool("nsswitch", true),
            ExtraHosts = ReadExtraHosts(etc),
        };
    }

    private Dictionary<string, string> ReadExtraHosts(MappingView etc)
    {
        var hosts = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!etc.TryGet("extraHosts", out var node) || reader.FreeMapping(node, "etc.extraHosts") is not { } mapping)
        {
            return hosts;
        }

        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            var name = (keyNode as YamlScalarNode)?.Value ?? string.Empty;
            var path = $"etc.extraHosts.{YamlNodes.Shorten(name)}";
            var nameValid = NameRules.IsHostname(name, NameRules.MaxHostsNameLength);
            if (!nameValid)
            {
                reader.Report(SpecErrorCodes.InvalidHostname, keyNode, $"`{YamlNodes.Shorten(name)}` in etc.extraHosts is not a valid host name",
                    "use letters, digits, '-' and '.', such as db.local");
            }

            if (reader.Text(valueNode, path) is not { } address)
            {
                continue;
            }

            if (!NameRules.IsIpAddress(address))
            {
                reader.Report(SpecErrorCodes.InvalidAddress, valueNode, $"`{path}` '{YamlNodes.Shorten(address)}' is not an IP address",
                    "write an IPv4 address such as 127.0.0.1 or an IPv6 address such as ::1");
            }
            else if (nameValid)
            {
                hosts[name] = address;
            }
        }

        return hosts;
    }

    private ResourceLimits ReadLimits(MappingView root)
    {
        if (root.Mapping("limits", SpecKeys.Limits) is not { } limits)
        {
            return new ResourceLimits();
        }

        return new ResourceLimits
        {
            MemoryBytes = Quantity<long>(limits, "memory", Units.TryParseSize, $"write bytes, or a number with a unit: {Units.SizeUnits}; for example 512Mi"),
            Cpus = Quantity<double>(limits, "cpus", Units.TryParseCpus, "write a number of CPUs greater than zero, such as 1.5, or millicpus, such as 1500m"),
            Pids = limits.TryGet("pids", out var pidsNode) ? reader.Integer(pidsNode, "limits.pids", 1, long.MaxValue) : null,
            WallTime = Duration(limits, "time"),
        };
    }

    private TimeSpan? Duration(MappingView section, string key) =>
        Quantity<TimeSpan>(section, key, Units.TryParseDuration, $"write numbers with units {Units.DurationUnits}, largest first, such as 30s, 500ms or 1h30m");

    private delegate bool QuantityParser<T>(string text, out T value, out string? error);

    private T? Quantity<T>(MappingView section, string key, QuantityParser<T> parse, string hint)
        where T : struct
    {
        if (section.LocatedText(key) is not { } text)
        {
            return null;
        }

        if (parse(text.Value, out var value, out var error))
        {
            return value;
        }

        reader.Report(SpecErrorCodes.InvalidQuantity, text.Node, $"`{text.Path}`: {error}", hint);
        return null;
    }

    private List<string> ReadCapabilities(MappingView root)
    {
        if (!root.TryGet("capabilities", out var node) || reader.TextList(node, "capabilities") is not { } names)
        {
            return [];
        }

        var known = names.Where(name =>
        {
            if (Array.IndexOf(Oci.LinuxNames.Capabilities, name.Value) >= 0)
            {
                return true;
            }

            var near = NameRules.SuggestCapability(name.Value);
            reader.Report(SpecErrorCodes.CapabilityUnknown, name.Node, $"`{name.Path}` '{YamlNodes.Shorten(name.Value)}' is not a Linux capability",
                near is null ? "write a name from capabilities(7), such as CAP_NET_BIND_SERVICE" : $"did you mean `{near}`?");
            return false;
        }).ToList();
        SpecValidation.CheckNoRepeats(reader, known, "capabilities");
        return known.Select(c => c.Value).ToList();
    }

    private List<string>? ReadCommand(MappingView root)
    {
        if (!root.TryGet("command", out var node))
        {
            return null;
        }

        if (node is YamlSequenceNode { Children.Count: 0 })
        {
            reader.Report(SpecErrorCodes.EmptyValue, node, "`command` is an empty list", "name the program and its arguments, such as [dotnet, app.dll], or remove `command`");
            return null;
        }

        if (reader.TextList(node, "command") is not { } words)
        {
            return null;
        }

        if (words.FirstOrDefault() is { Path: "command[0]", Value.Length: 0 } program)
        {
            reader.Report(SpecErrorCodes.EmptyValue, program.Node, "`command[0]` is empty", "the first entry is the program to run; name it");
        }

        return words.Select(w => w.Value).ToList();
    }

    private BuildStep? ReadBuild(MappingView root)
    {
        if (root.Mapping("build", SpecKeys.Build) is not { } build)
        {
            return null;
        }

        var inputs = NonEmptyList(build, "inputs", "list glob patterns of what the step reads, such as \"src/**/*.cs\"");
        var outputs = NonEmptyList(build, "outputs", "list the paths the step writes, such as out/");
        foreach (var output in outputs.Where(o => !ContainerPaths.StaysInside(o.Value)))
        {
            reader.Report(SpecErrorCodes.PathEscapes, output.Node, $"`{output.Path}` '{YamlNodes.Shorten(output.Value)}' reaches outside the directory of sandbox.yaml",
                "write a relative path below that directory, without a leading '/' or '..'");
        }

        return new BuildStep(inputs.Select(i => i.Value).ToList(), outputs.Select(o => o.Value).ToList(), reader.Locate(build.Node));
    }

    private TestSettings? ReadTest(MappingView root)
    {
        if (root.Mapping("test", SpecKeys.Test) is not { } test)
        {
            return null;
        }

        return new TestSettings
        {
            Isolation = test.Choice("isolation", SpecKeys.Isolations, TestIsolation.Assembly),
            Parallel = test.TryGet("parallel", out var parallel) ? (int?)reader.Integer(parallel, test.PathOf("parallel"), 1, int.MaxValue) : null,
            TestTimeout = Duration(test, "testTimeout"),
            Timeout = Duration(test, "timeout"),
            Enabled = test.Bool("enabled", true),
            AllowUnsandboxed = test.Bool("allowUnsandboxed", false),
        };
    }

    /// <summary>A required, non-empty list of non-empty strings, such as build.inputs.</summary>
    private List<Located> NonEmptyList(MappingView section, string key, string hint)
    {
        if (section.Required(key) is not { } node)
        {
            return [];
        }

        var path = section.PathOf(key);
        if (YamlNodes.IsNull(node) || node is YamlSequenceNode { Children.Count: 0 })
        {
            reader.Report(SpecErrorCodes.EmptyValue, node, $"`{path}` is empty", hint);
            return [];
        }

        var items = reader.TextList(node, path) ?? [];
        foreach (var empty in items.Where(i => i.Value.Length == 0))
        {
            reader.Report(SpecErrorCodes.EmptyValue, empty.Node, $"`{empty.Path}` is an empty string", hint);
        }

        return items.Where(i => i.Value.Length > 0).ToList();
    }
}
