using System.Globalization;
using Tmds.Linux;

namespace Sandbox.Runtime.Cgroups;

/// <summary>Reading and writing cgroupfs files, and parsing their formats; pure parsers are testable on text.</summary>
internal static class CgroupFiles
{
    public static void Write(string dir, string file, string value)
    {
        var err = RawFiles.Write(Path.Join(dir, file), value, create: false);
        if (err != 0)
        {
            throw WriteFailed(dir, file, value, err);
        }
    }

    /// <summary>
    /// Writes each value with a write(2) of its own, in order, through one descriptor per file: device rules (one rule a
    /// write) went through eight opens and closes of two files in every start.
    /// </summary>
    public static unsafe void WriteEach(string dir, IReadOnlyList<(string File, string Value)> lines)
    {
        var open = new List<(string File, int Fd)>(2);
        try
        {
            foreach (var (file, value) in lines)
            {
                var at = open.FindIndex(o => o.File == file);
                var fd = at >= 0 ? open[at].Fd : -1;
                if (fd < 0)
                {
                    fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(Path.Join(dir, file) + "\0"))
                    {
                        fd = LibC.open(p, LibC.O_WRONLY | LibC.O_CLOEXEC, 0);
                    }
                    if (fd < 0)
                    {
                        throw WriteFailed(dir, file, value, LibC.errno);
                    }
                    open.Add((file, fd));
                }
                if (RawFiles.WriteAll(fd, System.Text.Encoding.UTF8.GetBytes(value)) is var err && err != 0)
                {
                    throw WriteFailed(dir, file, value, err);
                }
            }
        }
        finally
        {
            foreach (var (_, fd) in open)
            {
                LibC.close(fd);
            }
        }
    }

    private static SandboxException WriteFailed(string dir, string file, string value, int err) =>
        new(ErrorCodes.CgroupFailed, $"write \"{value}\" to {Path.Join(dir, file)}: {Interop.Libc.Describe(err)}",
            err == Interop.Libc.EACCES || err == Interop.Libc.EPERM
                ? "this user may not change that cgroup: run as root, or delegate the subtree (`sandbox doctor` shows what is delegated)"
                : "check that the value is valid for this kernel");

    /// <summary>
    /// The tasks file of each directory, once each (co-mounted controllers share one), for the child to join itself
    /// (JoinCgroupStep); null when one has none (cgroup v2, where a single thread cannot move between domains).
    /// </summary>
    public static IReadOnlyList<CgroupTasksFile>? TasksFiles(IEnumerable<string> dirs)
    {
        var files = new List<CgroupTasksFile>();
        foreach (var dir in dirs)
        {
            var tasks = dir + "/tasks";
            if (!File.Exists(tasks))
            {
                return null;
            }
            if (!files.Exists(f => f.Path == tasks))
            {
                files.Add(new CgroupTasksFile(tasks));
            }
        }
        return files;
    }

    public static string? Read(string dir, string file) => RawFiles.ReadText(Path.Join(dir, file));

    /// <summary>A file holding one number; "max" (v2 for no limit) is null.</summary>
    public static long? ParseSingle(string? text) =>
        text is null ? null : long.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>
    /// The exact CPU total (ns) split into user and system by the ratio of the tick-sampled figures; without the
    /// total, the sampled figures as they are; with no tick sampled yet, all of it as user time.
    /// </summary>
    public static (long? User, long? System) SplitCpuUsage(long? total, long? sampledUser, long? sampledSystem)
    {
        if (total is not { } t)
        {
            return (sampledUser, sampledSystem);
        }
        var u = Math.Max(sampledUser ?? 0, 0);
        var s = Math.Max(sampledSystem ?? 0, 0);
        if (u + s == 0)
        {
            return (t, 0);
        }
        var user = (long)Math.Round(t * ((double)u / (u + s)));
        return (user, t - user);
    }

    /// <summary>"key value" lines: memory.events, cpu.stat, memory.oom_control, cpuacct.stat, pids.events.</summary>
    public static Dictionary<string, long> ParseFlatKeyed(string? text)
    {
        var d = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in (text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            {
                d[parts[0]] = v;
            }
        }
        return d;
    }

    /// <summary>v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 ..." per device, summed.</summary>
    public static (long Read, long Write) ParseIoStat(string? text)
    {
        long r = 0, w = 0;
        foreach (var line in (text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var field in line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
            {
                var kv = field.Split('=', 2);
                if (kv.Length == 2 && long.TryParse(kv[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
                {
                    if (kv[0] == "rbytes")
                    {
                        r += v;
                    }
                    else if (kv[0] == "wbytes")
                    {
                        w += v;
                    }
                }
            }
        }
        return (r, w);
    }

    /// <summary>v1 blkio.throttle.io_service_bytes: "8:0 Read 123" lines per device and a "Total" line.</summary>
    public static (long Read, long Write) ParseBlkioServiceBytes(string? text)
    {
        long r = 0, w = 0;
        foreach (var line in (text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3 && long.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            {
                if (parts[1] == "Read")
                {
                    r += v;
                }
                else if (parts[1] == "Write")
                {
                    w += v;
                }
            }
        }
        return (r, w);
    }

    /// <summary>The pids in cgroup.procs.</summary>
    public static List<int> ReadProcs(string dir)
    {
        var pids = new List<int>();
        foreach (var line in (Read(dir, "cgroup.procs") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (int.TryParse(line, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
            {
                pids.Add(pid);
            }
        }
        return pids;
    }

    /// <summary>
    /// Creates a container's cgroup directory (parents too); returns false if it was there already. An existing one
    /// that holds processes is never adopted: they are not sandbox's, and the run's end would kill them.
    /// </summary>
    public static bool Claim(string path, string controller)
    {
        if (MakeDirectory(path, controller))
        {
            return true;
        }
        if (ReadProcs(path) is { Count: > 0 } procs)
        {
            throw new SandboxException(ErrorCodes.CgroupFailed,
                $"cgroup {path} ({controller}) already holds processes ({string.Join(", ", procs.Take(5))}) that this container did not start",
                "give linux.cgroupsPath a cgroup of its own; sandbox never adopts a cgroup in use");
        }
        return false;
    }

    /// <summary>Creates a cgroup directory (parents too); returns false if it was there already.</summary>
    public static unsafe bool MakeDirectory(string path, string controller)
    {
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
        {
            if (LibC.mkdirat(LibC.AT_FDCWD, p, 0x1ed) == 0)
            {
                return true;
            }
            var errno = LibC.errno;
            if (errno == LibC.EEXIST)
            {
                return false;
            }
            if (errno == LibC.ENOENT && Path.GetDirectoryName(path) is { } parent && parent != path)
            {
                if (MakeDirectory(parent, controller) && controller == "cpuset")
                {
                    InheritCpuset(parent);
                }
                return MakeDirectory(path, controller);
            }
            throw new SandboxException(ErrorCodes.CgroupFailed, $"create cgroup {path} ({controller}): {Interop.Libc.Describe(errno)}",
                "run as root, or delegate that cgroup subtree to this user (`sandbox doctor` shows what is delegated)");
        }
    }

    /// <summary>
    /// A new v1 cpuset starts with no CPUs and no memory nodes, and takes neither a task nor a child's values until
    /// given some: it gets its parent's, as runc does for the directories it creates.
    /// </summary>
    public static void InheritCpuset(string dir)
    {
        var parent = Path.GetDirectoryName(dir)!;
        Write(dir, "cpuset.cpus", (Read(parent, "cpuset.cpus") ?? "").Trim());
        Write(dir, "cpuset.mems", (Read(parent, "cpuset.mems") ?? "").Trim());
    }

    /// <summary>Removes a cgroup directory: rmdir only (cgroupfs directories are removed whole, files and all).</summary>
    public static unsafe void RemoveDirectory(string path)
    {
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
        {
            for (var attempt = 0; attempt < 100; attempt++)
            {
                if (LibC.rmdir(p) == 0 || LibC.errno == LibC.ENOENT)
                {
                    return;
                }
                if (LibC.errno != LibC.EBUSY)
                {
                    return; // not ours to force; the next run's collection retries
                }
                Thread.Sleep(2); // EBUSY while the last exiting task leaves
            }
        }
    }
}
