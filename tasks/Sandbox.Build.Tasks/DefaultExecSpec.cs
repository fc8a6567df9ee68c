using System.Text;

namespace Sandbox.Build.Tasks;

/// <summary>
/// The base a SandboxExec step runs on when it names no Spec: the `dotnet` base, the host's system directories
/// read-only (so `/bin/sh` and ordinary tools run), a private /tmp that is also HOME, no network but loopback, the
/// default seccomp profile. What it holds depends on the host's layout, so it is written for this host.
/// </summary>
internal static class DefaultExecSpec
{
    public static string Render()
    {
        var sb = new StringBuilder()
            .Append("# Written by SandboxExec (docs/msbuild.md#sandboxexec): the default base of a hermetic build step.\n")
            .Append("version: 1\nbase: dotnet\nreadOnlyRoot: true\nnetwork: none\nseccomp: default\n")
            .Append("tmpfs:\n  - target: /tmp\n    size: 1Gi\n")
            .Append("env:\n  set:\n    HOME: /tmp\n    TZ: UTC\n    LANG: C.UTF-8\n");
        var mounts = new List<string>();
        var links = new List<string>();
        foreach (var dir in new[] { "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/alternatives" })
        {
            var info = new DirectoryInfo(dir);
            if (!info.Exists)
            {
                continue;
            }
            if (info.LinkTarget is null)
            {
                mounts.Add(dir);
            }
            else if (!dir.StartsWith("/lib", StringComparison.Ordinal))
            {
                // A merged-/usr host's /bin -> usr/bin, copied as the symlink it is. The /lib links are the `dotnet`
                // base's already: the dynamic loader is found through them.
                links.Add(dir);
            }
        }
        sb.Append("mounts:\n");
        foreach (var m in mounts)
        {
            sb.Append("  - source: ").Append(DefaultSpec.QuotedYaml(m)).Append("\n    target: ").Append(DefaultSpec.QuotedYaml(m)).Append('\n');
        }
        if (links.Count > 0)
        {
            sb.Append("files:\n");
            foreach (var l in links)
            {
                sb.Append("  - source: ").Append(DefaultSpec.QuotedYaml(l)).Append("\n    target: ").Append(DefaultSpec.QuotedYaml(l)).Append('\n');
            }
        }
        return sb.ToString();
    }
}
