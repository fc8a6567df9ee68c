using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Sandbox.TestAdapter;

/// <summary>
/// Whether this host can make sandboxes for this user, asked once per testhost before the first sandbox: not on
/// Linux, never; as root, yes; as anyone else, what `sandbox doctor` finds when it tries a user namespace for real
/// (procfs knobs alone do not tell: an enclosing namespace's limit or an LSM can refuse what they allow).
/// </summary>
internal static class HostCheck
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, string?> Verdicts = new(StringComparer.Ordinal);

    /// <summary>Null when <paramref name="sandbox"/> can make sandboxes here, else why not and the fix.</summary>
    public static string? Problem(string sandbox) => Problem(sandbox, Interop.Libc.Geteuid());

    internal static string? Problem(string sandbox, uint euid)
    {
        if (!OperatingSystem.IsLinux())
        {
            return $"sandboxes need Linux, and this is {RuntimeInformation.OSDescription}";
        }
        if (!File.Exists(sandbox))
        {
            return $"the runtime {sandbox} is missing: rebuild the test project (Sandbox.Build copies it), or reinstall the package";
        }
        if (euid == 0)
        {
            return null;
        }
        lock (Gate)
        {
            if (!Verdicts.TryGetValue(sandbox, out var verdict))
            {
                verdict = AskDoctor(sandbox);
                Verdicts[sandbox] = verdict;
            }
            return verdict;
        }
    }

    /// <summary>`sandbox doctor`'s "user namespaces" line, when it says NO.</summary>
    private static string? AskDoctor(string sandbox)
    {
        var psi = new ProcessStartInfo(sandbox) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("doctor");
        string output;
        try
        {
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                p.Kill();
                return $"`{sandbox} doctor` did not answer in 30 s";
            }
            output += stderr.Result;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{sandbox} cannot be started ({e.Message}): check it is executable and the file system allows it (not noexec)";
        }
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("user namespaces:", StringComparison.Ordinal));
        if (line is null || line.Contains(" ok ", StringComparison.Ordinal))
        {
            return null;
        }
        return $"sandbox doctor says: {line.Trim()}. As an ordinary user, sandboxes need user namespaces: "
            + "enable them (sysctl user.max_user_namespaces=15000, kernel.unprivileged_userns_clone=1 where it exists, "
            + "kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu), or run the tests as root";
    }
}
