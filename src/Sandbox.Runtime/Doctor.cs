using Sandbox.Runtime.Interop;

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
        return list;
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
            dir.Delete(recursive: true);
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
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Runs steps in a child with the given namespaces; returns null on success, else what failed.</summary>
    private static unsafe string? Probe(ulong flags, HostFacts? host, List<SetupStep> steps)
    {
        var mapped = (flags & Libc.CLONE_NEWUSER) != 0 && host is not null;
        steps.Insert(0, new WaitForParentStep());
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
