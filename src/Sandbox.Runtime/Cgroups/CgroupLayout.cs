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
        // Spans, not Split: a start reads this while the child mounts, and splitting every line of mountinfo cost that
        // 20 KB of garbage (five fresh pages of the heap, 10 us each on a virtual machine's page faults).
        var v1 = new Dictionary<string, string>(StringComparer.Ordinal);
        var roots = new Dictionary<string, string>(StringComparer.Ordinal);
        string? v2 = null;
        string v2Root = "/";
        var hierarchies = new List<(string MountPoint, string Key)>();
        foreach (var line in mountinfo.AsSpan().EnumerateLines())
        {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            var dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash < 0)
            {
                continue;
            }
            // Only cgroup file systems matter: the others are not split into fields (most lines of a start's mountinfo).
            var right = line[(dash + 3)..];
            if (!right.StartsWith("cgroup", StringComparison.Ordinal))
            {
                continue;
            }
            var left = line[..dash];
            if (Field(left, 3) is not { } rootField || Field(left, 4) is not { } mountField
                || Field(right, 0) is not { } fsType || Field(right, 2) is not { } superOptions)
            {
                continue;
            }
            var root = Unescape(left[rootField]);
            var mountPoint = Unescape(left[mountField]);
            if (right[fsType] is "cgroup2")
            {
                v2 ??= mountPoint;
                v2Root = root;
            }
            else if (right[fsType] is "cgroup")
            {
                string? key = null;
                foreach (var range in right[superOptions].Split(','))
                {
                    var option = right[superOptions][range];
                    if (option.StartsWith("name="))
                    {
                        var name = option.ToString();
                        key ??= name;
                        roots.TryAdd(name, root);
                        continue;
                    }
                    if (option is "rw" or "ro" or "xattr" or "noprefix" or "clone_children" or "cpuset_v2_mode" or "favordynmods" or "none"
                        || option.Contains('='))
                    {
                        continue;
                    }
                    var controller = option.ToString();
                    key ??= controller;
                    v1.TryAdd(controller, mountPoint);
                    roots.TryAdd(controller, root);
                }
                if (key is not null && !hierarchies.Exists(h => h.MountPoint == mountPoint))
                {
                    hierarchies.Add((mountPoint, key));
                }
            }
        }
        var own = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in procSelfCgroup.AsSpan().EnumerateLines())
        {
            // hierarchy-id:controllers:path (the path may hold colons)
            var first = line.IndexOf(':');
            var second = first < 0 ? -1 : line[(first + 1)..].IndexOf(':');
            if (second < 0)
            {
                continue;
            }
            var id = line[..first];
            var controllers = line.Slice(first + 1, second);
            var path = line[(first + second + 2)..].ToString();
            if (id is "0" && controllers.IsEmpty)
            {
                own[""] = Within(v2Root, path);
                continue;
            }
            foreach (var range in controllers.Split(','))
            {
                var controller = controllers[range].ToString();
                own[controller] = Within(roots.GetValueOrDefault(controller, "/"), path);
            }
        }
        var version = v1.Count > 0 ? "v1" : v2 is not null ? "v2" : "none";
        var list = new CgroupHierarchy[hierarchies.Count];
        for (var i = 0; i < list.Length; i++)
        {
            var (mountPoint, key) = hierarchies[i];
            list[i] = new CgroupHierarchy(key, mountPoint,
                own.GetValueOrDefault(key, "/") is var p && p != "/" ? mountPoint + p : mountPoint);
        }
        return new CgroupLayout(version, v1, v2, own) { Hierarchies = list };
    }

    /// <summary>The range of the space-separated field <paramref name="n"/> (from 0) of <paramref name="s"/>; null if it has fewer.</summary>
    private static Range? Field(ReadOnlySpan<char> s, int n)
    {
        var start = 0;
        for (var i = 0; i < n; i++)
        {
            var space = s[start..].IndexOf(' ');
            if (space < 0)
            {
                return null;
            }
            start += space + 1;
        }
        var end = s[start..].IndexOf(' ');
        return new Range(start, end < 0 ? s.Length : start + end);
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

    private static string Unescape(ReadOnlySpan<char> s) => s.Contains('\\')
        ? s.ToString().Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal)
        : s.ToString();
}

/// <param name="Key">Its first controller ("cpu" for cpu,cpuacct), or its name ("name=systemd").</param>
/// <param name="MountPoint">Where the host mounts it, e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup/cpu,cpuacct.</param>
/// <param name="OwnDirectory">This process's cgroup in it, as a host path.</param>
internal sealed record CgroupHierarchy(string Key, string MountPoint, string OwnDirectory);
