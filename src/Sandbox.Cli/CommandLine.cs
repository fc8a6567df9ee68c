namespace Sandbox.Cli;

/// <summary>A small parser for the OCI runtime command line: global options, a command, its flags and operands.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string?> _flags = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _repeated = new(StringComparer.Ordinal);
    private readonly List<string> _operands = [];
    private readonly List<string> _afterDashes = [];

    public string Command { get; private set; } = "";

    public IReadOnlyList<string> Operands => _operands;

    /// <summary>Everything after "--": a command and its arguments, taken literally.</summary>
    public IReadOnlyList<string> AfterDashes => _afterDashes;

    /// <summary>Flags that take a value; every other flag is a switch.</summary>
    private static readonly HashSet<string> Valued =
    [
        "--root", "--bundle", "-b", "--pid-file", "--preserve-fds", "--log", "--log-format", "--console-socket", "--spec",
        "--output", "--timeout", "--report", "--seccomp", "--repeat", "--remove-if-orphaned", "--format", "--resources", "-r",
        "--process", "--cwd", "--env", "--user", "--cap", "--oci-layout", "--tag",
    ];

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["-b"] = "--bundle", ["-f"] = "--force", ["-h"] = "--help", ["-o"] = "--output",
        ["-p"] = "--process", ["-e"] = "--env", ["-u"] = "--user", ["-c"] = "--cap", ["-t"] = "--tty", ["-d"] = "--detach",
    };

    public static CommandLine Parse(string[] args)
    {
        var cl = new CommandLine();
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a == "--")
            {
                cl._afterDashes.AddRange(args[(i + 1)..]);
                break;
            }
            if (a.StartsWith('-') && a.Length > 1)
            {
                string name = a;
                string? value = null;
                var eq = a.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    name = a[..eq];
                    value = a[(eq + 1)..];
                }
                name = Aliases.GetValueOrDefault(name, name);
                if (Valued.Contains(name) && value is null)
                {
                    if (i + 1 >= args.Length)
                    {
                        throw new SandboxException(ErrorCodes.Usage, $"{name} needs a value", "see `sandbox --help`");
                    }
                    value = args[++i];
                }
                cl._flags[name] = value ?? "";
                if (value is not null)
                {
                    cl._repeated.TryAdd(name, []);
                    cl._repeated[name].Add(value);
                }
                continue;
            }
            if (cl.Command.Length == 0)
            {
                cl.Command = a;
            }
            else
            {
                cl._operands.Add(a);
                if (cl.Command == "exec")
                {
                    // `exec [OPTIONS] ID COMMAND [ARGS...]`, as runc takes it: what follows the id is the command, literally.
                    var rest = args[(i + 1)..];
                    cl._afterDashes.AddRange(rest is ["--", ..] ? rest[1..] : rest);
                    break;
                }
            }
        }
        return cl;
    }

    public bool Has(string flag) => _flags.ContainsKey(flag);

    public string? Value(string flag) => _flags.TryGetValue(flag, out var v) ? v : null;

    public IEnumerable<string> Flags => _flags.Keys;

    /// <summary>Every value a repeatable flag was given (`exec --env A=1 --env B=2`), in order.</summary>
    public IReadOnlyList<string> Values(string flag) => _repeated.TryGetValue(flag, out var v) ? v : [];

    /// <summary>Refuses flags the command does not know, so a typo is an error rather than ignored.</summary>
    public void Allow(params string[] known)
    {
        foreach (var f in _flags.Keys)
        {
            if (!known.Contains(f) && f is not ("--root" or "--log" or "--log-format" or "--debug"))
            {
                throw new SandboxException(ErrorCodes.Usage, $"`sandbox {Command}` does not take {f}", "see `sandbox --help`");
            }
        }
    }

    public string Id()
    {
        if (_operands.Count != 1 || _afterDashes.Count > 0)
        {
            throw new SandboxException(ErrorCodes.Usage, $"`sandbox {Command}` takes one container id", "see `sandbox --help`");
        }
        return _operands[0];
    }
}
