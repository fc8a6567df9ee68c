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
