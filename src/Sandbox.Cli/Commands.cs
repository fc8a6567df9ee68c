using Sandbox.Oci;
using Sandbox.Runtime;

namespace Sandbox.Cli;

internal static class Commands
{
    /// <summary>What `sandbox` exits with when it, not the container, failed (as podman and docker do).</summary>
    public const int ErrorExit = 125;

    private const string Usage = """
        usage: sandbox [--root DIR] COMMAND [OPTIONS] [ID]

        OCI runtime commands:
          create [--bundle DIR] [--pid-file FILE] [--no-pivot] [--reaper] [--preserve-fds N] [--console-socket SOCKET] ID
          start ID
          exec [--process FILE | [--cwd DIR] [--env K=V]... [--user UID[:GID]] [--cap CAP]... [--no-new-privs] [--tty]]
               [--detach] [--pid-file FILE] [--preserve-fds N] [--console-socket SOCKET] ID [COMMAND [ARGS...]]
                                        start a process in a created or running container (in its namespaces,
                                        cgroup and root, under its seccomp profile); FILE holds a config's process
          state ID
          kill [--all] ID [SIGNAL]      SIGNAL: a name (TERM, SIGKILL) or a number; default TERM; --all: every process
          ps [--format table|json] ID   the container's processes (host pids)
          pause ID / resume ID          freeze and thaw every process of the container (its cgroup)
          update --resources FILE ID    new limits (FILE: what linux.resources holds; - for stdin)
          features                      what this runtime implements (the runtime-spec features JSON)
          delete [--force] ID
          run [--bundle DIR] [--pid-file FILE] [--no-pivot] [--reaper] [--preserve-fds N] [--console-socket SOCKET]
              [--timeout DURATION] [--report FILE] [--allow-unenforced] [--seccomp NAME|PATH] [--die-with-parent] ID
          spec [--bundle DIR] [--rootless]

        sandbox.yaml commands:
          build SPEC -o DIR             build the bundle SPEC describes into DIR; prints its digest
          run --spec SPEC [--timeout DURATION] [--report FILE] [--die-with-parent] [ID] [-- CMD ARGS]
                                        build (or reuse, from the cache) and run in one step
          cache prune [--all]           remove cached bundles, layers and blobs unused for 7 days (or all)
          build SPEC --oci-layout DIR [--tag NAME]
                                        export the bundle as an OCI image layout (with -o: both); docs/oci-image.md

        Other commands:
          events --stats ID             live figures of a running container, from its cgroup (JSON)
          seccomp show NAME             print a built-in profile as OCI JSON
          seccomp compile NAME|PATH [--repeat N]
                                        compile a profile: its size in BPF instructions and the time it takes
          doctor                        what this host allows: user namespaces, overlay, pivot_root, cgroups

        --root DIR     where container state lives (default /run/sandbox, or $XDG_RUNTIME_DIR/sandbox)
        --log FILE     warnings to FILE instead of stderr, errors to both; --log-format text (default) or json
        --reaper       run a minimal init as PID 1 that forwards signals and reaps zombies
        --no-pivot     chroot into the rootfs instead of pivot_root
        """;

    public static int Run(string[] args)
    {
        var cl = CommandLine.Parse(args);
        // Only `run` and a foreground `exec` forward signals (SignalForwarder); the others take them as any program does.
        if (cl.Command is not ("run" or "exec") || (cl.Command is "exec" && cl.Has("--detach")))
        {
            SignalForwarder.Unblock();
        }
        RuntimeLog.Configure(cl.Value("--log"), cl.Value("--log-format"));
        if (cl.Command is "version" || cl.Has("--version"))
        {
            Write($"sandbox version {Version}\nspec: {OciVersions.Current}\n");
            return 0;
        }
        if (cl.Command is "" or "help" || cl.Has("--help"))
        {
            // Probes ask `sandbox COMMAND --help` whether a command exists (podman: `checkpoint --help`): say no.
            if (cl.Command is not ("" or "help") && !KnownCommands.Contains(cl.Command))
            {
                throw UnknownCommand(cl.Command);
            }
            Write(Usage + "\n");
            return cl.Command is "" && !cl.Has("--help") ? 1 : 0;
        }
        if (cl.Has("--systemd-cgroup"))
        {
            throw new SandboxException(ErrorCodes.Unsupported, "--systemd-cgroup is not supported", "use cgroupfs paths");
        }
        var host = HostFacts.Read();
        var store = new StateStore(cl.Value("--root") is { Length: > 0 } r ? Path.GetFullPath(r) : StateStore.DefaultRoot(host.Uid));
        var life = new Lifecycle(store, host, RuntimeLog.Warnings);
        switch (cl.Command)
        {
#if SANDBOX_BUILD
            case "run" when cl.Value("--spec") is { Length: > 0 } spec:
                cl.Allow("--spec", "--pid-file", "--no-pivot", "--reaper", "--preserve-fds", "--timeout", "--report", "--allow-unenforced", "--seccomp", "--die-with-parent");
                return SpecCommands.Run(cl, host, life, spec, LaunchForSpec(cl), PidFile(cl));
            case "build":
                cl.Allow("--output", "--oci-layout", "--tag");
                return SpecCommands.Build(cl, host, Write);
            case "cache" when cl.Operands is ["prune"]:
                cl.Allow("--all");
                return SpecCommands.PruneCache(cl, Write);
            case "cache":
                throw new SandboxException(ErrorCodes.Usage, "`sandbox cache` has one subcommand, prune", "e.g. `sandbox cache prune` or `sandbox cache prune --all`");
#else
            case "run" when cl.Value("--spec") is { Length: > 0 }:
            case "build":
            case "cache":
                return HandToBuildTool(args);
#endif
            case "run":
                cl.Allow("--bundle", "--pid-file", "--no-pivot", "--reaper", "--preserve-fds", "--detach", "-d", "--console-socket", "--no-new-keyring", "--timeout", "--report", "--allow-unenforced", "--seccomp", "--die-with-parent", "--remove-if-orphaned");
                RefuseUnsupported(cl);
                return life.Run(Launch(cl) with
                {
                    Timeout = Timeout(cl), ReportPath = Report(cl), AllowUnenforced = cl.Has("--allow-unenforced"), SeccompOverride = cl.Value("--seccomp"),
                    DieWithParent = cl.Has("--die-with-parent"), RemoveIfOrphaned = cl.Value("--remove-if-orphaned") is { Length: > 0 } orphaned ? Path.GetFullPath(orphaned) : null,
                }, PidFile(cl));
            case "create":
                cl.Allow("--bundle", "--pid-file", "--no-pivot", "--reaper", "--preserve-fds", "--console-socket", "--no-new-keyring");
                RefuseUnsupported(cl);
                life.Create(Launch(cl), PidFile(cl));
                return 0;
            case "exec":
                cl.Allow("--process", "--pid-file", "--detach", "--tty", "--console-socket", "--cwd", "--env", "--user", "--cap", "--no-new-privs", "--preserve-fds");
                return life.Exec(new ExecOptions
                {
                    Id = cl.Operands.Count == 1 ? cl.Operands[0] : throw new SandboxException(ErrorCodes.Usage, "`sandbox exec` takes a container id",
                        "e.g. `sandbox exec ID sh -c 'echo hi'`, or `sandbox exec --process process.json ID`"),
                    Detached = cl.Has("--detach"),
                    PreserveFds = Preserve(cl),
                    PidFile = PidFile(cl),
                    ConsoleSocket = ConsoleSocket(cl),
                }, container => ExecProcess(cl, container));
            case "start":
                cl.Allow();
                life.Start(cl.Id());
                return 0;
            case "state":
                cl.Allow();
                Write(OciConfigLoader.Serialize(life.State(cl.Id())) + "\n");
                return 0;
            case "kill":
                cl.Allow("--all", "-a");
                if (cl.Operands.Count is < 1 or > 2)
                {
                    throw new SandboxException(ErrorCodes.Usage, "`sandbox kill` takes an id and an optional signal", "e.g. `sandbox kill ID TERM`");
                }
                life.Kill(cl.Operands[0], SignalNames.Parse(cl.Operands.Count == 2 ? cl.Operands[1] : "TERM"), cl.Has("--all") || cl.Has("-a"));
                return 0;
            case "update":
                cl.Allow("--resources", "-r");
                var resources = cl.Value("--resources") ?? cl.Value("-r")
                    ?? throw new SandboxException(ErrorCodes.Usage, "`sandbox update` needs --resources FILE", "e.g. `sandbox update --resources limits.json ID` (FILE holds what linux.resources would; - reads stdin)");
                life.Update(cl.Id(), () => OciConfigLoader.ParseResources(
                    resources == "-" ? ReadStdin() : OciConfigLoader.ReadFile(Path.GetFullPath(resources)), resources == "-" ? "stdin" : resources));
                return 0;
            case "pause" or "resume":
                cl.Allow();
                life.Pause(cl.Id(), cl.Command == "pause");
                return 0;
            case "ps":
                cl.Allow("--format");
                return Ps(life.Ps(cl.Id()), cl.Value("--format") ?? "table");
            case "events":
                cl.Allow("--stats");
                if (!cl.Has("--stats"))
                {
                    throw new SandboxException(ErrorCodes.Usage, "`sandbox events` needs --stats (a stream of events is not supported)", "use `sandbox events --stats ID`");
                }
                Write(life.Stats(cl.Id()) + "\n");
                return 0;
            case "delete":
                cl.Allow("--force");
                life.Delete(cl.Id(), cl.Has("--force"));
                return 0;
#if SANDBOX_BUILD
            case "spec":
                cl.Allow("--bundle", "--rootless");
                return Spec(cl, host);
            case "seccomp" when cl.Operands is ["show", var shown]:
                cl.Allow();
                Write((Sandbox.Seccomp.BuiltInProfiles.Resolve(shown) is { } sp
                    ? System.Text.Json.JsonSerializer.Serialize(sp, OciSeccompJsonContext.Default.OciSeccomp) : "null") + "\n");
                return 0;
#else
            // Both write a whole config or profile with the source-generated serializer, whose metadata `sandbox`
            // does not carry (every run would pay for it at start): sandbox-build writes them.
            case "spec":
            case "seccomp" when cl.Operands is ["show", _]:
                return HandToBuildTool(args);
#endif
            case "seccomp" when cl.Operands is ["compile", var profile]:
                cl.Allow("--repeat");
                return SeccompCompile(profile, cl.Value("--repeat"));
            case "doctor":
                cl.Allow();
                return Doctor.Run(host, Write);
            case "features":
                cl.Allow();
                Write(Features.Json(Version) + "\n");
                return 0;
            default:
                throw UnknownCommand(cl.Command);
        }
    }

    private const string Version = "0.1.0";

    private static readonly HashSet<string> KnownCommands = new(StringComparer.Ordinal)
    {
        "run", "create", "start", "exec", "state", "kill", "events", "delete", "spec", "seccomp", "doctor", "build", "cache", "features", "ps", "pause", "resume", "update",
    };

    /// <summary>runc's forms: `--format json` an array of pids; the table, a pid and a command line per process.</summary>
    private static int Ps(IReadOnlyList<int> pids, string format)
    {
        switch (format)
        {
            case "json":
                Write("[" + string.Join(",", pids) + "]\n");
                return 0;
            case "table":
                var table = new System.Text.StringBuilder("PID\tCMD\n");
                foreach (var pid in pids)
                {
                    string cmd;
                    try
                    {
                        cmd = File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').Replace('\0', ' ');
                    }
                    catch (IOException)
                    {
                        continue; // ended meanwhile
                    }
                    table.Append(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\t').Append(cmd).Append('\n');
                }
                Write(table.ToString());
                return 0;
            default:
                throw new SandboxException(ErrorCodes.Usage, $"--format {format}: not a format of `sandbox ps`", "use --format table or --format json");
        }
    }

    /// <summary>All of stdin, read with read(2): System.Console's stream would bring its terminal code into `sandbox`.</summary>
    private static byte[] ReadStdin() => RawFiles.ReadAll(0, out var errno)
        ?? throw new IOException($"stdin: {Sandbox.Runtime.Interop.Libc.Describe(errno)}");

    private static SandboxException UnknownCommand(string command) =>
        new(ErrorCodes.Usage, $"unknown command \"{command}\"", "see `sandbox --help`");

    /// <summary>
    /// `exec`'s process: the --process file (what config.json's process holds, as podman writes it), or, as runc does,
    /// the container's own process with the command after the id and the flags' changes.
    /// </summary>
    private static OciProcess ExecProcess(CommandLine cl, OciConfig container)
    {
        if (cl.Value("--process") is { Length: > 0 } file)
        {
            if (cl.AfterDashes.Count > 0 || new[] { "--cwd", "--env", "--user", "--cap", "--no-new-privs" }.Any(cl.Has))
            {
                throw new SandboxException(ErrorCodes.Usage, "`sandbox exec --process FILE` takes its command and settings from FILE only",
                    "put them in FILE, or drop --process");
            }
            var path = file == "-" ? "stdin" : Path.GetFullPath(file);
            var fromFile = OciConfigLoader.ParseProcess(file == "-" ? ReadStdin() : OciConfigLoader.ReadFile(path), path);
            // podman passes --tty beside a file that says terminal: true; either one asks for a terminal.
            return cl.Has("--tty") ? fromFile with { Terminal = true } : fromFile;
        }
        if (cl.AfterDashes.Count == 0)
        {
            throw new SandboxException(ErrorCodes.Usage, "`sandbox exec` needs a command after the id, or --process FILE",
                "e.g. `sandbox exec ID sh -c 'echo hi'`");
        }
        var base_ = container.Process ?? new OciProcess();
        var user = base_.User ?? new OciUser();
        if (cl.Value("--user") is { } u)
        {
            var parts = u.Split(':');
            if (parts.Length > 2 || !uint.TryParse(parts[0], out var uid) || (parts.Length == 2 && !uint.TryParse(parts[1], out _)))
            {
                throw new SandboxException(ErrorCodes.Usage, $"--user {u}: not UID or UID:GID", "give numeric ids, e.g. --user 1000:1000");
            }
            user = user with { Uid = uid, Gid = parts.Length == 2 ? uint.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : user.Gid };
        }
        var caps = base_.Capabilities ?? new OciCapabilities();
        var extra = cl.Values("--cap");
        if (extra.Count > 0)
        {
            List<string> With(List<string>? set) => [.. (set ?? []).Concat(extra).Distinct(StringComparer.Ordinal)];
            caps = caps with { Bounding = With(caps.Bounding), Effective = With(caps.Effective), Permitted = With(caps.Permitted) };
        }
        var process = base_ with
        {
            Args = [.. cl.AfterDashes],
            Env = [.. base_.Env ?? [], .. cl.Values("--env")],
            Cwd = cl.Value("--cwd") ?? base_.Cwd,
            User = user,
            Capabilities = caps,
            NoNewPrivileges = base_.NoNewPrivileges || cl.Has("--no-new-privs"),
            Terminal = cl.Has("--tty"),
        };
        // Checked as a --process file would be: a --cwd that is not absolute, an --env without "=", a --cap unknown.
        OciConfigLoader.CheckProcess(process, "sandbox exec");
        return process;
    }

    private static void RefuseUnsupported(CommandLine cl)
    {
        if (cl.Has("--detach") || cl.Has("-d"))
        {
            throw new SandboxException(ErrorCodes.Unsupported, "`run --detach` is not supported", "use `sandbox create` then `sandbox start`");
        }
    }

    private static LaunchOptions Launch(CommandLine cl)
    {
        var preserve = Preserve(cl);
        return new LaunchOptions
        {
            Id = cl.Id(),
            Bundle = Path.GetFullPath(cl.Value("--bundle") is { Length: > 0 } b ? b : "."),
            NoPivot = cl.Has("--no-pivot"),
            Reaper = cl.Has("--reaper"),
            PreserveFds = preserve,
            ConsoleSocket = ConsoleSocket(cl),
        };
    }

    private static string? ConsoleSocket(CommandLine cl) => cl.Value("--console-socket") is { Length: > 0 } s ? Path.GetFullPath(s) : null;

#if SANDBOX_BUILD
    /// <summary>`run --spec` takes an optional id (first operand); without one it makes a unique one.</summary>
    private static LaunchOptions LaunchForSpec(CommandLine cl)
    {
        var id = cl.Operands.Count > 0 ? cl.Operands[0] : $"spec-{Environment.ProcessId}-{Environment.TickCount64 % 100000}";
        return new LaunchOptions
        {
            Id = id, Bundle = ".", NoPivot = cl.Has("--no-pivot"), Reaper = cl.Has("--reaper"), PreserveFds = Preserve(cl),
            Timeout = Timeout(cl), ReportPath = Report(cl), AllowUnenforced = cl.Has("--allow-unenforced"), SeccompOverride = cl.Value("--seccomp"),
            DieWithParent = cl.Has("--die-with-parent"),
        };
    }
#else
    /// <summary>
    /// The sandbox.yaml commands run in `sandbox-build`, next to this executable: the same arguments, the same
    /// process (execv), so exit codes, signals and stdio are the caller's as if `sandbox` had run them itself.
    /// </summary>
    private static unsafe int HandToBuildTool(string[] args)
    {
        var tool = Path.Combine(Path.GetDirectoryName(Environment.ProcessPath) ?? ".", "sandbox-build");
        using var arena = new NativeArena();
        var path = arena.Str(tool);
        Sandbox.Runtime.Interop.Libc.Execv(path, arena.StrArray([tool, .. args]));
        var errno = Sandbox.Runtime.Interop.Libc.Errno;
        throw new SandboxException(ErrorCodes.Io, $"exec {tool}: {Sandbox.Runtime.Interop.Libc.Describe(errno)}",
            "sandbox-build runs the sandbox.yaml commands, `spec` and `seccomp show`, and belongs next to sandbox: run eng/build.sh, or install both");
    }
#endif

    /// <summary>--timeout 30s, 1m30s, 500ms, or a plain number of seconds.</summary>
    private static TimeSpan? Timeout(CommandLine cl)
    {
        if (cl.Value("--timeout") is not { } text)
        {
            return null;
        }
        if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0)
        {
            return TimeSpan.FromSeconds(seconds);
        }
        if (Sandbox.Spec.Units.TryParseDuration(text, out var d, out var error))
        {
            return d;
        }
        throw new SandboxException(ErrorCodes.Usage, $"--timeout {text}: {error}", "e.g. --timeout 30s, --timeout 1m30s or --timeout 2.5");
    }

    private static string? Report(CommandLine cl) => cl.Value("--report") is { Length: > 0 } r ? Path.GetFullPath(r) : null;

    private static int Preserve(CommandLine cl)
    {
        var preserve = 0;
        if (cl.Value("--preserve-fds") is { } p && (!int.TryParse(p, out preserve) || preserve < 0))
        {
            throw new SandboxException(ErrorCodes.Usage, $"--preserve-fds {p}: not a count", "pass a number of descriptors after stdio");
        }
        return preserve;
    }

    private static string? PidFile(CommandLine cl) => cl.Value("--pid-file") is { Length: > 0 } p ? Path.GetFullPath(p) : null;

#if SANDBOX_BUILD
    private static int Spec(CommandLine cl, HostFacts host)
    {
        var bundle = cl.Value("--bundle") is { Length: > 0 } b ? b : ".";
        var path = Path.Combine(bundle, OciConfigLoader.FileName);
        if (File.Exists(path))
        {
            throw new SandboxException(ErrorCodes.ContainerExists, $"{path} exists", "remove it first; `spec` never overwrites a config");
        }
        var config = DefaultConfig.Create(cl.Has("--rootless") || !host.IsRoot, host.Uid, host.Gid);
        // The `default` profile, written out: as root the container has no user namespace, and without a filter it
        // would reach the kernel's keyrings (root's user keyring), io_uring and the rest of what the profile denies.
        config = config with { Linux = config.Linux! with { Seccomp = Sandbox.Seccomp.BuiltInProfiles.Get("default") } };
        var json = OciConfigLoader.Serialize(config);
        File.WriteAllText(path, json + "\n");
        return 0;
    }
#endif

    /// <summary>`sandbox seccomp compile NAME|PATH [--repeat N]`: the filter's size, and how long compiling it takes.</summary>
    private static int SeccompCompile(string profile, string? repeat)
    {
        var p = Sandbox.Seccomp.BuiltInProfiles.Resolve(profile);
        if (p is null)
        {
            Write($"{profile}: no filter\n");
            return 0;
        }
        var n = int.TryParse(repeat, out var r) && r > 0 ? r : 1;
        var first = System.Diagnostics.Stopwatch.StartNew();
        var filter = Sandbox.Seccomp.SeccompCompiler.Compile(p);
        var firstUs = first.Elapsed.TotalMicroseconds;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
        {
            Sandbox.Seccomp.SeccompCompiler.Compile(p);
        }
        var each = sw.Elapsed.TotalMicroseconds / n;
        Write($"{profile}: {filter.Program.Length} instructions; first compile {firstUs:F0} µs, then {each:F1} µs each over {n}\n");
        foreach (var w in filter.Warnings)
        {
            Write($"warning: {w}\n");
        }
        return 0;
    }

    private static void Write(string text) => FdWriter.Out.Write(text);
}
