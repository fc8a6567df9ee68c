namespace Sandbox.Oci;

/// <summary>Annotations sandbox writes into the configs it builds and reads back when it runs them.</summary>
public static class SandboxAnnotations
{
    /// <summary>Host environment variables to pass at run time (comma-separated names, or prefixes ending in '*').</summary>
    public const string PassEnvironment = "org.sandbox.env.pass";

    /// <summary>A wall-clock limit for `sandbox run`, in milliseconds (from sandbox.yaml's limits.time).</summary>
    public const string TimeoutMs = "org.sandbox.timeout-ms";

    /// <summary>The sandbox.yaml a bundle was built from.</summary>
    public const string Spec = "org.sandbox.spec";

    /// <summary>Adds the host variables the config's allow-list names; nothing else from the host gets in.</summary>
    public static OciConfig WithPassedEnvironment(OciConfig config, Func<System.Collections.IDictionary> hostEnvironment)
    {
        if (config.Annotations?.GetValueOrDefault(PassEnvironment) is not { Length: > 0 } list || config.Process is null)
        {
            return config;
        }
        var patterns = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var env = new List<string>(config.Process.Env ?? []);
        foreach (System.Collections.DictionaryEntry e in hostEnvironment())
        {
            var name = (string)e.Key;
            var match = patterns.Any(p => p.EndsWith('*') ? name.StartsWith(p[..^1], StringComparison.Ordinal) : name == p);
            if (match)
            {
                env.RemoveAll(x => x.StartsWith(name + "=", StringComparison.Ordinal));
                env.Add($"{name}={e.Value}");
            }
        }
        return config with { Process = config.Process with { Env = env } };
    }
}
