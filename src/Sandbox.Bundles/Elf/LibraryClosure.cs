namespace Sandbox.Bundles.Elf;

/// <summary>
/// The transitive DT_NEEDED closure of some ELF files, resolved the way the dynamic loader resolves it:
/// DT_RPATH (when there is no DT_RUNPATH), DT_RUNPATH, then ld.so.conf and the default directories; $ORIGIN is
/// expanded; a candidate of another machine type is skipped. Symlinks are kept as symlinks to their targets.
/// </summary>
internal sealed class LibraryClosure
{
    private readonly string _root;

    // Memos: a closure touches the same few directories and links hundreds of times.
    private readonly Dictionary<string, ElfFile?> _elf = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Link, string Next)?> _hops = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _matches = new(StringComparer.Ordinal);
    private readonly Dictionary<ushort, IReadOnlyList<string>> _searchDirs = [];
    private readonly Dictionary<string, string[]> _names = new(StringComparer.Ordinal);

    public LibraryClosure(string root = "/") => _root = root;

    /// <summary>Every file needed (absolute paths as seen from the root), including symlinks on the way.</summary>
    public SortedSet<string> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>Libraries no search path held: the bundle will not run without them.</summary>
    public List<(string Needed, string By)> Missing { get; } = [];

    public void Add(string path)
    {
        var queue = new Queue<string>();
        queue.Enqueue(path);
        while (queue.Count > 0)
        {
            var file = queue.Dequeue();
            foreach (var f in WithLinks(file))
            {
                Files.Add(f);
            }
            var real = RealPath(file);
            var elf = Read(real);
            if (elf is null)
            {
                continue;
            }
            if (elf.Interpreter is { } interp && !Files.Contains(interp))
            {
                queue.Enqueue(interp);
            }
            var search = SearchPath(elf, real);
            foreach (var needed in elf.Needed)
            {
                var found = needed.Contains('/') ? needed : search.Select(d => d + "/" + needed).FirstOrDefault(c => Matches(c, elf.Machine));
                if (found is null)
                {
                    Missing.Add((needed, file));
                }
                else if (!Files.Contains(found))
                {
                    queue.Enqueue(found);
                }
            }
        }
    }

    private List<string> SearchPath(ElfFile elf, string realPath)
    {
        var origin = Path.GetDirectoryName(realPath) ?? "/";
        string Expand(string d) => d.Replace("$ORIGIN", origin, StringComparison.Ordinal).Replace("${ORIGIN}", origin, StringComparison.Ordinal);
        var dirs = new List<string>();
        if (elf.RunPath.Count == 0)
        {
            dirs.AddRange(elf.RPath.Select(Expand));
        }
        dirs.AddRange(elf.RunPath.Select(Expand));
        dirs.AddRange(SearchDirectories(elf.Machine));
        return dirs;
    }

    /// <summary>
    /// The names in a directory, read once. Enumerating by name only matters: .NET's file enumeration stats every
    /// symlink to tell files from directories, and the library directories are mostly symlinks.
    /// </summary>
    public string[] Names(string dir)
    {
        if (!_names.TryGetValue(dir, out var names))
        {
            var host = Path.Join(_root, dir);
            _names[dir] = names = Directory.Exists(host)
                ? new System.IO.Enumeration.FileSystemEnumerable<string>(host, (ref System.IO.Enumeration.FileSystemEntry e) => e.FileName.ToString()).ToArray()
                : [];
        }
        return names;
    }

    /// <summary>ld.so.conf and the default directories, read once per closure.</summary>
    public IReadOnlyList<string> SearchDirectories(ushort machine)
    {
        if (!_searchDirs.TryGetValue(machine, out var dirs))
        {
            _searchDirs[machine] = dirs = LdSoConf.SearchDirectories(_root, machine);
        }
        return dirs;
    }

    private bool Matches(string candidate, ushort machine)
    {
        var key = candidate + "\0" + machine;
        if (!_matches.TryGetValue(key, out var ok))
        {
            _matches[key] = ok = File.Exists(Path.Join(_root, candidate)) && Read(RealPath(candidate)) is { } e && e.Machine == machine;
        }
        return ok;
    }

    private ElfFile? Read(string path)
    {
        if (!_elf.TryGetValue(path, out var elf))
        {
            _elf[path] = elf = ElfFile.TryRead(Path.Join(_root, path));
        }
        return elf;
    }

    /// <summary>
    /// The symlinks met on the way to the file (each by its own path: "/lib" for a merged /usr, or
    /// "/usr/lib/x86_64-linux-gnu/libz.so.1"), then the real file: the bundle needs each of them.
    /// </summary>
    private IEnumerable<string> WithLinks(string path)
    {
        var current = Normalize(path);
        for (var hops = 0; hops < 40; hops++)
        {
            var hop = ResolveOneLink(current);
            if (hop is null)
            {
                yield return current;
                yield break;
            }
            yield return hop.Value.Link;
            current = hop.Value.Next;
        }
    }

    private string RealPath(string path) => WithLinks(path).Last();

    /// <summary>Finds the first symlink along the path; returns it and the path with that link replaced.</summary>
    private (string Link, string Next)? ResolveOneLink(string path)
    {
        if (!_hops.TryGetValue(path, out var hop))
        {
            _hops[path] = hop = FindFirstLink(path);
        }
        return hop;
    }

    private (string Link, string Next)? FindFirstLink(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 1; i <= parts.Length; i++)
        {
            var prefix = "/" + string.Join('/', parts[..i]);
            var info = new FileInfo(Path.Join(_root, prefix));
            if (info.LinkTarget is not { } target)
            {
                continue;
            }
            var dir = "/" + string.Join('/', parts[..(i - 1)]);
            var resolved = target.StartsWith('/') ? target : Path.Join(dir, target);
            var rest = string.Join('/', parts[i..]);
            return (prefix, Normalize(rest.Length > 0 ? resolved + "/" + rest : resolved));
        }
        return null;
    }

    private static string Normalize(string path)
    {
        var stack = new List<string>();
        foreach (var p in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == "..")
            {
                if (stack.Count > 0)
                {
                    stack.RemoveAt(stack.Count - 1);
                }
            }
            else if (p != ".")
            {
                stack.Add(p);
            }
        }
        return "/" + string.Join('/', stack);
    }
}
