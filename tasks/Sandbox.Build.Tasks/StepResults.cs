using System.Security.Cryptography;

namespace Sandbox.Build.Tasks;

/// <summary>An output the step produced: where it goes, and the file in the run's scratch directory that holds it.</summary>
internal sealed record ProducedFile(string Destination, string Source);

/// <summary>
/// What a run left in its scratch directories, sorted into the declared outputs it produced, the declared file outputs
/// it did not, and everything else it wrote: the undeclared writes. Paths are those the step saw, which are the host's.
/// </summary>
internal sealed record StepResults(IReadOnlyList<ProducedFile> Produced, IReadOnlyList<string> Missing, IReadOnlyList<string> Undeclared)
{
    /// <summary>
    /// Walks each scratch directory. What the runtime made there are mount points (directories on the way to an
    /// input or another scratch directory, an empty file where an input file is mounted); they are not the step's.
    /// </summary>
    public static StepResults Collect(StepDeclaration step, IReadOnlyDictionary<string, string> scratch)
    {
        var produced = new List<ProducedFile>();
        var undeclared = new List<string>();
        var mountPoints = step.MountTargets.ToHashSet(StringComparer.Ordinal);
        // Directories the runtime or the task made: on the way to a mount point, and the working directory.
        var madeFor = mountPoints.Append(step.WorkingDirectory).ToList();
        foreach (var (target, hostDirectory) in scratch)
        {
            var isOutputDirectory = step.DirectoryOutputs.Contains(target);
            Walk(hostDirectory, target);

            void Walk(string host, string inside)
            {
                foreach (var entry in new DirectoryInfo(host).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
                {
                    var path = inside == "/" ? "/" + entry.Name : inside + "/" + entry.Name;
                    var isDirectory = entry is DirectoryInfo && entry.LinkTarget is null;
                    if (mountPoints.Contains(path))
                    {
                        continue; // a mount point; what was written there is in that mount's own directory
                    }
                    if (isDirectory && (isOutputDirectory || path == step.WorkingDirectory || madeFor.Any(m => StepDeclaration.IsWithin(m, path))))
                    {
                        Walk(entry.FullName, path);
                    }
                    else if (isOutputDirectory || step.FileOutputs.Contains(path))
                    {
                        if (!isDirectory)
                        {
                            produced.Add(new ProducedFile(path, entry.FullName));
                        }
                    }
                    else
                    {
                        undeclared.Add(isDirectory ? path + "/" : path);
                    }
                }
            }
        }
        var missing = step.FileOutputs.Where(f => !produced.Any(p => p.Destination == f)).ToList();
        return new StepResults(produced, missing, undeclared);
    }

    /// <summary>The SHA-256 of each produced file (of a symlink, its target text), by destination.</summary>
    public IReadOnlyDictionary<string, string> Digests()
    {
        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in Produced)
        {
            var info = new FileInfo(p.Source);
            digests[p.Destination] = info.LinkTarget is { } link
                ? "link:" + link
                : Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(p.Source)));
        }
        return digests;
    }

    /// <summary>The outputs whose digests differ between two runs, or that only one run produced.</summary>
    public static IReadOnlyList<string> Differences(IReadOnlyDictionary<string, string> first, IReadOnlyDictionary<string, string> second) =>
        [.. first.Keys.Union(second.Keys).Order(StringComparer.Ordinal)
            .Where(k => !first.TryGetValue(k, out var a) || !second.TryGetValue(k, out var b) || a != b)];

    /// <summary>
    /// Puts every produced file at its destination by renaming it out of the run's scratch directory (in the project's
    /// obj/, so on the destination's file system as a rule; across file systems File.Move copies), over the previous
    /// file in one step (FileReplace), so a reader never sees half a file; no data is copied. Each is made the build's
    /// as a copy made by the build was: as root, where the sandbox's user (uid 1000) owned it, it is given to the
    /// build's user, and set-user-ID, set-group-ID and sticky bits are dropped. The scratch directory no longer holds
    /// the files afterwards: <see cref="Digests"/> comes first.
    /// Returns the destinations written.
    /// </summary>
    public IReadOnlyList<string> MoveToDestinations()
    {
        const UnixFileMode Permissions = (UnixFileMode)0x1ff; // 0777
        var euid = Interop.Libc.Geteuid();
        var egid = Interop.Libc.Getegid();
        var written = new List<string>();
        foreach (var p in Produced)
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(p.Destination)!);
            var info = new FileInfo(p.Source);
            if (euid == 0 && Interop.Libc.Lchown(p.Source, euid, egid) != 0)
            {
                throw new IOException($"chown {p.Source}: {System.Runtime.InteropServices.Marshal.GetLastPInvokeErrorMessage()}");
            }
            if (info.LinkTarget is null && (info.UnixFileMode & ~Permissions) != 0)
            {
                File.SetUnixFileMode(p.Source, info.UnixFileMode & Permissions);
            }
            FileReplace.Into(p.Source, p.Destination);
            written.Add(p.Destination);
        }
        return written;
    }
}
