using System.Text;
using Sandbox.Spec;

namespace Sandbox.Bundles;

/// <summary>The /etc files a spec asks for, generated from the spec alone (and the host's resolv.conf for network: host).</summary>
internal static class EtcFilesGenerator
{
    public static IEnumerable<(string Path, string Content)> Generate(SandboxSpec spec, Func<string?> hostResolvConf)
    {
        var etc = spec.Etc;
        if (etc.Passwd)
        {
            var sb = new StringBuilder("root:x:0:0:root:/root:/sbin/nologin\n");
            if (spec.Uid != 0 && spec.Uid != 65534)
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"sandbox:x:{spec.Uid}:{spec.Gid}:sandbox:/tmp:/sbin/nologin\n");
            }
            sb.Append("nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
            yield return ("/etc/passwd", sb.ToString());
        }
        if (etc.Group)
        {
            var sb = new StringBuilder("root:x:0:\n");
            if (spec.Gid != 0 && spec.Gid != 65534)
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"sandbox:x:{spec.Gid}:\n");
            }
            sb.Append("nogroup:x:65534:\n");
            yield return ("/etc/group", sb.ToString());
        }
        if (etc.Hosts)
        {
            var sb = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"127.0.1.1\t{spec.Hostname}\n");
            foreach (var (name, address) in etc.ExtraHosts.OrderBy(h => h.Key, StringComparer.Ordinal))
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"{address}\t{name}\n");
            }
            yield return ("/etc/hosts", sb.ToString());
        }
        if (etc.ResolvConf)
        {
            yield return ("/etc/resolv.conf", spec.Network == NetworkMode.Host
                ? hostResolvConf() ?? ""
                : "# network: none: there is no resolver to reach\n");
        }
        if (etc.NsswitchConf)
        {
            yield return ("/etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n");
        }
    }
}
