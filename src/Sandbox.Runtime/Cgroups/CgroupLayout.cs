namespace Sandbox.Runtime.Cgroups;

/// <summary>
/// Which cgroup version this host runs and where: read from /proc/self/mountinfo (the mounts) and
/// /proc/self/cgroup (where this process sits). The hybrid layout (v1 controllers, plus a cgroup2 mount with no
/// controllers at /sys/fs/cgroup/unified) counts as v1.
/// </summary>
internal sealed record CgroupLayout(
    string Version,
    IReadOnlyDictionary<string, string> V1Mounts,
    string? V2Mount,
    IReadOnlyDictionary<string, string> OwnPaths)
{
    /// <summary>The v1 hierarchies, one per mount (a named one such as name=systemd too), in mountinfo's order.</summary>
    public IReadOnlyList<CgroupHierarchy> Hierarchies { get; init; } = [];

    /// <summary>The directory this process's cgroup is for a v1 controller (or v2 with controller ""), as a host path.</summary>
    public string? OwnDirectory(string controller)
    {
        var mount = controller.Length == 0 ? V2Mount : V1Mounts.GetValueOrDefault(controller);
        if (mount is null)
        {
            return null;
        }
        var own = OwnPaths.GetValueOrDefault(controller, "/");
        return own == "/" ? mount : mount + own;
    }

    public static CgroupLayout Read(string procRoot = "/proc") =>
        Parse(ReadText(Path.Join(procRoot, "self/mountinfo")), ReadText(Path.Join(procRoot, "self/cgroup")));

    /// <summary>
    /// A /proc file with one open and read (File.ReadAllText's FileStream and StreamReader cost `sandbox run` about
    /// 0.1 M instructions here); where that fails, File.ReadAllText says why, as it always did.
    /// </summary>
    private static string ReadText(string path) => RawFiles.ReadText(path) ?? File.ReadAllText(path);

    public static CgroupLayout Parse(string mountinfo, string procSelfCgroup)
    {
        var v1 = new Dictionary<string, string>(StringComparer.Ordinal);
        var roots = new Dictionary<string, string>(StringComparer.Ordinal);
        string? v2 = null;
        string v2Root = "/";
        var hierarchies = new List<(string MountPoint, string Key)>();
        foreach (var line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            var dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash < 0)
            {
                continue;
            }
            // Only cgroup file systems matter: the others are not split into fields (most lines of a start's mountinfo).
            if (!line.AsSpan(dash + 3).StartsWith("cgroup", StringComparison.Ordinal))
            {
                continue;
            }
            var left = line[..dash].Split(' ');
            var right = line[(dash + 3)..].Split(' ');
            if (left.Length < 5 || right.Length < 3)
            {
                continue;
            }
            var root = Unescape(left[3]);
            var mountPoint = Unescape(left[4]);
            if (right[0] == "cgroup2")
            {
                v2 ??= mountPoint;
                v2Root = root;
            }
            else if (right[0] == "cgroup")
            {
                string? key = null;
                foreach (var option in right[2].Split(','))
                {
                    if (option.StartsWith("name=", StringComparison.Ordinal))
                    {
                        key ??= option;
                        roots.TryAdd(option, root);
                        continue;
                    }
                    if (option is "rw" or "ro" or "xattr" or "noprefix" or "clone_children" or "cpuset_v2_mode" or "favordynmods" or "none"
                        || option.Contains('=', StringComparison.Ordinal))
                    {
                        continue;
                    }
                    key ??= option;
                    v1.TryAdd(option, mountPoint);
                    roots.TryAdd(option, root);
                }
                if (key is not null && !hierarchies.Exists(h => h.MountPoint == mountPoint))
                {
                    hierarchies.Add((mountPoint, key));
                }
            }
        }
        var own = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in procSelfCgroup.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3)
            {
                continue;
            }
            if (parts[0] == "0" && parts[1].Length == 0)
            {
                own[""] = Within(v2Root, parts[2]);
                continue;
            }
            foreach (var controller in parts[1].Split(','))
            {
                own[controller] = Within(roots.GetValueOrDefault(controller, "/"), parts[2]);
            }
        }
        var version = v1.Count > 0 ? "v1" : v2 is not null ? "v2" : "none";
        return new CgroupLayout(version, v1, v2, own)
        {
            Hierarchies = [.. hierarchies.Select(h => new CgroupHierarchy(h.Key, h.MountPoint,
                own.GetValueOrDefault(h.Key, "/") is var p && p != "/" ? h.MountPoint + p : h.MountPoint))],
        };
    }

    /// <summary>/proc/self/cgroup paths are relative to the hierarchy's root; a mount of a subtree shows less.</summary>
    private static string Within(string mountRoot, string path)
    {
        if (mountRoot == "/" || !path.StartsWith(mountRoot, StringComparison.Ordinal))
        {
            return path;
        }
        var rest = path[mountRoot.Length..];
        return rest.Length == 0 ? "/" : rest;
    }

    private static string Unescape(string s) => s.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
        .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}

/// <param name="Key">Its first controller ("cpu" for cpu,cpuacct), or its name ("name=systemd").</param>
/// <param name="MountPoint">Where the host mounts it, e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup/cpu,cpuacct.</param>
/// <param name="OwnDirectory">This process's cgroup in it, as a host path.</param>
internal sealed record CgroupHierarchy(string Key, string MountPoint, string OwnDirectory);
