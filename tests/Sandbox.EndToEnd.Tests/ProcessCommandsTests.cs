using System.Text.Json;

namespace Sandbox.EndToEnd.Tests;

/// <summary>`sandbox ps`, `sandbox kill --all` and `sandbox features`, as podman and runc's users call them.</summary>
public class ProcessCommandsTests
{
    /// <summary>
    /// In its own pid namespace the container's first process gets only the signals it has a handler for: TERM sent to
    /// it alone does nothing to a shell; `kill --all` reaches every process of the container.
    /// </summary>
    [PrivilegedFact]
    public void Kill_all_signals_every_process_of_the_container_and_ps_lists_them()
    {
        using var b = new TestBundle();
        b.Sh("sleep 1000 & sleep 1000 & wait; exec sleep 1001");
        try
        {
            Assert.Equal(0, b.Cli(["create", "--bundle", b.Dir, b.Id]).ExitCode);
            Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);
            var pids = Array.Empty<int>();
            SandboxHost.WaitUntil(() => (pids = Ps(b)).Length == 3, TimeSpan.FromSeconds(10), "the shell and its two sleeps");
            var table = b.Cli(["ps", b.Id]);
            Assert.True(table.ExitCode == 0, table.ToString());
            Assert.Equal(2, table.Stdout.Split('\n').Count(l => l.EndsWith("\tsleep 1000", StringComparison.Ordinal)));
            var init = int.Parse(JsonDocument.Parse(b.Cli(["state", b.Id]).Stdout).RootElement.GetProperty("pid").GetRawText(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains(init, pids);

            // The first process only: nothing happens.
            Assert.Equal(0, b.Cli(["kill", b.Id, "TERM"]).ExitCode);
            Thread.Sleep(300);
            Assert.Equal(pids, Ps(b));

            // Every process: the sleeps end, the shell's wait returns and it execs its last sleep (still the first process).
            var all = b.Cli(["kill", "--all", b.Id, "TERM"]);
            Assert.True(all.ExitCode == 0, all.ToString());
            SandboxHost.WaitUntil(() => Ps(b) is [var only] && only == init, TimeSpan.FromSeconds(10), "only the first process left");
            SandboxHost.WaitUntil(() => File.ReadAllText($"/proc/{init}/cmdline").StartsWith("sleep\01001", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the last sleep");
            Assert.Equal("[" + init + "]", b.Cli(["ps", "--format", "json", b.Id]).Stdout.Trim());
            Assert.Contains("--format yaml", b.Cli(["ps", "--format", "yaml", b.Id]).Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        }
        Assert.Contains("does not exist", b.Cli(["ps", b.Id]).Stderr, StringComparison.Ordinal);
    }

    private static int[] Ps(TestBundle b)
    {
        var r = b.Cli(["ps", "--format", "json", b.Id]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonSerializer.Deserialize<int[]>(r.Stdout)!;
    }

    [PrivilegedFact]
    public void Features_is_the_runtime_spec_features_document()
    {
        var r = SandboxHost.Run(["features"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var f = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(("1.0.0", "1.3.0"), (f.GetProperty("ociVersionMin").GetString(), f.GetProperty("ociVersionMax").GetString()));
        Assert.Contains("createRuntime", Strings(f.GetProperty("hooks")));
        Assert.Superset(new HashSet<string> { "rbind", "ro", "nosuid", "rprivate", "idmap" }, Strings(f.GetProperty("mountOptions")).ToHashSet());
        var linux = f.GetProperty("linux");
        Assert.Equal(["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"], Strings(linux.GetProperty("namespaces")));
        Assert.Contains("CAP_SYS_ADMIN", Strings(linux.GetProperty("capabilities")));
        Assert.Equal(["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"], Strings(linux.GetProperty("seccomp").GetProperty("archs")));
        Assert.Contains("SCMP_ACT_NOTIFY", Strings(linux.GetProperty("seccomp").GetProperty("actions")));
        Assert.True(linux.GetProperty("mountExtensions").GetProperty("idmap").GetProperty("enabled").GetBoolean());
        Assert.False(linux.GetProperty("cgroup").GetProperty("systemd").GetBoolean());
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}
