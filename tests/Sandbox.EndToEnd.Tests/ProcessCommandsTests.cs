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

    /// <summary>Paused, the container's processes stop (a counter it writes stands still) and its state says so;
    /// resumed, they go on. Both refuse the wrong state.</summary>
    [PrivilegedFact]
    public void Pause_freezes_every_process_and_resume_thaws_them()
    {
        using var b = new TestBundle();
        var shared = Directory.CreateDirectory(Path.Combine(b.Dir, "shared")).FullName;
        b.Config = b.Config with
        {
            Mounts = [.. b.Config.Mounts!, new Sandbox.Oci.OciMount { Destination = "/shared", Type = "bind", Source = shared, Options = ["rbind", "rw"] }],
            Linux = b.Config.Linux! with { Resources = new Sandbox.Oci.OciResources { Pids = new Sandbox.Oci.OciPids { Limit = 100 } } },
            Process = b.Process with { User = new Sandbox.Oci.OciUser { Uid = 0, Gid = 0 } },
        };
        // A child does the counting: pause must stop every process, not only the first.
        b.Sh("(i=0; while true; do i=$((i+1)); echo $i > /shared/n.tmp; mv /shared/n.tmp /shared/n; sleep 0.02; done) & wait");
        var counter = Path.Combine(shared, "n");
        int Count() => File.Exists(counter) && int.TryParse(File.ReadAllText(counter), out var n) ? n : 0;
        string State() => JsonDocument.Parse(b.Cli(["state", b.Id]).Stdout).RootElement.GetProperty("status").GetString()!;
        try
        {
            Assert.Equal(0, b.Cli(["create", "--bundle", b.Dir, b.Id]).ExitCode);
            Assert.Contains("not running", b.Cli(["pause", b.Id]).Stderr, StringComparison.Ordinal);
            Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);
            SandboxHost.WaitUntil(() => Count() > 3, TimeSpan.FromSeconds(10), "the counter to count");
            Assert.Contains("not paused", b.Cli(["resume", b.Id]).Stderr, StringComparison.Ordinal);

            var paused = b.Cli(["pause", b.Id]);
            Assert.True(paused.ExitCode == 0, paused.ToString());
            Assert.Equal("paused", State());
            var stopped = Count();
            Thread.Sleep(400);
            Assert.Equal(stopped, Count());

            var resumed = b.Cli(["resume", b.Id]);
            Assert.True(resumed.ExitCode == 0, resumed.ToString());
            Assert.Equal("running", State());
            SandboxHost.WaitUntil(() => Count() > stopped + 3, TimeSpan.FromSeconds(10), "the counter to go on");

            // A paused container is killed and deleted as any other: its processes and cgroups go.
            var pids = Ps(b);
            Assert.Equal(0, b.Cli(["pause", b.Id]).ExitCode);
            Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
            SandboxHost.WaitUntil(() => pids.All(p => !File.Exists($"/proc/{p}/cmdline") || File.ReadAllText($"/proc/{p}/cmdline").Length == 0),
                TimeSpan.FromSeconds(10), "the paused container's processes to end");
            Assert.Empty(SandboxHost.CgroupsOf(b.Id));
        }
        finally
        {
            Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        }
    }

    /// <summary>`update --resources FILE` writes new limits to a created container's cgroup, any controller's (create
    /// joins them all), and refuses a bad file with the place of the problem.</summary>
    [PrivilegedFact]
    public void Update_writes_new_limits_to_the_containers_cgroup()
    {
        using var b = new TestBundle();
        b.Config = b.Config with { Linux = b.Config.Linux! with { Resources = new Sandbox.Oci.OciResources { Memory = new Sandbox.Oci.OciMemory { Limit = 64 << 20 } } } };
        b.Sh("sleep 1000");
        var file = Path.Combine(b.Dir, "limits.json");
        try
        {
            Assert.Equal(0, b.Cli(["create", "--bundle", b.Dir, b.Id]).ExitCode);
            string Dir(string hierarchy) => Assert.Single(Directory.GetDirectories($"/sys/fs/cgroup/{hierarchy}", "sandbox-*-" + b.Id, SearchOption.AllDirectories));
            Assert.Equal((64L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(Dir("memory"), "memory.limit_in_bytes")).Trim());

            File.WriteAllText(file, """{"memory": {"limit": 33554432}, "cpu": {"quota": 50000, "period": 100000}, "pids": {"limit": 42}}""");
            var r = b.Cli(["update", "--resources", file, b.Id]);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("33554432", File.ReadAllText(Path.Combine(Dir("memory"), "memory.limit_in_bytes")).Trim());
            Assert.Equal("50000", File.ReadAllText(Path.Combine(Dir("cpu"), "cpu.cfs_quota_us")).Trim());
            Assert.Equal("42", File.ReadAllText(Path.Combine(Dir("pids"), "pids.max")).Trim());

            File.WriteAllText(file, "{\n  \"memory\": {\"limit\": \"lots\"}\n}");
            var bad = b.Cli(["update", "--resources", file, b.Id]);
            Assert.Equal(125, bad.ExitCode);
            Assert.Contains("limits.json:2:", bad.Stderr, StringComparison.Ordinal);
            File.WriteAllText(file, """{"cpu": {"shares": 1}}""");
            Assert.Contains("SBX", b.Cli(["update", "--resources", file, b.Id]).Stderr, StringComparison.Ordinal);
            Assert.Equal("33554432", File.ReadAllText(Path.Combine(Dir("memory"), "memory.limit_in_bytes")).Trim());
        }
        finally
        {
            Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        }
        Assert.Contains("does not exist", b.Cli(["update", "--resources", file, b.Id]).Stderr, StringComparison.Ordinal);
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

    /// <summary>
    /// With --log (podman's conmon passes it, and shows the runtime's stderr as the container's output), warnings go
    /// to the log only, errors to stderr and the log, in the --log-format asked for.
    /// </summary>
    [PrivilegedFact]
    public void Log_takes_the_warnings_off_stderr_and_records_errors_too_as_json_or_text()
    {
        using var b = new TestBundle();
        // Ambient capabilities that are not inheritable: create warns about them.
        string[] caps = ["CAP_KILL"];
        b.Config = b.Config with { Process = b.Process with { Capabilities = new Sandbox.Oci.OciCapabilities { Bounding = [.. caps], Effective = [.. caps], Permitted = [.. caps], Ambient = [.. caps] } } };
        b.Sh("true");
        var log = Path.Combine(b.Dir, "runtime.log");
        b.Write();
        try
        {
            var created = b.Cli(["--log", log, "--log-format", "json", "create", "--bundle", b.Dir, b.Id]);
            Assert.True(created.ExitCode == 0, created.ToString());
            Assert.Equal("", created.Stderr);
            var warning = JsonDocument.Parse(File.ReadAllLines(log).Single()).RootElement;
            Assert.Equal("warning", warning.GetProperty("level").GetString());
            Assert.StartsWith("$.process.capabilities.ambient: CAP_KILL not both permitted and inheritable", warning.GetProperty("msg").GetString(), StringComparison.Ordinal);
            Assert.True(DateTime.TryParse(warning.GetProperty("time").GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out _));

            // Without --log the warning is on stderr, as before.
            var again = b.Cli(["create", "--bundle", b.Dir, b.Id + "b"]);
            Assert.Contains("sandbox: warning: $.process.capabilities.ambient", again.Stderr, StringComparison.Ordinal);
            Assert.Equal(0, b.Cli(["delete", "--force", b.Id + "b"]).ExitCode);

            var text = Path.Combine(b.Dir, "text.log");
            var missing = b.Cli(["--log", text, "--log-format", "text", "state", "no-such-container"]);
            Assert.NotEqual(0, missing.ExitCode);
            Assert.Contains("SBX", missing.Stderr, StringComparison.Ordinal);
            Assert.Matches(@"^time=""[0-9T:.-]+Z"" level=error msg=""SBX[0-9]{4}: container \\""no-such-container\\"" does not exist", File.ReadAllText(text));

            Assert.Contains("--log-format text or --log-format json", b.Cli(["--log-format", "yaml", "state", b.Id]).Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
        }
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}
