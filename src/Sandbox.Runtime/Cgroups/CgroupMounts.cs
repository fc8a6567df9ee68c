using static Sandbox.Runtime.Interop.Libc;

namespace Sandbox.Runtime.Cgroups;

/// <summary>
/// The OCI mount of type "cgroup" (what `runc spec` writes at /sys/fs/cgroup), made as runc and crun make it. A
/// literal `mount -t cgroup` fails on v1 (EBUSY: the hierarchies are mounted already, each with its own controllers)
/// and would show the host's whole tree. So, on v1: a tmpfs, and beneath it each hierarchy the host mounts (named
/// ones such as name=systemd too) as a bind of the container's own cgroup directory in it, with a link for each
/// controller of a co-mounted hierarchy (cpu -> cpu,cpuacct). On v2: a cgroup2 mount where the container has its own
/// cgroup namespace (the kernel shows the namespace's root), else a bind of the container's cgroup directory. Where
/// the container has no cgroup of its own in a hierarchy, it sits in the runtime's, and that one is bound.
/// </summary>
internal static class CgroupMounts
{
    /// <summary>The plan with each <see cref="CgroupMountStep"/> replaced by the steps that make it.</summary>
    /// <param name="containerDirectories">The directories of the container's cgroup (ICgroup.Paths); empty without one.</param>
    public static SetupPlan Expand(SetupPlan plan, IReadOnlyList<string> containerDirectories) =>
        plan.Steps.Any(s => s is CgroupMountStep)
            ? Expand(plan, CgroupLayout.Read(), containerDirectories)
            : plan;

    public static SetupPlan Expand(SetupPlan plan, CgroupLayout layout, IReadOnlyList<string> containerDirectories)
    {
        var cgroupNamespace = (plan.CloneFlags & CLONE_NEWCGROUP) != 0
            || plan.Steps.Any(s => s is JoinNamespaceStep { Type: "cgroup" } || (s is UnshareStep u && (u.Flags & CLONE_NEWCGROUP) != 0));
        var steps = new List<SetupStep>(plan.Steps.Count + 16);
        foreach (var step in plan.Steps)
        {
            if (step is CgroupMountStep m)
            {
                steps.AddRange(Steps(m, layout, containerDirectories, cgroupNamespace));
            }
            else
            {
                steps.Add(step);
            }
        }
        return plan with { Steps = steps };
    }

    public static IEnumerable<SetupStep> Steps(CgroupMountStep m, CgroupLayout layout, IReadOnlyList<string> containerDirectories, bool cgroupNamespace)
    {
        const ulong bindFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        var ro = m.Readonly ? MS_RDONLY : 0;
        if (layout.Version == "v2")
        {
            var own = Own(layout.V2Mount!, layout.OwnDirectory("")!, containerDirectories);
            return cgroupNamespace
                ? [new MountStep(m.Destination, m.Target, "cgroup2", "cgroup2", m.Flags | ro, null, MountCreate.Directory, 0, m.Propagation)]
                : [new MountStep(m.Destination, m.Target, own, null, MS_BIND | MS_REC, null, MountCreate.Directory, bindFlags | ro, m.Propagation)];
        }
        if (layout.Version != "v1")
        {
            throw new SandboxException(ErrorCodes.Unsupported, $"a mount of type \"cgroup\" on {m.Destination}: this host mounts no cgroup filesystem",
                "drop the mount from config.json, or mount cgroup2 at /sys/fs/cgroup on the host");
        }
        var result = new List<SetupStep>
        {
            new MountStep(m.Destination, m.Target, "tmpfs", "tmpfs", m.Flags | bindFlags, "mode=755", MountCreate.Directory, 0, m.Propagation),
        };
        foreach (var h in layout.Hierarchies)
        {
            var name = Path.GetFileName(h.MountPoint);
            if (name.Length == 0 || name is "." or "..")
            {
                continue;
            }
            result.Add(new MountStep(m.Destination + "/" + name, m.Target + "/" + name, Own(h.MountPoint, h.OwnDirectory, containerDirectories),
                null, MS_BIND | MS_REC, null, MountCreate.Directory, bindFlags | ro, 0));
            if (name.Contains(',', StringComparison.Ordinal))
            {
                foreach (var controller in name.Split(','))
                {
                    result.Add(new SymlinkStep(m.Destination + "/" + controller, name, m.Target, controller));
                }
            }
        }
        if (m.Readonly)
        {
            // The tmpfs itself, once everything is in place beneath it (a remount of this one mount, not the binds).
            result.Add(new MountStep(m.Destination, m.Target, null, null, MS_BIND | MS_REMOUNT | MS_RDONLY | bindFlags, null, MountCreate.None, 0, 0));
        }
        return result;
    }

    /// <summary>The container's directory below <paramref name="mountPoint"/>, else the runtime's own there.</summary>
    private static string Own(string mountPoint, string runtimeOwn, IReadOnlyList<string> containerDirectories) =>
        containerDirectories.FirstOrDefault(d => d.StartsWith(mountPoint + "/", StringComparison.Ordinal)) ?? runtimeOwn;
}
