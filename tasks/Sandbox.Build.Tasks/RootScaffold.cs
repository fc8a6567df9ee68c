using System.Security.Cryptography;
using System.Text;

namespace Sandbox.Build.Tasks;

/// <summary>One entry of a root scaffold: a path as the step sees it, what it is, and where a bind mount shows it from.</summary>
/// <param name="Path">The path inside the sandbox, e.g. /etc.</param>
/// <param name="LinkTarget">For a symlink, its target (copied); null for a directory or file.</param>
/// <param name="IsDirectory">A directory (made empty, a mount point or the way down to one); else a file or symlink.</param>
/// <param name="BindSource">The rootfs entry bind-mounted read-only over it, or null where the entry is left as made.</param>
internal sealed record RootEntry(string Path, string? LinkTarget, bool IsDirectory, string? BindSource);

/// <summary>
/// The root a step's sandbox runs on (docs/msbuild.md#sandboxexec): a directory that mirrors the bundle's rootfs, its
/// entries bind-mounted read-only, down to where the step's paths need new directories, so the built bundle never
/// changes. It depends only on the bundle (its rootfs and digest), the step's mount targets and working directory and
/// the bundle's own mount destinations, so one is kept per distinct key as obj/sandbox-exec/root-KEY/ and shared by
/// the steps and builds with that key. The sandbox mounts it read-only and `sandbox run` adds only mount points (the
/// same ones for the same key), so nothing of one step reaches another through it.
/// </summary>
internal static class RootScaffold
{
    public const string DirectoryPrefix = "root-";

    /// <summary>Written last in a scaffold: the bundle's digest and rootfs, one a line. Without it a scaffold is not used.</summary>
    private const string MarkerFile = "bundle";

    /// <summary>The layout of a scaffold; part of every key, so a task that lays them out differently makes its own.</summary>
    private const string Layout = "1";

    /// <summary>
    /// The key of the scaffold for <paramref name="step"/> on the bundle whose rootfs is <paramref name="rootfs"/>: what
    /// <see cref="Plan"/> reads, and each mount target's kind, since `sandbox run` makes a file or a directory there.
    /// </summary>
    public static string Key(string rootfs, string digest, StepDeclaration step, IEnumerable<string> builtDestinations)
    {
        var text = new StringBuilder().Append(Layout).Append('\n').Append(rootfs).Append('\n').Append(digest).Append('\n');
        foreach (var t in step.ScratchTargets)
        {
            text.Append("d ").Append(t).Append('\n');
        }
        foreach (var i in step.Inputs)
        {
            text.Append(Directory.Exists(i) ? "d " : "f ").Append(i).Append('\n');
        }
        text.Append("w ").Append(step.WorkingDirectory).Append('\n');
        foreach (var d in builtDestinations.Order(StringComparer.Ordinal))
        {
            text.Append("m ").Append(d).Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }

    /// <summary>
    /// What the scaffold of <paramref name="rootfs"/> holds, parents before children: each entry that holds a path
    /// the step needs is mirrored one level further down, so its new directories are made in the scaffold; any other
    /// directory or file is bind-mounted read-only from the rootfs (or, where the bundle mounts something, left an
    /// empty mount point), and a symlink is copied.
    /// </summary>
    public static IReadOnlyList<RootEntry> Plan(string rootfs, IReadOnlyCollection<string> needed, IReadOnlySet<string> builtDestinations)
    {
        var entries = new List<RootEntry>();
        Walk("");
        return entries;

        void Walk(string relative)
        {
            foreach (var entry in new DirectoryInfo(Path.Combine(rootfs, relative)).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                var inside = "/" + Path.Combine(relative, entry.Name);
                if (entry.LinkTarget is { } link)
                {
                    entries.Add(new RootEntry(inside, link, false, null));
                    continue;
                }
                var isDirectory = entry is DirectoryInfo;
                var descend = isDirectory && needed.Any(p => StepDeclaration.IsWithin(p, inside));
                var bound = !descend && !builtDestinations.Contains(inside) && !needed.Contains(inside);
                entries.Add(new RootEntry(inside, null, isDirectory, bound ? entry.FullName : null));
                if (descend)
                {
                    Walk(inside[1..]);
                }
            }
        }
    }

    /// <summary>Makes the entries of a plan in <paramref name="root"/>: empty directories and files, and the symlinks.</summary>
    public static void Make(string root, IEnumerable<RootEntry> entries)
    {
        foreach (var e in entries)
        {
            var here = root + e.Path;
            if (e.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(here, link);
            }
            else if (e.IsDirectory)
            {
                Directory.CreateDirectory(here);
            }
            else
            {
                File.WriteAllBytes(here, []);
            }
        }
    }

    /// <summary>The directory a scaffold's root is in, below its own directory (which also holds the marker).</summary>
    public static string RootOf(string scaffold) => Path.Combine(scaffold, "root");

    /// <summary>Whether the scaffold in <paramref name="scaffold"/> was finished: its marker is written last.</summary>
    public static bool IsComplete(string scaffold) => File.Exists(Path.Combine(scaffold, MarkerFile));

    /// <summary>
    /// The scaffold <paramref name="key"/> in <paramref name="intermediate"/>: the one there when it is complete, else one
    /// made under <paramref name="workDirectory"/> (a run directory: a crash leaves it to the leftover collection) and
    /// renamed into place. When another step renamed its own first, that one is used. Returns its directory and
    /// whether this call made it.
    /// </summary>
    public static (string Directory, bool Made) Obtain(string intermediate, string workDirectory, string key, string rootfs, string digest, Func<IReadOnlyList<RootEntry>> plan)
    {
        var scaffold = Path.Combine(intermediate, DirectoryPrefix + key);
        if (IsComplete(scaffold))
        {
            return (scaffold, false);
        }
        var made = Path.Combine(workDirectory, "scaffold");
        Make(Directory.CreateDirectory(RootOf(made)).FullName, plan());
        File.WriteAllText(Path.Combine(made, MarkerFile), digest + "\n" + rootfs + "\n");
        if (TryMove(made, scaffold))
        {
            return (scaffold, true);
        }
        if (!IsComplete(scaffold))
        {
            // One without its marker (cut short by hand or by a full disk): set aside, to go with the run directory.
            TryMove(scaffold, Path.Combine(workDirectory, "broken-scaffold"));
            if (TryMove(made, scaffold))
            {
                return (scaffold, true);
            }
        }
        return IsComplete(scaffold) ? (scaffold, false) : throw new IOException($"{scaffold} could not be put in place and is not a finished scaffold");
    }

    /// <summary>
    /// Removes the scaffolds of an older build of <paramref name="rootfs"/>'s bundle (another digest) and of bundles that
    /// no longer exist; not while another step may be running on one (a run directory other than
    /// <paramref name="workDirectory"/> exists). Called when a new scaffold was made, so they cannot pile up.
    /// </summary>
    public static void RemoveStale(string intermediate, string workDirectory, string rootfs, string digest)
    {
        if (Directory.EnumerateDirectories(intermediate, StepSandbox.RunDirectoryPrefix + "*").Any(d => Path.GetFileName(d) != Path.GetFileName(workDirectory)))
        {
            return;
        }
        var n = 0;
        foreach (var scaffold in Directory.EnumerateDirectories(intermediate, DirectoryPrefix + "*"))
        {
            string[] marker;
            try
            {
                marker = File.ReadAllLines(Path.Combine(scaffold, MarkerFile));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // not finished, or removed right now by another step
            }
            var stale = marker.Length < 2 || (marker[1] == rootfs && marker[0] != digest) || !Directory.Exists(marker[1]);
            // Renamed away first, so no step finds half of it.
            var aside = Path.Combine(workDirectory, "stale-" + n++.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (stale && TryMove(scaffold, aside))
            {
                Directory.Delete(aside, recursive: true);
            }
        }
    }

    private static bool TryMove(string from, string to)
    {
        try
        {
            Directory.Move(from, to);
            return true;
        }
        catch (IOException)
        {
            return false; // `to` exists (another step's), or `from` is gone
        }
    }
}
