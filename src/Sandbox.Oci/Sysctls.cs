namespace Sandbox.Oci;

/// <summary>
/// Which linux.sysctl keys a container may set: only those that belong to a namespace of its own, so that nothing
/// it writes reaches the host (the rule of runc's validator). net.* needs a network namespace, the System V IPC and
/// POSIX message queue keys an IPC namespace, kernel.hostname and kernel.domainname a UTS namespace; a namespace
/// joined by path counts, as it is not the one sandbox runs in. Every other key (vm.*, kernel.*, fs.*) is global.
/// </summary>
public static class Sysctls
{
    /// <summary>The kernel.* keys of the IPC namespace (ipc/ipc_sysctl.c); fs.mqueue.* are its other ones.</summary>
    public static readonly string[] IpcKernelKeys =
        ["msgmax", "msgmnb", "msgmni", "sem", "shmall", "shmmax", "shmmni", "shm_rmid_forced"];

    /// <summary>
    /// The key's components: "net.ipv4.ip_forward" splits at dots, and a key with a slash ("net/ipv4/conf/eth0.100/forwarding")
    /// splits at slashes only, so that names with dots in them can be given. Null when a component is empty, "." or
    /// "..", or holds a control character: such a key could name a file outside /proc/sys.
    /// </summary>
    public static string[]? Components(string key)
    {
        var parts = key.Split(key.Contains('/', StringComparison.Ordinal) ? '/' : '.');
        return parts.Length >= 2 && parts.All(p => p.Length > 0 && p is not ("." or "..") && !p.Any(char.IsControl)) ? parts : null;
    }

    /// <summary>The file a valid key is written to.</summary>
    public static string ProcPath(string key) => "/proc/sys/" + string.Join('/', Components(key)
        ?? throw new ArgumentException($"not a sysctl key: {key}", nameof(key)));

    internal static void Validate(OciConfig c, List<ConfigProblem> p)
    {
        if (c.Linux?.Sysctl is not { Count: > 0 } sysctl)
        {
            return;
        }
        var namespaces = (c.Linux.Namespaces ?? []).Select(n => n.Type).ToHashSet(StringComparer.Ordinal);
        foreach (var (key, _) in sysctl)
        {
            var path = $"$.linux.sysctl.{NullAndNulScan.Printable(key)}";
            if (Components(key) is not { } parts)
            {
                p.Add(new(ErrorCodes.SysctlRefused, path, "is not a sysctl key: a component is empty, \".\" or \"..\", or holds a control character",
                    "write the key as in sysctl(8), e.g. net.ipv4.ip_forward"));
                continue;
            }
            var (ns, what) = parts switch
            {
                ["net", ..] => ("network", "net.* keys"),
                ["kernel", var k] when IpcKernelKeys.Contains(k) => ("ipc", "System V IPC keys"),
                ["fs", "mqueue", _] => ("ipc", "fs.mqueue.* keys"),
                ["kernel", "hostname" or "domainname"] => ("uts", "kernel.hostname and kernel.domainname"),
                _ => ((string?)null, (string?)null),
            };
            if (ns is null)
            {
                p.Add(new(ErrorCodes.SysctlRefused, path, "is not namespaced: setting it would change the host for every process on it",
                    "remove it; a container may set only net.*, the IPC keys (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*) and kernel.hostname/domainname"));
            }
            else if (!namespaces.Contains(ns))
            {
                p.Add(new(ErrorCodes.SysctlRefused, path, $"{what} belong to the {ns} namespace, and the container has none of its own: this would change the host's",
                    $"add {{\"type\": \"{ns}\"}} to linux.namespaces, or remove the key"));
            }
            else if (parts is ["kernel", "hostname"] && !string.IsNullOrEmpty(c.Hostname))
            {
                p.Add(new(ErrorCodes.SysctlRefused, path, "conflicts with $.hostname, which it would silently override",
                    "set the host name in one place: $.hostname"));
            }
        }
    }
}
