using Sandbox.Oci;
using Sandbox.Runtime;
using static Sandbox.Runtime.Interop.Libc;

namespace Sandbox.Runtime.Tests;

/// <summary>The setup plan as data: which steps, in which order, with which flags. No root needed.</summary>
public class ContainerPlannerTests
{
    private static SetupPlan Plan(OciConfig c, HostFacts? host = null, bool detached = false, bool noPivot = false, Fixtures.TempBundle? b = null)
    {
        using var own = b is null ? new Fixtures.TempBundle() : null;
        var bundle = b ?? own!;
        return ContainerPlanner.Build(c, new LaunchOptions { Id = "t", Bundle = bundle.Dir, Detached = detached, NoPivot = noPivot }, host ?? Fixtures.Root());
    }

    private static int IndexOf<T>(SetupPlan p) => p.Steps.ToList().FindIndex(s => s is T);

    [Fact]
    public void New_namespaces_become_clone_flags()
    {
        var p = Plan(Fixtures.Config());
        Assert.Equal(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS, p.CloneFlags);
        Assert.Null(p.UidMap);
        // The cgroup namespace is made after the parent's go-ahead, once the child is in the container's cgroup.
        Assert.Equal(IndexOf<WaitForParentStep>(p) + 1, p.Steps.ToList().FindIndex(s => s is UnshareStep { Flags: CLONE_NEWCGROUP }));
        Assert.True(IndexOf<WaitForParentStep>(p) < IndexOf<SetRlimitStep>(p));
        var rootless = Plan(Fixtures.Config(rootless: true), Fixtures.User());
        Assert.True(IndexOf<WaitForParentStep>(rootless) < rootless.Steps.ToList().FindIndex(s => s is UnshareStep { Flags: CLONE_NEWCGROUP }));
    }

    [Fact]
    public void As_root_without_a_user_namespace_the_child_mounts_before_it_waits_for_its_cgroup_unless_a_mount_needs_it()
    {
        // Root, no user namespace: no id maps to wait for, so the mounts go on while the parent puts the child in its cgroup.
        var p = Plan(Fixtures.Config());
        Assert.True(IndexOf<WaitForParentStep>(p) > p.Steps.ToList().FindLastIndex(s => s is MountStep or MakeDeviceStep or SymlinkStep));
        // pivot_root and the masked and read-only paths too: every step of the runtime's own before the limits and
        // credentials, where the program's own setting begins.
        Assert.True(IndexOf<WaitForParentStep>(p) > p.Steps.ToList().FindLastIndex(s => s is PivotRootStep or MaskPathStep or ReadonlyPathStep or RemountRootReadonlyStep));
        Assert.Equal(IndexOf<WaitForParentStep>(p) + 1, p.Steps.ToList().FindIndex(s => s is UnshareStep { Flags: CLONE_NEWCGROUP }));
        Assert.Equal(IndexOf<WaitForParentStep>(p) + 2, p.Steps.ToList().FindIndex(s => s is SetRlimitStep or SetPersonalityStep or ConsoleStep or RestrictExecutionStep or JoinSessionKeyringStep or SeccompStep or DropBoundingSetStep or SetUserStep));
        var console = Plan(Fixtures.Config() with { Process = Fixtures.Config().Process! with { Terminal = true } });
        Assert.True(IndexOf<WaitForParentStep>(console) < IndexOf<ConsoleStep>(console));

        int EarlyWait(OciConfig c) => IndexOf<WaitForParentStep>(Plan(c)) is var w && w < IndexOf<BindRootfsStep>(Plan(c)) ? w : -1;
        var cgroupMount = Fixtures.Config() with { Mounts = [.. Fixtures.Config().Mounts!, new OciMount { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup" }] };
        Assert.True(EarlyWait(cgroupMount) >= 0);
        var copyUp = Fixtures.Config() with { Mounts = [.. Fixtures.Config().Mounts!, new OciMount { Destination = "/etc", Type = "tmpfs", Source = "tmpfs", Options = ["tmpcopyup"] }] };
        Assert.True(EarlyWait(copyUp) >= 0);
        var hooked = Fixtures.Config() with { Hooks = new OciHooks { CreateContainer = [new OciHook { Path = "/bin/true" }] } };
        Assert.True(IndexOf<WaitForParentStep>(Plan(hooked)) < IndexOf<RunHookStep>(Plan(hooked)));
        // A user namespace's id maps are written by the parent before the child may do anything.
        var rootless = Plan(Fixtures.Config(rootless: true), Fixtures.User());
        Assert.True(IndexOf<WaitForParentStep>(rootless) < IndexOf<BindRootfsStep>(rootless));
    }

    /// <summary>Fixtures.Config() with a new user namespace whose container 0 is host <paramref name="rootHost"/>.</summary>
    private static OciConfig WithUserNamespace(uint rootHost)
    {
        var c = Fixtures.Config();
        var map = new List<OciIdMapping> { new() { ContainerId = 0, HostId = rootHost, Size = 65536 } };
        return c with
        {
            Linux = c.Linux! with { Namespaces = [.. c.Linux!.Namespaces!, new OciNamespace { Type = "user" }], UidMappings = map, GidMappings = map },
            Process = c.Process! with { User = new OciUser { Uid = 0, Gid = 0 } },
        };
    }

    [Fact]
    public void As_root_with_a_user_namespace_whose_root_is_the_hosts_the_child_waits_for_its_maps_first_and_for_its_cgroup_after_it_mounts()
    {
        var p = Plan(WithUserNamespace(0));
        Assert.True(p.ChildMountsFirst);
        Assert.True(p.WaitsTwice);
        var steps = p.Steps.ToList();
        var first = steps.FindIndex(s => s is WaitForParentStep);
        var second = steps.FindLastIndex(s => s is WaitForParentStep);
        // The maps before anything (the child becomes the namespace's root then), the cgroup after the mounts, pivot_root
        // and the masked and read-only paths, just before the cgroup namespace and the program's own setting.
        Assert.True(first < IndexOf<BecomeRootStep>(p) && IndexOf<BecomeRootStep>(p) < IndexOf<BindRootfsStep>(p));
        Assert.True(second > steps.FindLastIndex(s => s is MountStep or PivotRootStep or MaskPathStep or ReadonlyPathStep or RemountRootReadonlyStep));
        Assert.Equal(second + 1, steps.FindIndex(s => s is UnshareStep { Flags: CLONE_NEWCGROUP }));
        Assert.True(second < IndexOf<SetRlimitStep>(p) && second < IndexOf<ExecStep>(p));
        // The child joins after the second go-ahead.
        Assert.Equal(second + 1, IndexOf<JoinCgroupStep>(p.JoiningCgroup([new CgroupTasksFile("/sys/fs/cgroup/pids/sandbox-t/tasks")])));
        Assert.Equal(second + 1, IndexOf<JoinCgroupFromParentStep>(p.JoiningCgroupFromParent()));

        // A root mapped elsewhere could not open the tasks files itself; a cgroup mount needs the cgroup first: one
        // wait, before the mounts, as before.
        foreach (var c in new[] { WithUserNamespace(100000),
                     WithUserNamespace(0) with { Mounts = [.. Fixtures.Config().Mounts!, new OciMount { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup" }] } })
        {
            var one = Plan(c);
            Assert.False(one.ChildMountsFirst);
            Assert.False(one.WaitsTwice);
            Assert.True(IndexOf<WaitForParentStep>(one) < IndexOf<BindRootfsStep>(one));
        }
    }

    [Fact]
    public void A_child_that_joins_its_cgroup_itself_does_so_right_after_the_go_ahead_before_its_cgroup_namespace()
    {
        // cgroup v1 as root: the child writes 0 to each tasks file once the parent says go, and only then makes its
        // cgroup namespace, rooted where it now is; rooted anywhere else, it would see the host's cgroup tree.
        var files = new[] { new CgroupTasksFile("/sys/fs/cgroup/memory/sandbox-t/tasks"), new CgroupTasksFile("/sys/fs/cgroup/pids/sandbox-t/tasks") };
        foreach (var plan in new[] { Plan(Fixtures.Config()), Plan(Fixtures.Config(rootless: true), Fixtures.User()), Plan(Fixtures.Config(), detached: true) })
        {
            var p = plan.JoiningCgroup(files);
            Assert.Equal(plan.Steps.Count + 1, p.Steps.Count);
            Assert.Equal(IndexOf<WaitForParentStep>(p) + 1, IndexOf<JoinCgroupStep>(p));
            Assert.True(IndexOf<JoinCgroupStep>(p) < p.Steps.ToList().FindIndex(s => s is UnshareStep { Flags: CLONE_NEWCGROUP }));
            Assert.Equal(files, ((JoinCgroupStep)p.Steps[IndexOf<JoinCgroupStep>(p)]).Files);
            Assert.Equal([.. plan.Steps], p.Steps.Where(s => s is not JoinCgroupStep));
        }
    }

    [Fact]
    public void Steps_follow_the_order_an_oci_runtime_must_keep()
    {
        var p = Plan(Fixtures.Config());
        var order = new[]
        {
            IndexOf<SetParentDeathSignalStep>(p), IndexOf<SetSidStep>(p), IndexOf<HostnameStep>(p),
            IndexOf<LoopbackUpStep>(p), IndexOf<RootPropagationStep>(p), IndexOf<BindRootfsStep>(p), IndexOf<MountStep>(p),
            IndexOf<MakeDeviceStep>(p), IndexOf<SymlinkStep>(p), IndexOf<PivotRootStep>(p), IndexOf<MaskPathStep>(p),
            IndexOf<ReadonlyPathStep>(p), IndexOf<RemountRootReadonlyStep>(p), IndexOf<WaitForParentStep>(p), IndexOf<SetRlimitStep>(p),
            IndexOf<DropBoundingSetStep>(p), IndexOf<SetUserStep>(p), IndexOf<SetCapabilitiesStep>(p), IndexOf<ChdirStep>(p),
            IndexOf<NoNewPrivilegesStep>(p), IndexOf<ExecStep>(p),
        };
        Assert.All(order, i => Assert.True(i >= 0));
        Assert.Equal(order.Order(), order);
        Assert.IsType<ExecStep>(p.Steps[^1]);
    }

    [Fact]
    public void Mounts_keep_config_order_with_flags_split_for_mount2()
    {
        var c = Fixtures.Config();
        var p = Plan(c);
        var mounts = p.Steps.OfType<MountStep>().ToList();
        Assert.Equal(["proc", "dev", "dev/pts", "dev/shm", "dev/mqueue", "sys", "tmp"], mounts.Select(m => m.Target));
        var sys = mounts.Single(m => m.Target == "sys");
        Assert.Equal("sysfs", sys.FsType);
        Assert.Equal(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, sys.Flags);
        var dev = mounts.Single(m => m.Target == "dev");
        Assert.Equal(MS_NOSUID | MS_STRICTATIME, dev.Flags);
        Assert.Equal("mode=755,size=65536k", dev.Data);
    }

    [Fact]
    public void A_read_only_bind_is_a_bind_then_a_remount()
    {
        using var b = new Fixtures.TempBundle();
        var src = Directory.CreateDirectory(Path.Combine(b.Dir, "data")).FullName;
        var c = Fixtures.Config() with { Mounts = [new OciMount { Destination = "/data", Type = "bind", Source = "data", Options = ["rbind", "ro", "nosuid", "rprivate"] }] };
        var m = Plan(c, b: b).Steps.OfType<MountStep>().Single(s => s.Target == "data");
        Assert.Equal(src, m.Source);
        Assert.Equal(MS_BIND | MS_REC, m.Flags);
        Assert.Equal(MS_RDONLY | MS_NOSUID, m.RemountFlags);
        Assert.Equal(MS_PRIVATE | MS_REC, m.Propagation);
        Assert.Equal(MountCreate.Directory, m.Create);
    }

    [Fact]
    public void A_tmpcopyup_tmpfs_is_copied_into_before_it_goes_read_only()
    {
        var c = Fixtures.Config() with
        {
            Mounts = [new OciMount { Destination = "/etc", Type = "tmpfs", Source = "tmpfs", Options = ["tmpcopyup", "ro", "nosuid", "mode=755"] },
                new OciMount { Destination = "/var", Type = "tmpfs", Source = "tmpfs", Options = ["tmpcopyup"] }],
        };
        var mounts = Plan(c).Steps.OfType<MountStep>().ToList();
        var etc = mounts.Single(m => m.Target == "etc");
        Assert.True(etc.CopyUp);
        Assert.Equal(MS_NOSUID, etc.Flags);
        Assert.Equal(MS_RDONLY, etc.RemountFlags);
        Assert.Equal("mode=755", etc.Data);
        Assert.Contains("copy", etc.Describe(), StringComparison.Ordinal);
        var var = mounts.Single(m => m.Target == "var");
        Assert.True(var.CopyUp);
        Assert.Equal(0ul, var.RemountFlags);
        Assert.DoesNotContain(mounts, m => m.Target != "etc" && m.Target != "var" && m.CopyUp);
    }

    [Fact]
    public void A_file_bind_creates_a_file_to_mount_on()
    {
        using var b = new Fixtures.TempBundle();
        File.WriteAllText(Path.Combine(b.Dir, "hosts"), "127.0.0.1 localhost\n");
        var c = Fixtures.Config() with { Mounts = [new OciMount { Destination = "/etc/hosts", Type = "bind", Source = "hosts", Options = ["ro"] }] };
        Assert.Equal(MountCreate.File, Plan(c, b: b).Steps.OfType<MountStep>().Single().Create);
    }

    [Fact]
    public void A_missing_bind_source_is_an_error_before_anything_starts()
    {
        var c = Fixtures.Config() with { Mounts = [new OciMount { Destination = "/x", Type = "bind", Source = "/no/such/dir" }] };
        var e = Assert.Throws<SandboxException>(() => Plan(c));
        Assert.Equal(ErrorCodes.ConfigInvalid, e.Code);
        Assert.Contains("$.mounts[0].source", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void As_root_devices_are_made_with_mknod_and_in_a_user_namespace_bound_from_the_host()
    {
        var root = Plan(Fixtures.Config());
        var devices = root.Steps.OfType<MakeDeviceStep>().ToList();
        Assert.Equal(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"], devices.Select(d => d.Path));
        var nul = devices[0];
        Assert.Equal(S_IFCHR | 438u, nul.Mode);
        Assert.Equal(ContainerPlanner.MakeDev(1, 3), nul.Device);
        Assert.Empty(root.Steps.OfType<BindDeviceStep>());

        var rootless = Plan(Fixtures.Config(rootless: true), Fixtures.User());
        Assert.Empty(rootless.Steps.OfType<MakeDeviceStep>());
        Assert.Equal(6, rootless.Steps.OfType<BindDeviceStep>().Count());
        Assert.Contains(rootless.Steps.OfType<SymlinkStep>(), s => s.Path == "/dev/fd" && s.LinkTarget == "/proc/self/fd");
    }

    [Fact]
    public void Makedev_matches_glibc()
    {
        Assert.Equal(0x103ul, ContainerPlanner.MakeDev(1, 3));
        Assert.Equal(0x500ul, ContainerPlanner.MakeDev(5, 0));
        Assert.Equal(0x1000_0010_0012ul, ContainerPlanner.MakeDev(0x1000, 0x112));
    }

    [Fact]
    public void Rootless_maps_the_callers_ids_and_denies_setgroups()
    {
        var p = Plan(Fixtures.Config(rootless: true), Fixtures.User(1000));
        Assert.Equal([new IdMap(0, 1000, 1)], p.UidMap!);
        Assert.Equal([new IdMap(0, 1000, 1)], p.GidMap!);
        Assert.True(p.DenySetgroups);
        Assert.NotEqual(0ul, p.CloneFlags & CLONE_NEWUSER);
        Assert.Null(p.Steps.OfType<SetUserStep>().Single().Groups);
    }

    [Fact]
    public void Rootless_without_a_user_namespace_says_how_to_fix_it()
    {
        var e = Assert.Throws<SandboxException>(() => Plan(Fixtures.Config(), Fixtures.User()));
        Assert.Equal(ErrorCodes.UserNamespaceDenied, e.Code);
        Assert.Contains("--rootless", e.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Rootless_may_map_only_its_own_id()
    {
        var c = Fixtures.Config(rootless: true);
        c = c with { Linux = c.Linux! with { UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 0, Size = 65536 }] } };
        Assert.Equal(ErrorCodes.IdMapping, Assert.Throws<SandboxException>(() => Plan(c, Fixtures.User())).Code);
    }

    [Fact]
    public void Id_mapped_mounts_need_root_and_an_overlay_needs_absolute_lower_directories()
    {
        var map = new List<OciIdMapping> { new() { ContainerId = 0, HostId = 1000, Size = 1 } };
        var c = Fixtures.Config(rootless: true);
        c = c with { Mounts = [.. c.Mounts!, new OciMount { Destination = "/o", Type = "bind", Source = "/tmp", Options = ["bind", "idmap"], UidMappings = map, GidMappings = map }] };
        var e = Assert.Throws<SandboxException>(() => Plan(c, Fixtures.User()));
        Assert.Equal(ErrorCodes.IdMapping, e.Code);
        Assert.Contains("id-mapped mounts need root", e.Message, StringComparison.Ordinal);

        var o = Fixtures.Config();
        o = o with { Mounts = [.. o.Mounts!, new OciMount { Destination = "/o", Type = "overlay", Source = "overlay", Options = ["lowerdir=rel:/abs", "upperdir=/u", "workdir=/w"], UidMappings = map, GidMappings = map }] };
        e = Assert.Throws<SandboxException>(() => Plan(o, Fixtures.Root()));
        Assert.Contains("must be absolute paths", e.Message, StringComparison.Ordinal);

        o = o with { Mounts = [.. o.Mounts!.SkipLast(1), new OciMount { Destination = "/o", Type = "overlay", Source = "overlay", Options = ["lowerdir=/a:/b", "upperdir=/u", "workdir=/w"], UidMappings = map, GidMappings = map }] };
        var steps = Plan(o, Fixtures.Root()).Steps;
        var attached = steps.OfType<AttachIdmappedStep>().Select(s => s.Tree.HostPath).ToList();
        Assert.Equal(["/a", "/b"], attached);
        Assert.True(steps.ToList().FindIndex(s => s is AttachIdmappedStep) < steps.ToList().FindIndex(s => s is MountStep { FsType: "overlay" }));
    }

    [Fact]
    public void An_unmapped_container_user_is_an_error()
    {
        var c = Fixtures.Config(rootless: true);
        c = c with { Process = c.Process! with { User = new OciUser { Uid = 1000, Gid = 0 } } };
        var e = Assert.Throws<SandboxException>(() => Plan(c, Fixtures.User()));
        Assert.Contains("$.process.user.uid", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hard_rlimit_above_the_hosts_is_refused_without_cap_sys_resource()
    {
        var c = Fixtures.Config();
        c = c with { Process = c.Process! with { Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Soft = 1024, Hard = 1048576 }] } };
        var e = Assert.Throws<SandboxException>(() => Plan(c, Fixtures.Root(hostHardNofile: 20000)));
        Assert.Equal(ErrorCodes.RlimitImpossible, e.Code);
        Assert.Contains("20000", e.Message, StringComparison.Ordinal);
        Assert.Contains("at most 20000", e.Hint, StringComparison.Ordinal);
        // With CAP_SYS_RESOURCE the same limit is allowed.
        Plan(c, Fixtures.Root() with { EffectiveCaps = ~0ul });
    }

    [Fact]
    public void Capabilities_become_masks_and_the_bounding_set_keeps_only_those_listed()
    {
        var p = Plan(Fixtures.Config());
        var caps = p.Steps.OfType<SetCapabilitiesStep>().Single();
        var expected = (1ul << 29) | (1ul << 5) | (1ul << 10);
        Assert.Equal(expected, caps.Effective);
        Assert.Equal(expected, caps.Permitted);
        Assert.Equal(0ul, caps.Inheritable);
        Assert.Equal(expected, p.Steps.OfType<DropBoundingSetStep>().Single().Keep);
    }

    [Fact]
    public void A_capability_outside_the_hosts_bounding_set_is_refused()
    {
        var c = Fixtures.Config();
        c = c with { Process = c.Process! with { Capabilities = new OciCapabilities { Bounding = ["CAP_SYS_RESOURCE"] } } };
        var e = Assert.Throws<SandboxException>(() => Plan(c));
        Assert.Equal(ErrorCodes.CapabilityUnknown, e.Code);
        Assert.Contains("bounding set", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Program_lookup_follows_the_containers_path()
    {
        var c = Fixtures.Config();
        c = c with { Process = c.Process! with { Args = ["ls", "-l"], Env = ["PATH=/usr/bin:/bin/"] } };
        var exec = Plan(c).Steps.OfType<ExecStep>().Single();
        Assert.Equal(["/usr/bin/ls", "/bin/ls"], exec.Candidates);
        Assert.Equal(["ls", "-l"], exec.Args);
        c = c with { Process = c.Process with { Args = ["./run.sh"] } };
        Assert.Equal(["./run.sh"], Plan(c).Steps.OfType<ExecStep>().Single().Candidates);
    }

    [Fact]
    public void A_hostname_without_a_uts_namespace_is_refused()
    {
        var c = Fixtures.Config();
        c = c with { Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!.Where(n => n.Type != "uts")] } };
        Assert.Contains("$.hostname", Assert.Throws<SandboxException>(() => Plan(c)).Message, StringComparison.Ordinal);
    }

    private static OciConfig Without(OciConfig c, params string[] types) =>
        c with { Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!.Where(n => !types.Contains(n.Type))] } };

    /// <summary>A config that mounts nothing: what may run without a mount namespace.</summary>
    private static OciConfig MountingNothing(OciConfig c) => c with
    {
        Mounts = [],
        Root = c.Root! with { Readonly = false },
        Linux = c.Linux! with { MaskedPaths = null, ReadonlyPaths = null },
    };

    [Fact]
    public void Without_a_mount_namespace_the_container_is_chrooted_and_nothing_is_mounted()
    {
        foreach (var (rootless, host) in new[] { (false, Fixtures.Root()), (true, Fixtures.User()) })
        {
            var p = Plan(MountingNothing(Without(Fixtures.Config(rootless), "mount")), host);
            Assert.Equal(0ul, p.CloneFlags & CLONE_NEWNS);
            Assert.DoesNotContain(p.Steps, s => s is MountStep or BindRootfsStep or RootPropagationStep or PivotRootStep or MoveRootStep
                or MakeDeviceStep or BindDeviceStep or SymlinkStep or MaskPathStep or ReadonlyPathStep or RemountRootReadonlyStep);
            var chroot = Assert.Single(p.Steps.OfType<ChrootStep>());
            Assert.True(p.Steps.ToList().IndexOf(chroot) < IndexOf<ChdirStep>(p));
            // --no-pivot too: a move of the rootfs onto / would be the host's
            Assert.Single(Plan(MountingNothing(Without(Fixtures.Config(rootless), "mount")), host, noPivot: true).Steps.OfType<ChrootStep>());
        }
    }

    [Fact]
    public void Without_a_mount_namespace_whatever_mounts_is_refused_rather_than_mounted_on_the_host()
    {
        var bare = MountingNothing(Without(Fixtures.Config(), "mount"));
        var cases = new (OciConfig Config, string Path)[]
        {
            (Without(Fixtures.Config(), "mount"), "$.mounts"),
            (bare with { Mounts = [new OciMount { Destination = "/tmp", Type = "tmpfs", Source = "tmpfs" }] }, "$.mounts"),
            (bare with { Linux = bare.Linux! with { MaskedPaths = ["/proc/kcore"] } }, "$.linux.maskedPaths"),
            (bare with { Linux = bare.Linux! with { ReadonlyPaths = ["/proc/sys"] } }, "$.linux.readonlyPaths"),
            (bare with { Root = bare.Root! with { Readonly = true } }, "$.root.readonly"),
            (bare with { Linux = bare.Linux! with { RootfsPropagation = "rslave" } }, "$.linux.rootfsPropagation"),
            (bare with { Linux = bare.Linux! with { Devices = [new OciDevice { Type = "c", Path = "/dev/kmsg", Major = 1, Minor = 11 }] } }, "$.linux.devices"),
            (bare with { Linux = bare.Linux! with { Sysctl = new() { ["net.ipv4.ip_forward"] = "1" } } }, "$.linux.sysctl"),
        };
        foreach (var (c, path) in cases)
        {
            var e = Assert.Throws<SandboxException>(() => Plan(c));
            Assert.Equal(ErrorCodes.ConfigInvalid, e.Code);
            Assert.StartsWith(path + ":", e.Message, StringComparison.Ordinal);
            Assert.Contains("without a mount namespace", e.Message, StringComparison.Ordinal);
            Assert.Contains("{\"type\": \"mount\"}", e.Hint, StringComparison.Ordinal);
        }
        // A chroot does not hold a process that may chroot or mount: in the host's mount namespace that is every host file.
        foreach (var cap in new[] { "CAP_SYS_CHROOT", "CAP_SYS_ADMIN" })
        {
            foreach (var rootless in new[] { false, true })
            {
                var c = MountingNothing(Without(Fixtures.Config(rootless), "mount"));
                c = c with { Process = c.Process! with { Capabilities = c.Process.Capabilities! with { Bounding = [.. c.Process.Capabilities.Bounding!, cap] } } };
                var e = Assert.Throws<SandboxException>(() => Plan(c, rootless ? Fixtures.User() : null));
                Assert.StartsWith($"$.process.capabilities.bounding: {cap} without a mount namespace", e.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Namespaces_left_out_are_shared_with_the_runtime()
    {
        foreach (var type in new[] { "uts", "ipc", "network", "pid", "cgroup" })
        {
            var c = Without(Fixtures.Config(), type);
            if (type == "uts")
            {
                c = c with { Hostname = null };
            }
            var p = Plan(c);
            var flag = type switch { "uts" => CLONE_NEWUTS, "ipc" => CLONE_NEWIPC, "network" => CLONE_NEWNET, "pid" => CLONE_NEWPID, _ => CLONE_NEWCGROUP };
            Assert.Equal(0ul, p.CloneFlags & flag);
            Assert.DoesNotContain(p.Steps, s => s is UnshareStep u && (u.Flags & flag) != 0);
            Assert.Equal(type != "network", p.Steps.OfType<LoopbackUpStep>().Any());
            Assert.Null(p.JoinPidNamespace);
        }
    }

    [Fact]
    public void A_hostname_and_domainname_go_to_a_uts_namespace_joined_by_path()
    {
        var c = Fixtures.Config() with { Domainname = "example" };
        c = c with { Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!.Where(n => n.Type != "uts"), new OciNamespace { Type = "uts", Path = "/proc/1/ns/uts" }] } };
        var p = Plan(c);
        Assert.Equal(0ul, p.CloneFlags & CLONE_NEWUTS);
        var join = p.Steps.ToList().FindIndex(s => s is JoinNamespaceStep { Type: "uts" });
        Assert.True(join >= 0 && join < IndexOf<HostnameStep>(p) && join < IndexOf<DomainnameStep>(p));
        Assert.Equal("sandbox", p.Steps.OfType<HostnameStep>().Single().Name);
        Assert.Equal("example", p.Steps.OfType<DomainnameStep>().Single().Name);
    }

    [Fact]
    public void Setup_becomes_root_in_a_new_user_namespace_whose_maps_need_not_map_the_runtimes_ids()
    {
        var c = Fixtures.Config();
        c = c with
        {
            Linux = c.Linux! with
            {
                Namespaces = [.. c.Linux.Namespaces!, new OciNamespace { Type = "user" }],
                UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }],
                GidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }],
            },
        };
        var p = Plan(c);
        Assert.Equal([new IdMap(0, 100000, 65536)], p.UidMap!);
        var become = IndexOf<BecomeRootStep>(p);
        Assert.False(p.Steps.OfType<BecomeRootStep>().Single().RootMayBeUnmapped);
        // after the maps exist, before the first mount; the parent-death signal, which the change clears, is armed again
        Assert.True(IndexOf<WaitForParentStep>(p) < become && become < IndexOf<BindRootfsStep>(p) && become < IndexOf<MountStep>(p));
        Assert.IsType<SetParentDeathSignalStep>(p.Steps[become + 1]);
        Assert.True(become < IndexOf<SetUserStep>(p));

        // rootless: container 0 is the caller, already
        Assert.Single(Plan(Fixtures.Config(rootless: true), Fixtures.User()).Steps.OfType<BecomeRootStep>());
        // no user namespace: nothing to become
        Assert.Empty(Plan(Fixtures.Config()).Steps.OfType<BecomeRootStep>());
        // container 0 not mapped: the ids stay as they were
        var noRoot = c with
        {
            Process = c.Process! with { User = new OciUser { Uid = 1000, Gid = 1000 } },
            Linux = c.Linux! with
            {
                UidMappings = [new OciIdMapping { ContainerId = 1000, HostId = 101000, Size = 1 }],
                GidMappings = [new OciIdMapping { ContainerId = 1000, HostId = 101000, Size = 1 }],
            },
        };
        Assert.Empty(Plan(noRoot).Steps.OfType<BecomeRootStep>());
        // a joined user namespace: its maps are not known here, so an unmapped 0 is tolerated
        var joined = Fixtures.Config();
        joined = joined with { Linux = joined.Linux! with { Namespaces = [.. joined.Linux.Namespaces!, new OciNamespace { Type = "user", Path = "/proc/1/ns/user" }] } };
        Assert.True(Plan(joined).Steps.OfType<BecomeRootStep>().Single().RootMayBeUnmapped);
    }

    [Fact]
    public void Joining_a_user_namespace_makes_the_others_by_unshare_inside_it()
    {
        var c = Fixtures.Config();
        c = c with { Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!, new OciNamespace { Type = "user", Path = "/proc/1/ns/user" }] } };
        var p = Plan(c);
        Assert.Equal(CLONE_NEWPID, p.CloneFlags);
        var join = IndexOf<JoinNamespaceStep>(p);
        var unshare = p.Steps.OfType<UnshareStep>().First();
        Assert.True(join < IndexOf<UnshareStep>(p));
        Assert.Equal(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS, unshare.Flags);
    }

    [Fact]
    public void Execution_is_confined_to_the_root_after_the_last_mount_unless_the_process_may_mount()
    {
        var p = Plan(Fixtures.Config());
        var restrict = IndexOf<RestrictExecutionStep>(p);
        Assert.True(restrict > IndexOf<RemountRootReadonlyStep>(p) && restrict > p.Steps.ToList().FindLastIndex(s => s is MountStep or MaskPathStep or ReadonlyPathStep));
        Assert.True(restrict < IndexOf<SetUserStep>(p), "Landlock needs CAP_SYS_ADMIN or no_new_privs: before credentials change");
        Assert.True(p.Steps.OfType<BindRootfsStep>().Single().ReadonlyBelow);

        var c = Fixtures.Config();
        c = c with { Process = c.Process! with { Capabilities = c.Process.Capabilities! with { Permitted = [.. c.Process.Capabilities.Permitted!, "CAP_SYS_ADMIN"] } } };
        Assert.Empty(Plan(c).Steps.OfType<RestrictExecutionStep>());
        Assert.Empty(Plan(Fixtures.Config(), Fixtures.Root() with { LandlockAbi = 0 }).Steps.OfType<RestrictExecutionStep>());
    }

    [Fact]
    public void A_new_session_keyring_is_joined_before_the_filter_that_denies_keyctl()
    {
        var c = Fixtures.Config();
        c = c with { Linux = c.Linux! with { Seccomp = Sandbox.Seccomp.BuiltInProfiles.Get("default") } };
        var p = Plan(c);
        Assert.True(IndexOf<JoinSessionKeyringStep>(p) > IndexOf<SetUserStep>(p));
        Assert.True(IndexOf<JoinSessionKeyringStep>(p) < IndexOf<SeccompStep>(p));
    }

    /// <summary>
    /// The seccomp listener goes to the runtime over a socket pair. Only one that goes on to the profile's agent
    /// (listenerPath) holds the container until it is there; the runtime's own recording supervisor does not make the
    /// child wait for a go-ahead (what its filter holds up meanwhile waits in the kernel for the answer).
    /// </summary>
    [Fact]
    public void Only_a_listener_for_the_profiles_agent_holds_the_container_until_it_is_there()
    {
        Assert.True(SeccompHost.UserNotificationAvailable(), "this test needs seccomp user notification (Linux 5.0)");
        using var bundle = new Fixtures.TempBundle();
        SetupPlan PlanWith(OciSeccomp? profile, string? report)
        {
            var c = Fixtures.Config();
            return ContainerPlanner.Build(c with { Linux = c.Linux! with { Seccomp = profile } },
                new LaunchOptions { Id = "t", Bundle = bundle.Dir, ReportPath = report }, Fixtures.Root());
        }
        var recorded = PlanWith(Sandbox.Seccomp.BuiltInProfiles.Get("default"), Path.Combine(bundle.Dir, "report.json"));
        using (var program = ChildProgram.Create(recorded))
        {
            Assert.True(recorded.Seccomp!.NeedsListener);
            Assert.True(program.ListenerSocket >= 0);
            Assert.False(program.ListenerGoAhead);
        }
        var agent = PlanWith(new OciSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            ListenerPath = "/run/agent.sock",
            Syscalls = [new OciSyscallRule { Names = ["mkdirat"], Action = "SCMP_ACT_NOTIFY" }],
        }, null);
        using (var program = ChildProgram.Create(agent))
        {
            Assert.True(agent.Seccomp!.UsesNotify);
            Assert.True(program.ListenerSocket >= 0);
            Assert.True(program.ListenerGoAhead);
        }
        using (var program = ChildProgram.Create(PlanWith(Sandbox.Seccomp.BuiltInProfiles.Get("default"), null)))
        {
            Assert.Equal(-1, program.ListenerSocket);
            Assert.False(program.ListenerGoAhead);
        }
    }

    [Fact]
    public void The_execution_domain_is_set_before_any_seccomp_filter()
    {
        var c = Fixtures.Config();
        Assert.Empty(Plan(c).Steps.OfType<SetPersonalityStep>());
        c = c with { Linux = c.Linux! with { Personality = new OciPersonality { Domain = "LINUX32" }, Seccomp = Sandbox.Seccomp.BuiltInProfiles.Get("default") } };
        var p = Plan(c);
        Assert.Equal(new SetPersonalityStep("LINUX32", 8), p.Steps.OfType<SetPersonalityStep>().Single());
        Assert.True(IndexOf<SetPersonalityStep>(p) < IndexOf<SeccompStep>(p));
        Assert.True(IndexOf<SetPersonalityStep>(p) < IndexOf<ExecStep>(p));
    }

    [Fact]
    public void A_rootless_child_is_dumpable_only_while_its_parent_writes_the_id_maps()
    {
        var p = Plan(Fixtures.Config(rootless: true), Fixtures.User());
        var dumpable = p.Steps.Select((s, i) => (s, i)).Where(x => x.s is SetDumpableStep).ToList();
        Assert.Equal(2, dumpable.Count);
        Assert.True(((SetDumpableStep)dumpable[0].s).Dumpable);
        Assert.False(((SetDumpableStep)dumpable[1].s).Dumpable);
        Assert.Equal(IndexOf<WaitForParentStep>(p) - 1, dumpable[0].i);
        Assert.Equal(IndexOf<WaitForParentStep>(p) + 1, dumpable[1].i);
        Assert.Empty(Plan(Fixtures.Config()).Steps.OfType<SetDumpableStep>());
    }

    [Fact]
    public void Create_mode_reports_ready_and_waits_for_start_before_exec_and_is_tied_to_its_parent_only_until_ready()
    {
        var p = Plan(Fixtures.Config(), detached: true);
        // Killed with `sandbox create` while it is being set up; the ready step clears the signal (PostClone).
        Assert.IsType<SetParentDeathSignalStep>(p.Steps[0]);
        Assert.Single(p.Steps.OfType<SetParentDeathSignalStep>());
        Assert.True(IndexOf<ReportReadyStep>(p) < IndexOf<WaitForStartStep>(p));
        Assert.Equal(IndexOf<WaitForStartStep>(p) + 1, IndexOf<ExecStep>(p));
    }

    [Fact]
    public void Hooks_that_run_in_the_container_sit_around_pivot_root()
    {
        var c = Fixtures.Config() with
        {
            Hooks = new OciHooks
            {
                CreateRuntime = [new OciHook { Path = "/bin/true" }],
                CreateContainer = [new OciHook { Path = "/bin/cc", Args = ["cc", "x"], Timeout = 3 }],
                StartContainer = [new OciHook { Path = "/bin/sc" }],
            },
        };
        var p = Plan(c);
        var sync = IndexOf<SyncWithParentStep>(p);
        var hooks = p.Steps.Select((s, i) => (s, i)).Where(x => x.s is RunHookStep).ToList();
        Assert.Equal(2, hooks.Count);
        Assert.True(sync < hooks[0].i && hooks[0].i < IndexOf<PivotRootStep>(p));
        Assert.Equal(p.Steps.Count - 2, hooks[1].i);
        Assert.Equal(3, ((RunHookStep)hooks[0].s).TimeoutSeconds);
    }

    [Fact]
    public void No_pivot_moves_the_root_and_chroots()
    {
        var p = Plan(Fixtures.Config(), noPivot: true);
        Assert.Equal(-1, IndexOf<PivotRootStep>(p));
        Assert.True(IndexOf<MoveRootStep>(p) > 0);
    }

    [Fact]
    public void A_missing_rootfs_is_refused()
    {
        var c = Fixtures.Config() with { Root = new OciRoot { Path = "nope" } };
        Assert.Equal(ErrorCodes.RootfsMissing, Assert.Throws<SandboxException>(() => Plan(c)).Code);
    }

    private static OciConfig Joining(OciConfig c, string type, string path) =>
        c with { Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!.Where(n => n.Type != type), new OciNamespace { Type = type, Path = path }] } };

    /// <summary>
    /// The host's namespaces joined by path: checked on the descriptors the native program opens, before any clone
    /// (which is why this is a unit test: a runtime without the check would pivot the host's root).
    /// </summary>
    [Fact]
    public void The_hosts_own_namespaces_joined_by_path_are_refused_where_setup_would_change_them()
    {
        var mount = Assert.Throws<SandboxException>(() => ChildProgram.Create(Plan(Joining(Fixtures.Config(), "mount", "/proc/self/ns/mnt"))));
        Assert.Equal(ErrorCodes.ConfigInvalid, mount.Code);
        Assert.StartsWith("$.linux.namespaces: the mount namespace joined by path (/proc/self/ns/mnt) is the host's", mount.Message, StringComparison.Ordinal);
        Assert.Contains("leave the mount namespace out", mount.Hint, StringComparison.Ordinal);

        var uts = Assert.Throws<SandboxException>(() => ChildProgram.Create(Plan(Joining(Fixtures.Config(), "uts", "/proc/self/ns/uts"))));
        Assert.StartsWith("$.hostname: the uts namespace joined by path (/proc/self/ns/uts) is the host's", uts.Message, StringComparison.Ordinal);
        var domain = Joining(Fixtures.Config() with { Hostname = null, Domainname = "d" }, "uts", "/proc/self/ns/uts");
        Assert.StartsWith("$.domainname: ", Assert.Throws<SandboxException>(() => ChildProgram.Create(Plan(domain))).Message, StringComparison.Ordinal);
        var sysctl = Joining(Fixtures.Config(), "ipc", "/proc/self/ns/ipc");
        sysctl = sysctl with { Linux = sysctl.Linux! with { Sysctl = new() { ["kernel.shmmax"] = "1" } } };
        Assert.StartsWith("$.linux.sysctl (/proc/sys/kernel/shmmax): the ipc namespace", Assert.Throws<SandboxException>(() => ChildProgram.Create(Plan(sysctl))).Message, StringComparison.Ordinal);

        // Joined without anything written to it, a host namespace is shared, as leaving it out would share it.
        using var shared = ChildProgram.Create(Plan(Joining(Fixtures.Config() with { Hostname = null }, "uts", "/proc/self/ns/uts")));
        Assert.Contains(shared.Steps, s => s is JoinNamespaceStep { Type: "uts" });
    }

    [Fact]
    public void The_native_program_holds_every_step()
    {
        var p = Plan(Fixtures.Config());
        using var program = ChildProgram.Create(p);
        unsafe
        {
            Assert.Equal(p.Steps.Count, program.Context->StepCount);
            Assert.Equal(ChildOp.Exec, program.Context->Steps[p.Steps.Count - 1].Op);
            var mount = program.Context->Steps[IndexOf<MountStep>(p)];
            Assert.Equal("proc", new string((sbyte*)mount.S2));
        }
    }

    [Fact]
    public void Sysctls_are_written_under_proc_sys_with_dots_in_names_kept_in_the_slash_form()
    {
        var c = Fixtures.Config();
        c = c with { Linux = c.Linux! with { Sysctl = new() { ["net.ipv4.ip_forward"] = "1", ["net/ipv4/conf/eth0.100/forwarding"] = "0" } } };
        var writes = Plan(c).Steps.OfType<WriteFileStep>().Select(w => (w.Path, w.Content));
        Assert.Equal([("/proc/sys/net/ipv4/ip_forward", "1"), ("/proc/sys/net/ipv4/conf/eth0.100/forwarding", "0")], writes);
    }
}

public class NamespacePlanTests
{
    [Fact]
    public void A_time_namespace_is_never_a_clone_flag()
    {
        using var b = new Fixtures.TempBundle();
        var c = Fixtures.Config();
        c = c with { Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!, new OciNamespace { Type = "time" }] } };
        var p = ContainerPlanner.Build(c, new LaunchOptions { Id = "t", Bundle = b.Dir }, Fixtures.Root());
        Assert.Equal(0ul, p.CloneFlags & CLONE_NEWTIME);
        Assert.Single(p.Steps.OfType<EnterTimeNamespaceStep>());
    }

    [Fact]
    public void Joining_by_path_under_a_new_user_namespace_is_refused_not_attempted()
    {
        using var b = new Fixtures.TempBundle();
        var c = Fixtures.Config(rootless: true);
        c = c with { Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!.Where(n => n.Type != "network"), new OciNamespace { Type = "network", Path = "/proc/1/ns/net" }] } };
        var e = Assert.Throws<SandboxException>(() => ContainerPlanner.Build(c, new LaunchOptions { Id = "t", Bundle = b.Dir }, Fixtures.User()));
        Assert.Equal(ErrorCodes.Unsupported, e.Code);
    }
}

/// <summary>`exec`'s plan: join, never set up.</summary>
public class ExecPlanTests
{
    private static SetupPlan Exec(OciConfig c, OciProcess? proc = null, HostFacts? host = null, bool detached = false)
    {
        using var b = new Fixtures.TempBundle();
        return ContainerPlanner.BuildExec(c, proc ?? c.Process!, b.Dir, 4242, new ExecOptions { Id = "t", Detached = detached }, host ?? Fixtures.Root());
    }

    [Fact]
    public void The_user_namespace_is_joined_first_the_pid_namespace_last_and_nothing_is_mounted()
    {
        var p = Exec(Fixtures.Config(rootless: true), host: Fixtures.User());
        var joins = p.Steps.OfType<JoinNamespaceStep>().ToList();
        Assert.Equal("user", joins[0].Type);
        Assert.All(joins, j => Assert.StartsWith("/proc/4242/ns/", j.Path, StringComparison.Ordinal));
        var steps = p.Steps.ToList();
        var enter = steps.FindIndex(s => s is EnterPidNamespaceStep);
        Assert.True(enter > steps.FindLastIndex(s => s is JoinNamespaceStep));
        Assert.IsType<SetParentDeathSignalStep>(steps[enter + 1]);
        Assert.True(enter < steps.FindIndex(s => s is WaitForParentStep));
        Assert.Equal(0UL, p.CloneFlags);
        Assert.DoesNotContain(steps, s => s is MountStep or PivotRootStep or BindRootfsStep or HostnameStep or WriteFileStep or UnshareStep or MaskPathStep);
        Assert.IsType<ExecStep>(steps[^1]);
    }

    [Fact]
    public void A_detached_process_is_not_killed_with_exec_and_a_foreground_one_is()
    {
        var detached = Exec(Fixtures.Config(), detached: true).Steps;
        Assert.Equal(new SetParentDeathSignalStep(0), detached[^2]);
        var foreground = Exec(Fixtures.Config()).Steps;
        Assert.DoesNotContain(new SetParentDeathSignalStep(0), foreground);
    }

    [Fact]
    public void A_container_without_a_mount_namespace_chroots_the_process_and_refuses_it_chroot_capabilities()
    {
        var c = Fixtures.Config();
        c = c with { Linux = c.Linux! with { Namespaces = [.. c.Linux.Namespaces!.Where(n => n.Type != "mount")] } };
        Assert.Contains(Exec(c).Steps, s => s is ChrootStep);
        var proc = c.Process! with { Capabilities = new OciCapabilities { Bounding = ["CAP_SYS_CHROOT"], Permitted = ["CAP_SYS_CHROOT"], Effective = ["CAP_SYS_CHROOT"] } };
        var e = Assert.Throws<SandboxException>(() => Exec(c, proc));
        Assert.Contains("CAP_SYS_CHROOT", e.Message, StringComparison.Ordinal);
    }
}
