using YamlDotNet.RepresentationModel;
using Sandbox.Oci;

namespace Sandbox.Spec;

// The sections that name paths: host paths resolve against the directory of sandbox.yaml and must exist now,
// so a typo fails here with a line number rather than later as a mount error inside the container.
internal sealed partial class SpecReader
{
    private List<HostMount> ReadMounts(MappingView root)
    {
        var mounts = new List<HostMount>();
        foreach (var entry in Entries(root, "mounts", SpecKeys.Mount))
        {
            var source = HostPath(entry, mustBeFile: false);
            var target = Target(entry, mayBeRoot: false);
            var writable = entry.Bool("writable", false);
            if (source is not null && target is not null)
            {
                mounts.Add(new HostMount(source, target, writable, reader.Locate(entry.Node)));
            }
        }

        return mounts;
    }

    private List<TmpfsMount> ReadTmpfs(MappingView root)
    {
        var tmpfs = new List<TmpfsMount>();
        foreach (var entry in Entries(root, "tmpfs", SpecKeys.Tmpfs))
        {
            var target = Target(entry, mayBeRoot: false);
            var size = entry.Required("size") is not null
                ? Quantity<long>(entry, "size", Units.TryParseSize, $"write bytes, or a number with a unit: {Units.SizeUnits}; for example 64Mi")
                : null;

            // /tmp is shared by every user and needs the sticky bit; other directories are the owner's.
            var mode = ReadMode(entry) ?? (target == "/tmp" ? 0b1_111_111_111u : 0b111_101_101u);
            if (target is not null && size is { } bytes)
            {
                tmpfs.Add(new TmpfsMount(target, bytes, mode, reader.Locate(entry.Node)));
            }
        }

        return tmpfs;
    }

    private List<CopiedPath> ReadFiles(MappingView root)
    {
        var files = new List<CopiedPath>();
        foreach (var entry in Entries(root, "files", SpecKeys.File))
        {
            var source = HostPath(entry, mustBeFile: false);
            var target = Target(entry, mayBeRoot: true);
            if (source is not null && target is not null)
            {
                files.Add(new CopiedPath(source, target, reader.Locate(entry.Node)));
            }
        }

        return files;
    }

    /// <summary>A built-in profile name, or the absolute path of an existing profile file.</summary>
    private string? ReadSeccomp(MappingView root)
    {
        if (root.LocatedText("seccomp") is not { } seccomp)
        {
            return null;
        }

        if (SpecKeys.SeccompProfiles.Contains(seccomp.Value))
        {
            return seccomp.Value;
        }

        // A bare word is a misspelled profile name far more often than a file beside sandbox.yaml without ".json".
        if (!seccomp.Value.Contains('/', StringComparison.Ordinal) && !seccomp.Value.EndsWith(".json", StringComparison.Ordinal))
        {
            reader.ReportChoice(seccomp.Node, "seccomp", seccomp.Value, SpecKeys.SeccompProfiles, "a path to an OCI seccomp profile (./profile.json)");
            return null;
        }

        return ExistingHostPath(seccomp, mustBeFile: true);
    }

    /// <summary>The entries of a list of mappings (mounts, tmpfs, files), each with its keys checked.</summary>
    private IEnumerable<MappingView> Entries(MappingView root, string key, IReadOnlyList<string> keys)
    {
        if (!root.TryGet(key, out var node) || reader.Sequence(node, key) is not { } sequence)
        {
            yield break;
        }

        for (var i = 0; i < sequence.Children.Count; i++)
        {
            if (reader.Mapping(sequence.Children[i], $"{key}[{i}]", keys) is { } entry)
            {
                yield return entry;
            }
            else if (YamlNodes.IsNull(sequence.Children[i]))
            {
                reader.WrongType(sequence.Children[i], $"{key}[{i}]", $"a mapping with keys {string.Join(", ", keys)}");
            }
        }
    }

    private string? HostPath(MappingView entry, bool mustBeFile) =>
        entry.Required("source") is not null && entry.LocatedText("source") is { } source ? ExistingHostPath(source, mustBeFile) : null;

    private string? ExistingHostPath(Located path, bool mustBeFile)
    {
        if (path.Value.Length == 0)
        {
            reader.Report(SpecErrorCodes.HostPathMissing, path.Node, $"`{path.Path}` is empty", "name a file or directory, relative to the directory of sandbox.yaml");
            return null;
        }

        var full = Path.GetFullPath(path.Value, _baseDirectory);
        var exists = mustBeFile ? File.Exists(full) : File.Exists(full) || Directory.Exists(full);
        // File.Exists is true for a device or a FIFO too, which a reader would never finish (or never open).
        var notRegular = exists && mustBeFile ? BoundedFile.NotRegular(full) : null;
        if (!exists || notRegular is not null)
        {
            var what = notRegular is not null ? $"is {notRegular}, not a regular file"
                : mustBeFile && Directory.Exists(full) ? "is a directory, not a file" : "does not exist";
            reader.Report(SpecErrorCodes.HostPathMissing, path.Node, $"`{path.Path}` {YamlNodes.Shorten(full)} {what}",
                $"relative paths start at {_baseDirectory}; create the {(mustBeFile ? "file" : "path")} or correct the name");
            return null;
        }

        return full;
    }

    /// <summary>The entry's normalized target, claimed for the duplicate check.</summary>
    private string? Target(MappingView entry, bool mayBeRoot)
    {
        if (entry.Required("target") is null || entry.LocatedText("target") is not { } target || ContainerPath(target) is not { } normalized)
        {
            return null;
        }

        if (!mayBeRoot && normalized == "/")
        {
            reader.Report(SpecErrorCodes.TargetIsRoot, target.Node, $"`{target.Path}` is the container's root directory",
                "mount below /, such as /data; the root itself comes from `base` and `readOnlyRoot`");
            return null;
        }

        _targets.Add(target with { Value = normalized });
        return normalized;
    }

    /// <summary>Permission bits as octal digits, quoted ("1777") or not (1777, 0o755); at most 07777.</summary>
    private uint? ReadMode(MappingView entry)
    {
        if (entry.LocatedText("mode") is not { } mode)
        {
            return null;
        }

        var digits = mode.Value.StartsWith("0o", StringComparison.Ordinal) ? mode.Value[2..] : mode.Value;
        if (digits.Length is > 0 and <= 5 && digits.All(c => c is >= '0' and <= '7'))
        {
            var bits = Convert.ToUInt32(digits, 8);
            if (bits <= 0b111_111_111_111u)
            {
                return bits;
            }
        }

        reader.Report(SpecErrorCodes.InvalidMode, mode.Node, $"`{mode.Path}` '{YamlNodes.Shorten(mode.Value)}' is not an octal file mode up to 7777",
            "write octal permission digits, such as \"1777\" or \"0755\"");
        return null;
    }
}
