using System.Runtime.InteropServices;

namespace Sandbox.Bundles;

/// <summary>The host's .NET installation, found the way the dotnet host looks for it, and its native files.</summary>
internal sealed record DotnetInstallation(string Root)
{
    /// <summary>
    /// DOTNET_ROOT_&lt;ARCH&gt; and DOTNET_ROOT, the `dotnet` on PATH (through its symlinks),
    /// /etc/dotnet/install_location[_arch], then the distributions' default directories.
    /// </summary>
    public static DotnetInstallation? Locate(Func<string, string?>? env = null, string root = "/")
    {
        env ??= Environment.GetEnvironmentVariable;
        var arch = RuntimeInformation.OSArchitecture.ToString().ToUpperInvariant();
        var candidates = new List<string?> { env($"DOTNET_ROOT_{arch}"), env("DOTNET_ROOT") };
        foreach (var dir in (env("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var exe = Path.Join(root, dir, "dotnet");
            if (File.Exists(exe))
            {
                var real = new FileInfo(exe).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? exe;
                candidates.Add(Path.GetDirectoryName(real)![root.TrimEnd('/').Length..]);
                break;
            }
        }
        foreach (var f in new[] { $"/etc/dotnet/install_location_{arch.ToLowerInvariant()}", "/etc/dotnet/install_location" })
        {
            var p = Path.Join(root, f);
            if (File.Exists(p))
            {
                candidates.Add(File.ReadLines(p).FirstOrDefault()?.Trim());
            }
        }
        candidates.Add("/usr/share/dotnet");
        candidates.Add("/usr/lib/dotnet");
        foreach (var c in candidates)
        {
            if (!string.IsNullOrEmpty(c) && File.Exists(Path.Join(root, c, "dotnet")) && Directory.Exists(Path.Join(root, c, "host", "fxr")))
            {
                return new DotnetInstallation(c.TrimEnd('/'));
            }
        }
        return null;
    }

    /// <summary>The muxer and every native library of the host and the shared frameworks.</summary>
    public IEnumerable<string> NativeFiles(string root = "/")
    {
        yield return Path.Join(Root, "dotnet");
        foreach (var sub in new[] { "host", "shared" })
        {
            var dir = Path.Join(root, Root, sub);
            if (!Directory.Exists(dir))
            {
                continue;
            }
            foreach (var f in Directory.EnumerateFiles(dir, "*.so", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                yield return f[root.TrimEnd('/').Length..];
            }
        }
    }

    /// <summary>
    /// Libraries .NET opens with dlopen when present: ICU (globalization), OpenSSL (crypto, TLS), zlib.
    /// Given as soname patterns; the newest match in the loader's directories is taken.
    /// </summary>
    public static readonly string[] OnDemandLibraries =
        ["libicuuc.so.*", "libicui18n.so.*", "libicudata.so.*", "libssl.so.*", "libcrypto.so.*", "libz.so.1"];
}
