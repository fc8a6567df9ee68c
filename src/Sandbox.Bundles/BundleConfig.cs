using Sandbox.Oci;
using Sandbox.Spec;

namespace Sandbox.Bundles;

/// <summary>The config.json a spec becomes: hermetic defaults, then what the spec declares.</summary>
internal static class BundleConfig
{
    public const string PassEnvAnnotation = SandboxAnnotations.PassEnvironment;
    public const string SpecAnnotation = SandboxAnnotations.Spec;

    public static OciConfig Create(SandboxSpec spec, DotnetInstallation? dotnet, bool rootless, uint hostUid, uint hostGid)
    {
        var env = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = (dotnet is null ? "" : dotnet.Root + ":") + "/usr/local/bin:/usr/bin:/bin",
            ["HOME"] = "/tmp",
            ["TZ"] = "UTC",
            ["LANG"] = "C.UTF-8",
        };
        if (dotnet is not null)
        {
            env["DOTNET_ROOT"] = dotnet.Root;
            env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            env["DOTNET_NOLOGO"] = "1";
            env["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        }
        foreach (var (k, v) in spec.Environment)
        {
            env[k] = v;
        }

        var mounts = new List<OciMount>
        {
            new() { Destination = "/proc", Type = "proc", Source = "proc" },
            new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
            rootless
                ? new() { Destination = "/sys", Type = "none", Source = "/sys", Options = ["rbind", "nosuid", "noexec", "nodev", "ro"] }
                : new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] },
        };
        if (spec.Tmpfs.All(t => t.ContainerPath != "/tmp"))
        {
            mounts.Add(new() { Destination = "/tmp", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "nodev", "mode=1777", "size=268435456"] });
        }
        foreach (var t in spec.Tmpfs)
        {
            mounts.Add(new()
            {
                Destination = t.ContainerPath, Type = "tmpfs", Source = "tmpfs",
                Options = ["nosuid", "nodev", $"mode={Convert.ToString(t.Mode, 8)}", $"size={t.SizeBytes}"],
            });
        }
        // The .NET installation, unless a mount of the spec's shows it at the same place already (SandboxExec's default
        // base mounts /usr from /usr, which holds /usr/share/dotnet): mounted before that one, it would only be covered
        // by it, two mount calls of every start for nothing.
        if (dotnet is not null && !spec.Mounts.Any(m => ShowsAtItsOwnPath(m, dotnet.Root)))
        {
            mounts.Add(new() { Destination = dotnet.Root, Type = "bind", Source = dotnet.Root, Options = ["rbind", "ro", "nosuid", "nodev"] });
        }
        foreach (var m in spec.Mounts)
        {
            mounts.Add(new()
            {
                Destination = m.ContainerPath, Type = "bind", Source = m.HostPath,
                Options = m.Writable ? ["rbind", "nosuid", "nodev"] : ["rbind", "ro", "nosuid", "nodev"],
            });
        }

        List<OciNamespace> namespaces = [new() { Type = "pid" }, new() { Type = "ipc" }, new() { Type = "uts" }, new() { Type = "mount" }, new() { Type = "cgroup" }];
        if (spec.Network == NetworkMode.None)
        {
            namespaces.Add(new() { Type = "network" });
        }
        if (rootless)
        {
            namespaces.Add(new() { Type = "user" });
        }
        var caps = spec.Capabilities.ToList();
        var command = spec.Command?.ToList() ?? (dotnet is not null ? ["dotnet", "--info"] : ["/bin/sh"]);
        var annotations = new Dictionary<string, string> { [SpecAnnotation] = spec.SourcePath };
        if (spec.PassEnvironment.Count > 0)
        {
            annotations[PassEnvAnnotation] = string.Join(',', spec.PassEnvironment);
        }
        if (spec.Limits.WallTime is { } wall)
        {
            annotations[SandboxAnnotations.TimeoutMs] = ((long)wall.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return new OciConfig
        {
            OciVersion = OciVersions.Current,
            Root = new OciRoot { Path = "rootfs", Readonly = spec.ReadOnlyRoot },
            Hostname = spec.Hostname,
            Mounts = mounts,
            Process = new OciProcess
            {
                Args = command,
                Env = [.. env.Select(kv => $"{kv.Key}={kv.Value}")],
                Cwd = spec.WorkingDirectory,
                User = new OciUser { Uid = rootless ? 0 : spec.Uid, Gid = rootless ? 0 : spec.Gid },
                Capabilities = new OciCapabilities { Bounding = caps, Effective = [.. caps], Permitted = [.. caps] },
                NoNewPrivileges = true,
            },
            Linux = new OciLinux
            {
                Resources = Resources(spec.Limits),
                Seccomp = Sandbox.Seccomp.BuiltInProfiles.Resolve(spec.Seccomp),
                Namespaces = namespaces,
                UidMappings = rootless ? [new OciIdMapping { ContainerId = 0, HostId = hostUid, Size = 1 }] : null,
                GidMappings = rootless ? [new OciIdMapping { ContainerId = 0, HostId = hostGid, Size = 1 }] : null,
                MaskedPaths = [.. DefaultConfig.MaskedPaths],
                ReadonlyPaths = [.. DefaultConfig.ReadonlyPaths],
            },
            Annotations = annotations,
        };
    }

    /// <summary>limits: → linux.resources; CPUs become a CFS quota over a 100 ms period.</summary>
    private static OciResources? Resources(ResourceLimits l)
    {
        if (l.MemoryBytes is null && l.Cpus is null && l.Pids is null)
        {
            return null;
        }
        return new OciResources
        {
            Memory = l.MemoryBytes is long m ? new OciMemory { Limit = m } : null,
            Cpu = l.Cpus is double c ? new OciCpu { Quota = (long)Math.Round(c * 100000), Period = 100000 } : null,
            Pids = l.Pids is long p ? new OciPids { Limit = p } : null,
        };
    }

    /// <summary>Whether <paramref name="m"/> makes the host's <paramref name="path"/> visible at that same path.</summary>
    internal static bool ShowsAtItsOwnPath(HostMount m, string path)
    {
        var target = m.ContainerPath.TrimEnd('/');
        return (path == m.ContainerPath || path.StartsWith(target + "/", StringComparison.Ordinal))
            && m.HostPath.TrimEnd('/') + path[target.Length..] == path;
    }
}
