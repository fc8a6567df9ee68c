using System.Diagnostics;

namespace Sandbox.EndToEnd.Tests;

/// <summary>Rootless runs, `sandbox spec` and `sandbox doctor`.</summary>
public class HostTests
{
    [PrivilegedFact]
    public void An_ordinary_user_runs_a_container_in_a_user_namespace()
    {
        const uint nobody = 65534;
        using var b = new TestBundle(rootless: true, uid: nobody);
        var state = b.SharedStateRoot();
                // /sys is the host's, bound read-only (a rootless sysfs mount is refused); /proc/net shows this netns.
        b.Sh("id -u; cat /proc/self/uid_map | tr -s ' '; hostname; echo $$; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
        b.Write();
        var r = SandboxHost.Run(["--root", state, "run", "--bundle", b.Dir, b.Id], asUser: nobody.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["0", " 0 65534 1", "sandbox", "1", "lo"], r.Stdout.Trim().Split('\n'));
        Assert.Empty(Directory.Exists(state) ? Directory.GetFileSystemEntries(state) : []);
    }

    /// <summary>`sandbox` hands the sandbox.yaml commands to `sandbox-build` beside it, with the same arguments.</summary>
    [PrivilegedFact]
    public void The_yaml_commands_go_to_sandbox_build_beside_sandbox_and_say_so_when_it_is_missing()
    {
        var dir = Directory.CreateTempSubdirectory("sandbox-alone-").FullName;
        try
        {
            var alone = Path.Combine(dir, "sandbox");
            ExecutableFile.Copy(SandboxHost.Exe, alone);
            using var p = Process.Start(new ProcessStartInfo(alone, ["cache", "prune"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(125, p.ExitCode);
            Assert.Contains($"exec {Path.Combine(dir, "sandbox-build")}: ENOENT", stderr, StringComparison.Ordinal);
            Assert.Contains("sandbox-build runs the sandbox.yaml commands", stderr, StringComparison.Ordinal);

            // Beside it, the same command works and reports as sandbox-build does.
            var r = SandboxHost.Run(["cache", "prune"], env: new Dictionary<string, string> { ["SANDBOX_CACHE"] = Path.Combine(dir, "cache") });
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.StartsWith("removed 0 cached bundles", r.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [PrivilegedFact]
    public void Spec_writes_a_config_that_runs_and_refuses_to_overwrite()
    {
        var dir = Directory.CreateTempSubdirectory("sandbox-spec-").FullName;
        try
        {
            Assert.Equal(0, SandboxHost.Run(["spec", "--bundle", dir]).ExitCode);
            var text = File.ReadAllText(Path.Combine(dir, "config.json"));
            Assert.Contains("\"readonly\": true", text, StringComparison.Ordinal);
            Directory.CreateSymbolicLink(Path.Combine(dir, "rootfs"), SandboxHost.Rootfs);
            File.WriteAllText(Path.Combine(dir, "config.json"), text.Replace("\"sh\"", "\"sh\", \"-c\", \"echo spec-ok\"", StringComparison.Ordinal));
            var r = SandboxHost.Run(["--root", Path.Combine(dir, "state"), "run", "--bundle", dir, "spec-test"]);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("spec-ok", r.Stdout.Trim());
            Assert.Contains("SBX3002", SandboxHost.Run(["spec", "--bundle", dir]).Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [PrivilegedFact]
    public void Doctor_reports_what_this_host_allows()
    {
        var r = SandboxHost.Run(["doctor"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var line in new[] { "user namespaces:", "for ordinary users:", "overlay:", "pivot_root:" })
        {
            Assert.Matches($@"{line}\s+ok", r.Stdout);
        }
        Assert.Contains("user.max_user_namespaces=", r.Stdout, StringComparison.Ordinal);
        // Doctor's probes leave no temporary directories behind.
        Assert.Empty(Directory.GetDirectories(Path.GetTempPath(), "sandbox-doctor-*"));
    }
}
