namespace Sandbox.Tests.Shared;

/// <summary>
/// A temporary directory for the whole life of a test process (helper programs compiled once, a rootfs copy), named
/// <c>PREFIX{pid}-XXXXXX</c> in the temporary directory. vstest.console kills testhost once a run is over, so the
/// ProcessExit handler that removes it often never runs: each new one first removes those whose process is gone.
/// </summary>
internal static class ProcessScratch
{
    public static string Create(string prefix)
    {
        foreach (var old in Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*"))
        {
            var rest = Path.GetFileName(old)[prefix.Length..];
            var dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(rest[..dash], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                Remove(old);
            }
        }
        var dir = Directory.CreateTempSubdirectory($"{prefix}{Environment.ProcessId}-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Remove(dir);
        return dir;
    }

    private static void Remove(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Another process's directory it still uses, or one gone meanwhile: left for the next sweep.
        }
    }
}
