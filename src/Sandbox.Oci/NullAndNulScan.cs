using System.Text;

namespace Sandbox.Oci;

/// <summary>
/// Finds the two things a deserialized model may hold that no check of a field thinks of: a JSON null as a list
/// element or map value (System.Text.Json lets it into a List&lt;string&gt; or List&lt;OciHook&gt;, where it truncates
/// argv or crashes whatever reads the list), and a NUL character in a string (every string here ends up as a C string:
/// a path, an argument, a variable, a name, where NUL cuts it short). It walks the model field by field in the order
/// the model declares them, naming each by its JSON path. It is written out rather than driven by the serializer's
/// metadata so that `sandbox` does not carry that metadata (it is what made the binary's start slow); NullAndNulTests
/// hold it to a walk by that metadata on a model with a null and a NUL in every place, so a field added to the model
/// and not here fails them.
/// </summary>
public static class NullAndNulScan
{
    /// <summary>
    /// The problems of <paramref name="config"/>, each named by its JSON path below <paramref name="path"/>: nulls
    /// with <paramref name="nullCode"/>, NUL characters with <paramref name="nulCode"/>.
    /// </summary>
    public static IReadOnlyList<ConfigProblem> Scan(OciConfig? config, string path, string nullCode, string nulCode)
    {
        var s = new Scanner(nullCode, nulCode);
        if (config is not null)
        {
            s.Config(config, path);
        }
        return s.Problems;
    }

    /// <summary>The same for a seccomp profile (linux.seccomp, or a profile file).</summary>
    public static IReadOnlyList<ConfigProblem> Scan(OciSeccomp? profile, string path, string nullCode, string nulCode)
    {
        var s = new Scanner(nullCode, nulCode);
        if (profile is not null)
        {
            s.Seccomp(profile, path);
        }
        return s.Problems;
    }

    private sealed class Scanner(string nullCode, string nulCode)
    {
        public readonly List<ConfigProblem> Problems = [];

        public void Config(OciConfig c, string path)
        {
            String(c.OciVersion, path + ".ociVersion");
            if (c.Root is { } root)
            {
                String(root.Path, path + ".root.path");
            }
            Objects(c.Mounts, path + ".mounts", Mount);
            if (c.Process is { } p)
            {
                Process(p, path + ".process");
            }
            String(c.Hostname, path + ".hostname");
            String(c.Domainname, path + ".domainname");
            if (c.Hooks is { } h)
            {
                var at = path + ".hooks";
                Objects(h.Prestart, at + ".prestart", Hook);
                Objects(h.CreateRuntime, at + ".createRuntime", Hook);
                Objects(h.CreateContainer, at + ".createContainer", Hook);
                Objects(h.StartContainer, at + ".startContainer", Hook);
                Objects(h.Poststart, at + ".poststart", Hook);
                Objects(h.Poststop, at + ".poststop", Hook);
            }
            Map(c.Annotations, path + ".annotations");
            if (c.Linux is { } l)
            {
                Linux(l, path + ".linux");
            }
        }

        private void Mount(OciMount m, string path)
        {
            String(m.Destination, path + ".destination");
            String(m.Type, path + ".type");
            String(m.Source, path + ".source");
            Strings(m.Options, path + ".options");
            Objects(m.UidMappings, path + ".uidMappings", None);
            Objects(m.GidMappings, path + ".gidMappings", None);
        }

        private void Process(OciProcess p, string path)
        {
            String(p.Cwd, path + ".cwd");
            Strings(p.Env, path + ".env");
            Strings(p.Args, path + ".args");
            String(p.CommandLine, path + ".commandLine");
            Objects(p.Rlimits, path + ".rlimits", (r, at) => String(r.Type, at + ".type"));
            if (p.Capabilities is { } c)
            {
                var at = path + ".capabilities";
                Strings(c.Bounding, at + ".bounding");
                Strings(c.Effective, at + ".effective");
                Strings(c.Permitted, at + ".permitted");
                Strings(c.Inheritable, at + ".inheritable");
                Strings(c.Ambient, at + ".ambient");
            }
            if (p.User is { } u)
            {
                String(u.Username, path + ".user.username");
            }
            String(p.ApparmorProfile, path + ".apparmorProfile");
            String(p.SelinuxLabel, path + ".selinuxLabel");
        }

        private void Hook(OciHook h, string path)
        {
            String(h.Path, path + ".path");
            Strings(h.Args, path + ".args");
            Strings(h.Env, path + ".env");
        }

        private void Linux(OciLinux l, string path)
        {
            Objects(l.Namespaces, path + ".namespaces", (n, at) =>
            {
                String(n.Type, at + ".type");
                String(n.Path, at + ".path");
            });
            Objects(l.UidMappings, path + ".uidMappings", None);
            Objects(l.GidMappings, path + ".gidMappings", None);
            Objects(l.Devices, path + ".devices", (d, at) =>
            {
                String(d.Type, at + ".type");
                String(d.Path, at + ".path");
            });
            String(l.CgroupsPath, path + ".cgroupsPath");
            if (l.Resources is { } r)
            {
                Resources(r, path + ".resources");
            }
            String(l.RootfsPropagation, path + ".rootfsPropagation");
            if (l.Seccomp is { } s)
            {
                Seccomp(s, path + ".seccomp");
            }
            Map(l.Sysctl, path + ".sysctl");
            Strings(l.MaskedPaths, path + ".maskedPaths");
            Strings(l.ReadonlyPaths, path + ".readonlyPaths");
            String(l.MountLabel, path + ".mountLabel");
            if (l.TimeOffsets is { } offsets)
            {
                // The values are JSON elements: a JSON null among them is an element of kind Null, not a null.
                foreach (var key in offsets.Keys)
                {
                    Key(key, $"{path}.timeOffsets.{Printable(key)}");
                }
            }
            if (l.Personality is { } personality)
            {
                String(personality.Domain, path + ".personality.domain");
                Strings(personality.Flags, path + ".personality.flags");
            }
        }

        private void Resources(OciResources r, string path)
        {
            if (r.Cpu is { } cpu)
            {
                String(cpu.Cpus, path + ".cpu.cpus");
                String(cpu.Mems, path + ".cpu.mems");
            }
            if (r.BlockIo is { } io)
            {
                var at = path + ".blockIO";
                Objects(io.ThrottleReadBpsDevice, at + ".throttleReadBpsDevice", None);
                Objects(io.ThrottleWriteBpsDevice, at + ".throttleWriteBpsDevice", None);
                Objects(io.ThrottleReadIOPSDevice, at + ".throttleReadIOPSDevice", None);
                Objects(io.ThrottleWriteIOPSDevice, at + ".throttleWriteIOPSDevice", None);
            }
            Objects(r.Devices, path + ".devices", (d, at) =>
            {
                String(d.Type, at + ".type");
                String(d.Access, at + ".access");
            });
            Map(r.Unified, path + ".unified");
        }

        public void Seccomp(OciSeccomp s, string path)
        {
            String(s.DefaultAction, path + ".defaultAction");
            Strings(s.Architectures, path + ".architectures");
            Strings(s.Flags, path + ".flags");
            String(s.ListenerPath, path + ".listenerPath");
            String(s.ListenerMetadata, path + ".listenerMetadata");
            Objects(s.Syscalls, path + ".syscalls", (rule, at) =>
            {
                Strings(rule.Names, at + ".names");
                String(rule.Action, at + ".action");
                Objects(rule.Args, at + ".args", (a, argAt) => String(a.Op, argAt + ".op"));
            });
        }

        private static void None<T>(T value, string path)
        {
        }

        private void String(string? value, string path)
        {
            if (value is not null && value.Contains('\0', StringComparison.Ordinal))
            {
                Problems.Add(Nul(path, nulCode));
            }
        }

        private void Key(string key, string path) => String(key, path);

        private void Strings(List<string>? list, string path) => Objects(list, path, String);

        private void Objects<T>(List<T>? list, string path, Action<T, string> walk)
            where T : class
        {
            if (list is null)
            {
                return;
            }
            for (var i = 0; i < list.Count; i++)
            {
                Element(list[i], $"{path}[{i}]", walk);
            }
        }

        private void Map(Dictionary<string, string>? map, string path)
        {
            if (map is null)
            {
                return;
            }
            foreach (var (key, value) in map)
            {
                var at = $"{path}.{Printable(key)}";
                Key(key, at);
                Element(value, at, String);
            }
        }

        private void Element<T>(T? item, string path, Action<T, string> walk)
            where T : class
        {
            if (item is null)
            {
                Problems.Add(new(nullCode, path, "null is not allowed", "remove the null, or put a value of the right type in its place"));
            }
            else
            {
                walk(item, path);
            }
        }
    }

    private static ConfigProblem Nul(string path, string code) =>
        new(code, path, "holds a NUL character (\\u0000), which no path, argument or name given to the kernel can contain",
            "remove the \\u0000");

    /// <summary>A key as it can be shown in a path: control characters escaped, as JSON writes them.</summary>
    public static string Printable(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }
        var sb = new StringBuilder();
        foreach (var c in text)
        {
            sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        }
        return sb.ToString();
    }
}
