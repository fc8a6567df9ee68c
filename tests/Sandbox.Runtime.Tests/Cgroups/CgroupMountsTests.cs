using Sandbox.Runtime.Cgroups;
using static Sandbox.Runtime.Interop.Libc;

namespace Sandbox.Runtime.Tests.Cgroups;

/// <summary>The OCI "cgroup" mount, expanded into what the child does once the container's cgroup exists.</summary>
public class CgroupMountsTests
{
    private const string Mountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime shared:5 - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """;

    private const string Self = "9:name=systemd:/user.slice\n8:pids:/\n4:memory:/runner\n2:cpu,cpuacct:/\n0::/\n";

    private static readonly CgroupMountStep ReadOnly = new("/sys/fs/cgroup", "sys/fs/cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME, true, 0);

    [Fact]
    public void Every_v1_hierarchy_is_known_with_the_runtimes_own_directory_named_ones_too()
    {
        var l = CgroupLayout.Parse(Mountinfo, Self);
        Assert.Equal(
            [
                new CgroupHierarchy("cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"),
                new CgroupHierarchy("memory", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/runner"),
                new CgroupHierarchy("pids", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/pids"),
                new CgroupHierarchy("name=systemd", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/systemd/user.slice"),
            ], l.Hierarchies);
        // xattr is an option of the mount, not a controller.
        Assert.False(l.V1Mounts.ContainsKey("xattr"));
    }

    [Fact]
    public void On_v1_a_tmpfs_holds_a_read_only_bind_of_the_containers_own_directory_per_hierarchy_and_a_link_per_comounted_controller()
    {
        var l = CgroupLayout.Parse(Mountinfo, Self);
        string[] own = ["/sys/fs/cgroup/memory/runner/sandbox/c1", "/sys/fs/cgroup/cpu,cpuacct/sandbox/c1", "/sys/fs/cgroup/pids/sandbox/c1"];
        var steps = CgroupMounts.Steps(ReadOnly, l, own, cgroupNamespace: false).ToList();

        var tmpfs = Assert.IsType<MountStep>(steps[0]);
        Assert.Equal(("sys/fs/cgroup", "tmpfs", "mode=755"), (tmpfs.Target, tmpfs.FsType, tmpfs.Data));
        Assert.Equal(0UL, tmpfs.Flags & MS_RDONLY); // the binds go in first; then it is sealed
        var seal = Assert.IsType<MountStep>(steps[^1]);
        Assert.Equal(("sys/fs/cgroup", null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC), (seal.Target, seal.Source, seal.Flags));
        var binds = steps.OfType<MountStep>().Skip(1).SkipLast(1).ToList();
        Assert.Equal(
            [
                ("sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/sandbox/c1"),
                ("sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/runner/sandbox/c1"),
                ("sys/fs/cgroup/pids", "/sys/fs/cgroup/pids/sandbox/c1"),
                // No cgroup of its own in name=systemd: the container sits in the runtime's.
                ("sys/fs/cgroup/systemd", "/sys/fs/cgroup/systemd/user.slice"),
            ], binds.Select(b => (b.Target, b.Source!)));
        Assert.All(binds, b =>
        {
            Assert.Equal(MS_BIND | MS_REC, b.Flags);
            Assert.Equal(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, b.RemountFlags);
        });
        Assert.Equal(
            [("cpu", "cpu,cpuacct"), ("cpuacct", "cpu,cpuacct")],
            steps.OfType<SymlinkStep>().Select(s => (s.Name, s.LinkTarget)));
    }

    [Fact]
    public void A_writable_mount_leaves_the_binds_writable()
    {
        var steps = CgroupMounts.Steps(ReadOnly with { Readonly = false }, CgroupLayout.Parse(Mountinfo, Self), [], false);
        Assert.All(steps.OfType<MountStep>(), m => Assert.Equal(0UL, (m.Flags | m.RemountFlags) & MS_RDONLY));
    }

    [Fact]
    public void On_v2_a_cgroup_namespace_gets_a_cgroup2_mount_and_without_one_the_containers_directory_is_bound()
    {
        var l = CgroupLayout.Parse("25 20 0:24 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", "0::/user.slice\n");
        var inNamespace = Assert.IsType<MountStep>(Assert.Single(CgroupMounts.Steps(ReadOnly, l, ["/sys/fs/cgroup/user.slice/c1"], true)));
        Assert.Equal(("cgroup2", MS_RDONLY), (inNamespace.FsType, inNamespace.Flags & MS_RDONLY));
        var bound = Assert.IsType<MountStep>(Assert.Single(CgroupMounts.Steps(ReadOnly, l, ["/sys/fs/cgroup/user.slice/c1"], false)));
        Assert.Equal(("/sys/fs/cgroup/user.slice/c1", MS_BIND | MS_REC), (bound.Source, bound.Flags));
        var runtimes = Assert.IsType<MountStep>(Assert.Single(CgroupMounts.Steps(ReadOnly, l, [], false)));
        Assert.Equal("/sys/fs/cgroup/user.slice", runtimes.Source);
    }

    [Fact]
    public void A_host_without_cgroups_is_refused_with_the_fix()
    {
        var l = CgroupLayout.Parse("22 1 0:5 / /proc rw - proc proc rw\n", "");
        var e = Assert.Throws<SandboxException>(() => CgroupMounts.Steps(ReadOnly, l, [], false).ToList());
        Assert.Contains("no cgroup filesystem", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_planner_leaves_the_mount_for_the_launch()
    {
        var c = Fixtures.Config();
        c = c with
        {
            Mounts = [.. c.Mounts!, new Sandbox.Oci.OciMount { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = ["nosuid", "noexec", "nodev", "relatime", "ro"] }],
        };
        using var bundle = new Fixtures.TempBundle();
        var plan = ContainerPlanner.Build(c, new LaunchOptions { Id = "t", Bundle = bundle.Dir }, Fixtures.Root());
        var step = Assert.Single(plan.Steps.OfType<CgroupMountStep>());
        Assert.True(step.Readonly);
        Assert.Equal(0UL, step.Flags & MS_RDONLY);
        var expanded = CgroupMounts.Expand(plan, CgroupLayout.Parse(Mountinfo, Self), []);
        Assert.DoesNotContain(expanded.Steps, s => s is CgroupMountStep);
        Assert.Contains(expanded.Steps, s => s is MountStep { Target: "sys/fs/cgroup/memory", Source: "/sys/fs/cgroup/memory/runner" });
    }
}
