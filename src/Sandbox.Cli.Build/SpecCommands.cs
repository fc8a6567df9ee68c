using Sandbox.Bundles;
using Sandbox.Oci;
using Sandbox.Runtime;
using Sandbox.Spec;

namespace Sandbox.Cli;

/// <summary>The commands that start from sandbox.yaml: build, run --spec, cache prune.</summary>
internal static class SpecCommands
{
    /// <summary>
    /// `sandbox build sandbox.yaml [-o DIR] [--oci-layout DIR [--tag NAME]]`: writes the bundle, or exports it as an OCI
    /// image layout, or both; prints the bundle's digest, then for the layout its image reference and manifest digest,
    /// and on stderr the podman command that runs it as the bundle would run.
    /// </summary>
    public static int Build(CommandLine cl, HostFacts host, Action<string> write)
    {
        if (cl.Operands.Count != 1)
        {
            throw new SandboxException(ErrorCodes.Usage, "`sandbox build` takes one sandbox.yaml", "e.g. `sandbox build sandbox.yaml -o bundle`");
        }
        var output = cl.Value("--output") is { Length: > 0 } o ? o : null;
        var layout = cl.Value("--oci-layout") is { Length: > 0 } l ? l : null;
        if (output is null && layout is null)
        {
            throw new SandboxException(ErrorCodes.Usage, "`sandbox build` needs -o DIR or --oci-layout DIR",
                "name the directory the bundle goes to, e.g. `-o bundle`, or the OCI image layout, e.g. `--oci-layout image`");
        }
        if (cl.Value("--tag") is not null && layout is null)
        {
            throw new SandboxException(ErrorCodes.Usage, "--tag names the image of --oci-layout", "add --oci-layout DIR, or leave --tag out");
        }
        var spec = Load(cl.Operands[0]);
        var builder = new BundleBuilder(BundleBuilder.DefaultCacheRoot(), host.Uid, host.Gid);
        if (output is not null)
        {
            write($"{builder.Build(spec, output).Digest}\n");
        }
        if (layout is not null)
        {
            var image = builder.ExportOciLayout(spec, layout, cl.Value("--tag") is { Length: > 0 } tag ? tag : "latest");
            if (output is null)
            {
                write($"{image.BundleDigest}\n");
            }
            write($"oci:{image.Directory}:{image.Tag} {image.ManifestDigest}\n");
            Console.Error.Write($"run it with: podman run {string.Join(' ', image.PodmanOptions)} oci:{image.Directory}:{image.Tag}\n");
        }
        return 0;
    }

    /// <summary>`sandbox run --spec sandbox.yaml [ID] [-- CMD ARGS]`: builds or reuses the bundle in the cache, then runs.</summary>
    public static int Run(CommandLine cl, HostFacts host, Lifecycle life, string specPath, LaunchOptions options, string? pidFile)
    {
        var spec = Load(specPath);
        var built = new BundleBuilder(BundleBuilder.DefaultCacheRoot(), host.Uid, host.Gid).BuildInCache(spec);
        var config = OciConfigLoader.LoadBundle(built.Directory);
        if (cl.Operands.Count > 1 || cl.AfterDashes.Count > 0)
        {
            var command = cl.AfterDashes.Count > 0 ? cl.AfterDashes : cl.Operands.Skip(1).ToList();
            config = config with { Process = config.Process! with { Args = [.. command] } };
        }
        return life.Run(options with { Bundle = built.Directory }, pidFile, System.Text.Encoding.UTF8.GetBytes(OciConfigLoader.Serialize(config)));
    }

    public static int PruneCache(CommandLine cl, Action<string> write)
    {
        var all = cl.Has("--all");
        var (layers, blobs, bytes, bundles) = BundleBuilder.Prune(BundleBuilder.DefaultCacheRoot(), all ? TimeSpan.Zero : TimeSpan.FromDays(7));
        write($"removed {bundles} cached bundles, {layers} layers, {blobs} blobs ({bytes / 1024.0 / 1024.0:F1} MiB)\n");
        return 0;
    }

    private static SandboxSpec Load(string path)
    {
        try
        {
            return SpecParser.Load(path);
        }
        catch (SpecException e)
        {
            // As compilers print them: `sandbox.yaml:3:1: SBX4005: unknown key ...`, then the problem's hint.
            throw new SandboxException(e.Errors[0].Code,
                string.Join("\n", e.Errors.Select(x => $"{x.Location}: {x.Code}: {x.Message}" + (x.Hint is null ? "" : $"\n  hint: {x.Hint}"))))
            {
                Located = true,
            };
        }
    }
}
