namespace Sandbox.Oci;

public sealed record ConfigProblem(string Code, string Path, string Message, string? Hint = null);

/// <summary>Checks of config.json that need no host: required fields, known names, consistent values.</summary>
public static class OciConfigValidator
{
    public static IReadOnlyList<ConfigProblem> Validate(OciConfig c) => Validate(c, scanForNullAndNul: true);

    /// <param name="scanForNullAndNul">False when the reader of the JSON saw no null in a list or map and no NUL in a
    /// string: the scan, which walks the whole model, would find nothing.</param>
    internal static IReadOnlyList<ConfigProblem> Validate(OciConfig c, bool scanForNullAndNul)
    {
        // Nulls in lists and NULs in strings first: every check below, and the runtime, may assume neither is there.
        var shape = scanForNullAndNul ? NullAndNulScan.Scan(c, "$", ErrorCodes.ConfigMalformed, ErrorCodes.ConfigInvalid) : [];
        if (shape.Count > 0)
        {
            return shape;
        }
        var p = new List<ConfigProblem>();
        if (string.IsNullOrEmpty(c.OciVersion))
        {
            p.Add(new(ErrorCodes.ConfigVersion, "$.ociVersion", "missing", $"set \"ociVersion\": \"{OciVersions.Current}\""));
        }
        else if (!OciVersions.IsSupported(c.OciVersion))
        {
            p.Add(new(ErrorCodes.ConfigVersion, "$.ociVersion", $"version \"{c.OciVersion}\" is not supported (1.0.0 to 1.3.x are)",
                $"set \"ociVersion\": \"{OciVersions.Current}\""));
        }
        if (string.IsNullOrEmpty(c.Root?.Path))
        {
            p.Add(new(ErrorCodes.ConfigInvalid, "$.root.path", "missing: the bundle needs a root filesystem", "set root.path, e.g. \"rootfs\""));
        }
        ValidateProcess(c.Process, p);
        ValidateMounts(c.Mounts, p);
        ValidateHooks(c.Hooks, p);
        ValidateLinux(c.Linux, p);
        Sysctls.Validate(c, p);
        return p;
    }

    private static void ValidateProcess(OciProcess? proc, List<ConfigProblem> p)
    {
        if (proc is null)
        {
            p.Add(new(ErrorCodes.ConfigInvalid, "$.process", "missing: there is nothing to run", "add a process with args and cwd"));
            return;
        }
        if (proc.Args is null || proc.Args.Count == 0 || string.IsNullOrEmpty(proc.Args[0]))
        {
            p.Add(new(ErrorCodes.ConfigInvalid, "$.process.args", "must hold at least the program to run"));
        }
        if (string.IsNullOrEmpty(proc.Cwd) || proc.Cwd[0] != '/')
        {
            p.Add(new(ErrorCodes.ConfigInvalid, "$.process.cwd", $"must be an absolute path, not \"{proc.Cwd}\"", "set \"cwd\": \"/\""));
        }
        for (var i = 0; i < (proc.Env?.Count ?? 0); i++)
        {
            if (!proc.Env![i].Contains('=', StringComparison.Ordinal))
            {
                p.Add(new(ErrorCodes.ConfigInvalid, $"$.process.env[{i}]", $"\"{proc.Env[i]}\" is not NAME=VALUE"));
            }
        }
        if (proc.ConsoleSize is { } size && (size.Height > ushort.MaxValue || size.Width > ushort.MaxValue))
        {
            p.Add(new(ErrorCodes.ConfigInvalid, "$.process.consoleSize", $"{size.Height}x{size.Width} is larger than a terminal can be (65535)"));
        }
        if (!string.IsNullOrEmpty(proc.ApparmorProfile) || !string.IsNullOrEmpty(proc.SelinuxLabel))
        {
            p.Add(new(ErrorCodes.Unsupported, "$.process", "AppArmor profiles and SELinux labels are not supported",
                "remove apparmorProfile and selinuxLabel"));
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (proc.Rlimits?.Count ?? 0); i++)
        {
            var r = proc.Rlimits![i];
            var path = $"$.process.rlimits[{i}]";
            if (r.Type is null || LinuxNames.RlimitNumber(r.Type) < 0)
            {
                p.Add(new(ErrorCodes.RlimitImpossible, path + ".type", $"unknown rlimit \"{r.Type}\"",
                    "use one of " + string.Join(", ", LinuxNames.Rlimits)));
            }
            else if (!seen.Add(r.Type))
            {
                p.Add(new(ErrorCodes.RlimitImpossible, path + ".type", $"{r.Type} is set twice"));
            }
            if (r.Soft > r.Hard)
            {
                p.Add(new(ErrorCodes.RlimitImpossible, path, $"soft limit {r.Soft} is above the hard limit {r.Hard}",
                    "make soft ≤ hard"));
            }
        }
        var caps = proc.Capabilities;
        if (caps is not null)
        {
            CheckCaps(caps.Bounding, "bounding", p);
            CheckCaps(caps.Effective, "effective", p);
            CheckCaps(caps.Permitted, "permitted", p);
            CheckCaps(caps.Inheritable, "inheritable", p);
            CheckCaps(caps.Ambient, "ambient", p);
        }
    }

    private static void CheckCaps(List<string>? names, string set, List<ConfigProblem> p)
    {
        for (var i = 0; i < (names?.Count ?? 0); i++)
        {
            if (LinuxNames.CapabilityNumber(names![i]) < 0)
            {
                p.Add(new(ErrorCodes.CapabilityUnknown, $"$.process.capabilities.{set}[{i}]", $"unknown capability \"{names[i]}\"",
                    "capability names are upper case with the CAP_ prefix, e.g. CAP_NET_BIND_SERVICE"));
            }
        }
    }

    private static void ValidateMounts(List<OciMount>? mounts, List<ConfigProblem> p)
    {
        for (var i = 0; i < (mounts?.Count ?? 0); i++)
        {
            var m = mounts![i];
            if (string.IsNullOrEmpty(m.Destination))
            {
                p.Add(new(ErrorCodes.ConfigInvalid, $"$.mounts[{i}].destination", "missing"));
            }
            var bind = m.Type == "bind" || (m.Options?.Contains("bind") ?? false) || (m.Options?.Contains("rbind") ?? false);
            if (bind && string.IsNullOrEmpty(m.Source))
            {
                p.Add(new(ErrorCodes.ConfigInvalid, $"$.mounts[{i}].source", "a bind mount needs a source"));
            }
            if (!bind && string.IsNullOrEmpty(m.Type))
            {
                p.Add(new(ErrorCodes.ConfigInvalid, $"$.mounts[{i}].type", "missing: say which filesystem to mount (tmpfs, proc, ...) or use \"bind\""));
            }
            if ((m.UidMappings is { Count: > 0 }) != (m.GidMappings is { Count: > 0 }))
            {
                p.Add(new(ErrorCodes.ConfigInvalid, $"$.mounts[{i}]", "uidMappings and gidMappings go together: give both or neither"));
            }
            foreach (var (map, name) in new[] { (m.UidMappings, "uidMappings"), (m.GidMappings, "gidMappings") })
            {
                for (var j = 0; j < (map?.Count ?? 0); j++)
                {
                    if (map![j].Size == 0)
                    {
                        p.Add(new(ErrorCodes.ConfigInvalid, $"$.mounts[{i}].{name}[{j}].size", "must be at least 1"));
                    }
                }
            }
        }
    }

    private static void ValidateHooks(OciHooks? hooks, List<ConfigProblem> p)
    {
        if (hooks is null)
        {
            return;
        }
        Check(hooks.Prestart, "prestart");
        Check(hooks.CreateRuntime, "createRuntime");
        Check(hooks.CreateContainer, "createContainer");
        Check(hooks.StartContainer, "startContainer");
        Check(hooks.Poststart, "poststart");
        Check(hooks.Poststop, "poststop");

        void Check(List<OciHook>? list, string name)
        {
            for (var i = 0; i < (list?.Count ?? 0); i++)
            {
                var h = list![i];
                if (string.IsNullOrEmpty(h.Path) || h.Path[0] != '/')
                {
                    p.Add(new(ErrorCodes.ConfigInvalid, $"$.hooks.{name}[{i}].path", $"must be an absolute path, not \"{h.Path}\""));
                }
                if (h.Timeout is <= 0)
                {
                    p.Add(new(ErrorCodes.ConfigInvalid, $"$.hooks.{name}[{i}].timeout", "must be greater than zero"));
                }
            }
        }
    }

    private static void ValidateLinux(OciLinux? linux, List<ConfigProblem> p)
    {
        if (linux is null)
        {
            return;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (linux.Namespaces?.Count ?? 0); i++)
        {
            var ns = linux.Namespaces![i];
            if (ns.Type is null || !LinuxNames.NamespaceTypes.Contains(ns.Type))
            {
                p.Add(new(ErrorCodes.NamespaceUnknown, $"$.linux.namespaces[{i}].type", $"unknown namespace type \"{ns.Type}\"",
                    "use one of " + string.Join(", ", LinuxNames.NamespaceTypes)));
            }
            else if (!seen.Add(ns.Type))
            {
                p.Add(new(ErrorCodes.NamespaceUnknown, $"$.linux.namespaces[{i}].type", $"namespace \"{ns.Type}\" is listed twice"));
            }
            if (!string.IsNullOrEmpty(ns.Path) && ns.Path[0] != '/')
            {
                p.Add(new(ErrorCodes.ConfigInvalid, $"$.linux.namespaces[{i}].path", $"must be an absolute path, not \"{ns.Path}\""));
            }
        }
        CheckMappings(linux.UidMappings, "uidMappings", p);
        CheckMappings(linux.GidMappings, "gidMappings", p);
        for (var i = 0; i < (linux.Devices?.Count ?? 0); i++)
        {
            var d = linux.Devices![i];
            if (d.Type is not ("c" or "b" or "u" or "p"))
            {
                p.Add(new(ErrorCodes.ConfigInvalid, $"$.linux.devices[{i}].type", $"unknown device type \"{d.Type}\" (c, b, u or p)"));
            }
            if (string.IsNullOrEmpty(d.Path) || d.Path[0] != '/')
            {
                p.Add(new(ErrorCodes.ConfigInvalid, $"$.linux.devices[{i}].path", $"must be an absolute path, not \"{d.Path}\""));
            }
        }
        if (linux.RootfsPropagation is { } prop && !LinuxNames.Propagations.Contains(prop))
        {
            p.Add(new(ErrorCodes.ConfigInvalid, "$.linux.rootfsPropagation", $"unknown propagation \"{prop}\"",
                "use one of " + string.Join(", ", LinuxNames.Propagations)));
        }
        if (linux.Resources is { } res)
        {
            ValidateResources(res, p);
        }
        if (linux.Personality is { } persona)
        {
            if (LinuxNames.PersonalityNumber(persona.Domain) is null)
            {
                p.Add(new(ErrorCodes.ConfigInvalid, "$.linux.personality.domain", $"unknown execution domain \"{persona.Domain}\"",
                    "use LINUX or LINUX32"));
            }
            if (persona.Flags is { Count: > 0 })
            {
                p.Add(new(ErrorCodes.Unsupported, "$.linux.personality.flags", "personality flags are not supported", "remove linux.personality.flags"));
            }
        }
        if (linux.TimeOffsets is { Count: > 0 })
        {
            p.Add(new(ErrorCodes.Unsupported, "$.linux.timeOffsets", "time namespace offsets are not supported yet", "remove linux.timeOffsets"));
        }
        for (var i = 0; i < (linux.MaskedPaths?.Count ?? 0); i++)
        {
            CheckAbsolute(linux.MaskedPaths![i], $"$.linux.maskedPaths[{i}]", p);
        }
        for (var i = 0; i < (linux.ReadonlyPaths?.Count ?? 0); i++)
        {
            CheckAbsolute(linux.ReadonlyPaths![i], $"$.linux.readonlyPaths[{i}]", p);
        }
    }

    /// <summary>What a process needs at the very least to start (the dynamic loader, a libc, a small heap).</summary>
    public const long MinimumMemoryLimit = 4 * 1024 * 1024;

    private static void ValidateResources(OciResources r, List<ConfigProblem> p)
    {
        const string at = "$.linux.resources";
        void Refuse(string field) => p.Add(new(ErrorCodes.Unsupported, $"{at}.{field}", "is not enforced by this version of sandbox",
            $"remove {field}; a limit that cannot be enforced is refused rather than dropped"));
        if (r.Memory is { } m)
        {
            if (m.Limit is long l && l != -1 && l < MinimumMemoryLimit)
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.memory.limit", $"{l} bytes is below what a process can start with ({MinimumMemoryLimit} bytes)",
                    "give at least 4 MiB, or -1 for no limit"));
            }
            if (m.Reservation is < -1)
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.memory.reservation", "must be -1 or a number of bytes"));
            }
            if (m.Swap is long sw && sw != -1 && (sw < 0 || (m.Limit is long lim && lim > 0 && sw < lim)))
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.memory.swap", "is memory plus swap: it must be -1 or at least memory.limit"));
            }
            if (m.Swappiness is > 100)
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.memory.swappiness", $"{m.Swappiness} is outside 0..100"));
            }
            if (m.KernelTcp is < -1)
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.memory.kernelTCP", "must be -1 or a number of bytes"));
            }
        }
        if (r.Cpu is { } c)
        {
            if (c.Shares is < 2 or > 262144)
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.cpu.shares", $"{c.Shares} is outside 2..262144"));
            }
            if (c.Quota is long q && q != -1 && q < 1000)
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.cpu.quota", $"{q} µs is not a quota (at least 1000, or -1 for none)"));
            }
            if (c.Period is < 1000 or > 1000000)
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.cpu.period", $"{c.Period} µs is outside 1000..1000000"));
            }
            if (c.RealtimeRuntime is not null || c.RealtimePeriod is not null) { Refuse("cpu.realtimeRuntime"); }
        }
        if (r.Pids is { Limit: < -1 })
        {
            p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.pids.limit", $"{r.Pids.Limit} is negative", "use a count, or 0 or -1 for no limit"));
        }
        if (r.BlockIo is { } b)
        {
            if (b.Weight is < 10 or > 1000)
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.blockIO.weight", $"{b.Weight} is outside 10..1000"));
            }
            if (b.LeafWeight is not null || b.WeightDevice is not null)
            {
                Refuse("blockIO (weight and the throttles are supported, not leafWeight or weightDevice)");
            }
            foreach (var (name, throttles) in new[]
                     {
                         ("throttleReadBpsDevice", b.ThrottleReadBpsDevice), ("throttleWriteBpsDevice", b.ThrottleWriteBpsDevice),
                         ("throttleReadIOPSDevice", b.ThrottleReadIOPSDevice), ("throttleWriteIOPSDevice", b.ThrottleWriteIOPSDevice),
                     })
            {
                for (var i = 0; i < (throttles?.Count ?? 0); i++)
                {
                    if (throttles![i] is not { Major: >= 0 and <= uint.MaxValue, Minor: >= 0 and <= uint.MaxValue })
                    {
                        p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.blockIO.{name}[{i}]", "a throttle names one block device by its major and minor numbers"));
                    }
                }
            }
        }
        if (r.HugepageLimits is { ValueKind: System.Text.Json.JsonValueKind.Array } h && h.GetArrayLength() > 0) { Refuse("hugepageLimits"); }
        if (r.Network is { ValueKind: System.Text.Json.JsonValueKind.Object }) { Refuse("network"); }
        if (r.Rdma is { ValueKind: System.Text.Json.JsonValueKind.Object }) { Refuse("rdma"); }
        if (r.Unified is { Count: > 0 }) { Refuse("unified"); }
        for (var i = 0; i < (r.Devices?.Count ?? 0); i++)
        {
            var d = r.Devices![i];
            if (d is null)
            {
                p.Add(new(ErrorCodes.ConfigInvalid, $"{at}.devices[{i}]", "null is not a device rule"));
                continue;
            }
            if (d.Type is not (null or "a" or "c" or "b"))
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.devices[{i}].type", $"unknown device type \"{d.Type}\" (a, c or b)"));
            }
            if (d.Access is { } access && access.Any(ch => ch is not ('r' or 'w' or 'm')))
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.devices[{i}].access", $"\"{access}\" is not a combination of r, w and m"));
            }
            if (d.Major is < -1 or > uint.MaxValue || d.Minor is < -1 or > uint.MaxValue)
            {
                p.Add(new(ErrorCodes.ResourceInvalid, $"{at}.devices[{i}]", "major and minor are device numbers (-1 or absent for any)"));
            }
        }
    }

    private static void CheckAbsolute(string path, string jsonPath, List<ConfigProblem> p)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            p.Add(new(ErrorCodes.ConfigInvalid, jsonPath, $"must be an absolute path, not \"{path}\""));
        }
    }

    private static void CheckMappings(List<OciIdMapping>? maps, string name, List<ConfigProblem> p)
    {
        for (var i = 0; i < (maps?.Count ?? 0); i++)
        {
            if (maps![i].Size == 0)
            {
                p.Add(new(ErrorCodes.IdMapping, $"$.linux.{name}[{i}].size", "must be at least 1"));
            }
        }
    }
}
