using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>`sandbox doctor`: what this host lets this user do, each finding tried for real where it can be.</summary>
internal static class Doctor
{
    public sealed record Finding(string Name, bool Ok, string Detail);

    public static int Run(HostFacts host, Action<string> write)
    {
        var findings = Check(host);
        foreach (var f in findings)
        {
            write($"{f.Name + ":",-28} {(f.Ok ? "ok" : "NO")}  {f.Detail}\n");
        }
        return findings.All(f => f.Ok) ? 0 : 1;
    }

    public static List<Finding> Check(HostFacts host)
    {
        var list = new List<Finding>
        {
            new("kernel", true, File.ReadAllText("/proc/sys/kernel/osrelease").Trim() + $", running as uid {host.Uid}"),
        };
        list.Add(UserNamespaces(host));
        if (host.IsRoot)
        {
            list.Add(UnprivilegedUserNamespaces());
        }
        list.Add(Overlay(host));
        list.Add(PivotRoot(host));
        list.AddRange(Cgroups(host));
        list.Add(SeccompFilters());
        list.Add(host.LandlockAbi > 0
            ? new("landlock", true, $"ABI {host.LandlockAbi}: nothing outside a container's root can be executed in it")
            : new("landlock", false, "missing or turned off (Linux 5.13+, lsm=...,landlock): containers run without the execution guard; "
                + "the runtime's binary is then protected only by its being non-dumpable (docs/security.md)"));
        list.Add(host.IsRoot
            ? new("device cgroup", true, "every container gets one: deny by default, the standard devices allowed")
            : new("device cgroup", true, "rootless: only for configs that list linux.resources.devices (which then needs a delegated cgroup); the user namespace refuses mknod"));
        return list;
    }

    /// <summary>Which cgroup version, which controllers, and whether this user may make cgroups under its own.</summary>
    private static IEnumerable<Finding> Cgroups(HostFacts host)
    {
        var layout = Sandbox.Runtime.Cgroups.CgroupLayout.Read();
        var driver = Sandbox.Runtime.Cgroups.CgroupHost.Driver(layout);
        if (driver is null)
        {
            yield return new("cgroups", false, "no cgroup filesystem is mounted: limits and usage figures are unavailable");
            yield break;
        }
        var detail = layout.Version == "v1" && layout.V2Mount is not null
            ? $"v1 (hybrid: cgroup2 at {layout.V2Mount} holds no controllers sandbox uses)"
            : layout.Version;
        yield return new("cgroups", true, detail);
        yield return new("  controllers", driver.Controllers.Count > 0, string.Join(" ", driver.Controllers));
        var dirs = layout.Version == "v2"
            ? [layout.OwnDirectory("")!]
            : new[] { "memory", "cpu", "pids", "freezer" }.Select(layout.OwnDirectory).OfType<string>().ToArray();
        var refused = dirs.Where(d => !host.IsRoot && !CanWrite(d)).ToList();
        yield return new("  delegated to this user", refused.Count == 0,
            refused.Count == 0 ? (host.IsRoot ? "root may create cgroups anywhere" : "may create cgroups under " + string.Join(", ", dirs))
            : "may not write " + string.Join(", ", refused) + ": delegate them (systemd: Delegate=yes) or run as root");
    }

    /// <summary>Whether filters can be installed, and which actions the kernel offers (user notification among them).</summary>
    private static Finding SeccompFilters()
    {
        var actions = ReadSysctl("kernel.seccomp.actions_avail");
        if (actions is null)
        {
            return new("seccomp", false, "this kernel has no seccomp filters (CONFIG_SECCOMP_FILTER)");
        }
        var notify = SeccompHost.UserNotificationAvailable() && SeccompHost.NotificationSizes() is not null
            ? "user notification available (denied calls are recorded in run reports)"
            : "no user notification: run reports cannot list denied calls";
        // WAIT_KILLABLE_RECV is only valid with NEW_LISTENER, so it is probed with it.
        (string Name, uint Probe)[] flags = [("TSYNC", 1), ("LOG", 2), ("SPEC_ALLOW", 4), ("NEW_LISTENER", 8), ("TSYNC_ESRCH", 16), ("WAIT_KILLABLE_RECV", 32 | 8)];
        var known = flags.Where(f => SeccompHost.FlagKnown(f.Probe)).Select(f => f.Name).ToList();
        var missing = flags.Where(f => !known.Contains(f.Name)).Select(f => f.Name).ToList();
        var flagText = "filter flags: " + string.Join(" ", known) + (missing.Count > 0 ? "; not known here: " + string.Join(" ", missing) : "");
        return new("seccomp", true, $"filters; actions: {actions}; {notify}; {flagText}");
    }

    private static unsafe bool CanWrite(string dir)
    {
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(dir + "\0"))
        {
            return LibC.access(p, LibC.W_OK) == 0;
        }
    }

    private static string? ReadSysctl(string name)
    {
        var path = "/proc/sys/" + name.Replace('.', '/');
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    private static string? SeccompMode() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Seccomp:", StringComparison.Ordinal))?[8..].Trim();

    /// <summary>Why a user namespace may be refused here, from the knobs distributions use.</summary>
    private static string UserNamespaceKnobs()
    {
        var parts = new List<string>();
        if (ReadSysctl("user.max_user_namespaces") is { } max)
        {
            parts.Add($"user.max_user_namespaces={max}" + (max == "0" ? " (no user namespaces at all)" : ""));
        }
        if (ReadSysctl("kernel.unprivileged_userns_clone") is { } clone)
        {
            parts.Add($"kernel.unprivileged_userns_clone={clone}" + (clone == "0" ? " (Debian's switch: only root may)" : ""));
        }
        if (ReadSysctl("kernel.apparmor_restrict_unprivileged_userns") is { } aa)
        {
            parts.Add($"kernel.apparmor_restrict_unprivileged_userns={aa}" + (aa == "1" ? " (Ubuntu's AppArmor restriction)" : ""));
        }
        if (SeccompMode() == "2")
        {
            parts.Add("this process runs under a seccomp filter (an enclosing container's profile may refuse namespaces)");
        }
        return string.Join(", ", parts);
    }

    private static Finding UserNamespaces(HostFacts host)
    {
        var error = Probe(Libc.CLONE_NEWUSER, host, [new ExitStep(0)]);
        return new("user namespaces", error is null, error ?? UserNamespaceKnobs());
    }

    private static Finding UnprivilegedUserNamespaces()
    {
        // As root, try as nobody: what an ordinary user of this host would get.
        var error = Probe(0, null, [new SetUserStep(65534, 65534, []), new UnshareStep(Libc.CLONE_NEWUSER), new ExitStep(0)]);
        var knobs = UserNamespaceKnobs();
        return new("  for ordinary users", error is null,
            error is null ? knobs : $"{error}; {knobs}");
    }

    private static Finding Overlay(HostFacts host)
    {
        if (!File.ReadAllText("/proc/filesystems").Contains("\toverlay", StringComparison.Ordinal))
        {
            return new("overlay", false, "the kernel has no overlay filesystem (modprobe overlay)");
        }
        var dir = Directory.CreateTempSubdirectory("sandbox-doctor-");
        try
        {
            foreach (var d in new[] { "lower", "upper", "work", "merged" })
            {
                Directory.CreateDirectory(Path.Combine(dir.FullName, d));
            }
            var data = $"lowerdir={dir.FullName}/lower,upperdir={dir.FullName}/upper,workdir={dir.FullName}/work";
            var error = Probe(Libc.CLONE_NEWNS | (host.IsRoot ? 0 : Libc.CLONE_NEWUSER), host,
            [
                new RootPropagationStep(Libc.MS_REC | Libc.MS_PRIVATE), new BindRootfsStep(dir.FullName),
                new MountStep("/merged", "merged", "overlay", "overlay", 0, data, MountCreate.Directory, 0, 0), new ExitStep(0),
            ]);
            return new("overlay", error is null, error ?? (host.IsRoot ? "mounted" : "mounted in a user namespace"));
        }
        finally
        {
            DeleteProbeDirectory(dir.FullName);
        }
    }

    /// <summary>Overlay leaves work/work with mode 000 (owned by the user namespace's root): make it deletable first.</summary>
    private static void DeleteProbeDirectory(string dir)
    {
        try
        {
            foreach (var d in Directory.EnumerateDirectories(dir, "*", SearchOption.AllDirectories).Prepend(dir))
            {
                File.SetUnixFileMode(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Listing stops at a directory we cannot read; chmod what we can, then delete.
        }
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            RuntimeLog.Warnings.WriteLine($"sandbox: warning: could not remove the probe directory {dir}: {e.Message}");
        }
    }

    private static Finding PivotRoot(HostFacts host)
    {
        var dir = Directory.CreateTempSubdirectory("sandbox-doctor-");
        try
        {
            var error = Probe(Libc.CLONE_NEWNS | (host.IsRoot ? 0 : Libc.CLONE_NEWUSER), host,
            [
                new RootPropagationStep(Libc.MS_REC | Libc.MS_PRIVATE), new BindRootfsStep(dir.FullName), new PivotRootStep(), new ExitStep(0),
            ]);
            return new("pivot_root", error is null, error ?? "works");
        }
        finally
        {
            DeleteProbeDirectory(dir.FullName);
        }
    }

    /// <summary>Runs steps in a child with the given namespaces; returns null on success, else what failed.</summary>
    private static unsafe string? Probe(ulong flags, HostFacts? host, List<SetupStep> steps)
    {
        var mapped = (flags & Libc.CLONE_NEWUSER) != 0 && host is not null;
        // As in a container: the parent writes the child's id maps, which /proc lets it do only while the child is
        // dumpable (sandbox itself runs non-dumpable, and its forks inherit that).
        steps.InsertRange(0, mapped && !host!.IsRoot
            ? [new SetDumpableStep(true), new WaitForParentStep(), new SetDumpableStep(false)]
            : [new WaitForParentStep()]);
        var plan = new SetupPlan
        {
            CloneFlags = flags,
            Steps = steps,
            UidMap = mapped ? [new IdMap(0, host!.Uid, 1)] : null,
            GidMap = mapped ? [new IdMap(0, host!.Gid, 1)] : null,
            DenySetgroups = mapped && !host!.IsRoot,
        };
        try
        {
            using var program = ChildProgram.Create(plan);
            var pid = ContainerLauncher.Launch(plan, program, _ => []);
            int status;
            Libc.Wait4Blocking(pid, &status, 0, null);
            return status == 0 ? null : $"exited with {status}";
        }
        catch (SandboxException e)
        {
            return e.Message;
        }
    }
}
