using Sandbox.Bundles;
using Sandbox.Oci;
using Sandbox.Runtime;
using Sandbox.Spec;

namespace Sandbox.Cli;

/// <summary>The commands that start from sandbox.yaml: build, run --spec, cache prune.</summary>
internal static class SpecCommands
{
    /// <summary>`sandbox build sandbox.yaml -o DIR`: writes the bundle and prints its digest.</summary>
    public static int Build(CommandLine cl, HostFacts host, Action<string> write)
    {
        if (cl.Operands.Count != 1)
        {
            throw new SandboxException(ErrorCodes.Usage, "`sandbox build` takes one sandbox.yaml", "e.g. `sandbox build sandbox.yaml -o bundle`");
        }
        if (cl.Value("--output") is not { Length: > 0 } output)
        {
            throw new SandboxException(ErrorCodes.Usage, "`sandbox build` needs -o DIR", "name the directory the bundle goes to, e.g. `-o bundle`");
        }
        var spec = Load(cl.Operands[0]);
        var built = new BundleBuilder(BundleBuilder.DefaultCacheRoot(), host.Uid, host.Gid).Build(spec, output);
        write($"{built.Digest}\n");
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
