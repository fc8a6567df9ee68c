namespace Sandbox.Runtime.Cgroups;

internal static class CgroupPaths
{
    /// <summary>
    /// The container's directory: cgroupsPath relative to the caller's own cgroup (so nested setups work),
    /// or, when absolute, relative to the hierarchy's mount point as the OCI spec says. ".." never escapes.
    /// </summary>
    public static string Resolve(string mountPoint, string ownDirectory, string cgroupsPath)
    {
        var parts = cgroupsPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts.Any(p => p is ".." or "."))
        {
            throw new SandboxException(ErrorCodes.CgroupsPathEscapes, $"$.linux.cgroupsPath: \"{cgroupsPath}\" is not a path below the allowed cgroup",
                "use a plain relative path such as \"sandbox/mycontainer\", without \"..\"");
        }
        var baseDir = cgroupsPath.StartsWith('/') ? mountPoint : ownDirectory;
        return Path.Join(baseDir, string.Join('/', parts));
    }

    /// <summary>
    /// Which controllers the limits need, split into those available and those missing (named with the limit that
    /// needs them). <paramref name="io"/> is the block I/O controller's name: blkio on v1, io on v2.
    /// </summary>
    public static (List<string> Needed, List<string> Missing) Controllers(CgroupLimits limits, Func<string, bool> available, string io, string whyMissing)
    {
        var needed = new List<string>();
        var missing = new List<string>();
        foreach (var (asked, controller, limit) in new[]
                 {
                     (limits.AsksMemory, "memory", "memory limit"),
                     (limits.CpuQuotaMicros is not null || limits.CpuShares is not null, "cpu", "CPU limit"),
                     (limits.CpusetCpus is not null || limits.CpusetMems is not null, "cpuset", "cpuset"),
                     (limits.PidsLimit is not null, "pids", "pids limit"),
                     (limits.BlkioWeight is not null, io, "block I/O weight"),
                     (limits.BlkioThrottles is not null, io, "block I/O throttle"),
                 })
        {
            if (!asked)
            {
                continue;
            }
            if (available(controller))
            {
                needed.Add(controller);
            }
            else
            {
                missing.Add($"{limit} (needs the {controller} controller{whyMissing})");
            }
        }
        return (needed, missing);
    }

    public static void ThrowOrList(List<string> missing, bool allowUnenforced, string fix, out IReadOnlyList<string> unenforced)
    {
        if (missing.Count > 0 && !allowUnenforced)
        {
            throw new SandboxException(ErrorCodes.ControllerMissing,
                $"cannot enforce: {string.Join("; ", missing)}",
                $"{fix}; or pass --allow-unenforced to run without these limits (the RunReport lists them)");
        }
        unenforced = missing;
    }
}
