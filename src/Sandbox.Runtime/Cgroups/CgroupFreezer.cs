namespace Sandbox.Runtime.Cgroups;

/// <summary>
/// `sandbox pause` and `resume`: the container's cgroup frozen and thawed, from the directories its state records
/// (v1: the freezer hierarchy's `freezer.state`; v2: `cgroup.freeze`, with `cgroup.events` saying when it holds).
/// </summary>
internal static class CgroupFreezer
{
    /// <summary>The directory whose files freeze the container, or null when it has none (no cgroup of its own).</summary>
    public static string? Find(IReadOnlyList<string> dirs) =>
        dirs.FirstOrDefault(d => File.Exists(Path.Join(d, "freezer.state")))
        ?? dirs.FirstOrDefault(d => File.Exists(Path.Join(d, "cgroup.freeze")));

    public static bool IsFrozen(IReadOnlyList<string> dirs) => Find(dirs) is { } dir && IsFrozen(dir);

    private static bool IsFrozen(string dir) => File.Exists(Path.Join(dir, "freezer.state"))
        ? CgroupFiles.Read(dir, "freezer.state")?.Trim() == "FROZEN"
        : CgroupFiles.ParseFlatKeyed(CgroupFiles.Read(dir, "cgroup.events") ?? "").GetValueOrDefault("frozen") == 1;

    /// <summary>
    /// Thaws a paused container that is being killed: on v1 a frozen task keeps a SIGKILL pending until it is thawed
    /// (a paused container deleted with --force stayed, frozen, with its cgroups). No wait: the kill does the rest.
    /// </summary>
    public static void ThawForKill(IReadOnlyList<string> dirs)
    {
        if (Find(dirs) is { } dir && IsFrozen(dir))
        {
            var v1 = File.Exists(Path.Join(dir, "freezer.state"));
            CgroupFiles.Write(dir, v1 ? "freezer.state" : "cgroup.freeze", v1 ? "THAWED" : "0");
        }
    }

    /// <summary>Freezes or thaws, and waits (up to 5 s) until every task is.</summary>
    public static void Set(string dir, bool frozen)
    {
        var v1 = File.Exists(Path.Join(dir, "freezer.state"));
        if (v1)
        {
            CgroupFiles.Write(dir, "freezer.state", frozen ? "FROZEN" : "THAWED");
        }
        else
        {
            CgroupFiles.Write(dir, "cgroup.freeze", frozen ? "1" : "0");
        }
        for (var i = 0; i < 500; i++)
        {
            if (IsFrozen(dir) == frozen)
            {
                return;
            }
            if (v1 && frozen)
            {
                CgroupFiles.Write(dir, "freezer.state", "FROZEN"); // v1 retries what a task in the middle of a call held up
            }
            Thread.Sleep(10);
        }
        if (frozen)
        {
            CgroupFiles.Write(dir, v1 ? "freezer.state" : "cgroup.freeze", v1 ? "THAWED" : "0");
        }
        throw new SandboxException(ErrorCodes.CgroupFailed, $"{dir}: the container's processes did not {(frozen ? "freeze" : "thaw")} within 5 s",
            frozen ? "a process in uninterruptible sleep (I/O) holds it up: try again" : "check the cgroup's state with `cat " + dir + "/" + (v1 ? "freezer.state" : "cgroup.events") + "`");
    }
}
