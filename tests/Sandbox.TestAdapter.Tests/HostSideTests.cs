using System.Text.Json.Nodes;
using Sandbox.TestAdapter;

namespace Sandbox.TestAdapter.Tests;

/// <summary>What the adapter makes of runsettings, RunReports and the bundle's config.json, without running anything.</summary>
public class HostSideTests
{
    private const string Report = """
        {
          "schemaVersion": 1, "id": "x", "exitCode": 139, "signal": 11, "signalName": "SIGSEGV", "wallTimeMs": 630.5,
          "timedOut": false, "timeoutMs": null, "oomKilled": false,
          "usage": { "peakMemoryBytes": 17196646, "peakMemorySource": "cgroup v1 memory.max_usage_in_bytes",
                     "cpuUserMs": 370, "cpuSystemMs": 210, "cpuSource": "cgroup v1 cpuacct" },
          "rusage": { "source": "wait4 rusage", "maxRssBytes": 66584576, "userMs": 360, "systemMs": 200 },
          "seccomp": { "filtered": true, "denied": [ { "syscall": "ptrace", "errno": 1, "errnoName": "EPERM", "count": 2 } ],
                       "blockedAddresses": [ { "syscall": "connect", "family": "AF_INET", "address": "10.1.2.3:80", "count": 1 } ] }
        }
        """;

    [Fact]
    public void Peak_memory_is_the_larger_figure_and_names_its_source_keeping_the_other()
    {
        var text = UsageSummary.Parse(Report).Describe();
        Assert.StartsWith("Sandbox: peak memory 63.5 MiB (largest process's max RSS, wait4; cgroup peak 16.4 MiB)", text, StringComparison.Ordinal);
        Assert.Contains("CPU 0.37 s user / 0.21 s system (cgroup v1 cpuacct)", text, StringComparison.Ordinal);
        Assert.Contains("wall 0.63 s", text, StringComparison.Ordinal);
        Assert.Contains("OOM-killed no", text, StringComparison.Ordinal);
        Assert.Contains("timed out no", text, StringComparison.Ordinal);
        Assert.Contains("denied syscalls: ptrace (EPERM) ×2", text, StringComparison.Ordinal);
        Assert.Contains("blocked addresses: 10.1.2.3:80 (connect) ×1", text, StringComparison.Ordinal);

        // Several processes together outgrow the largest one: then the cgroup's figure answers the question.
        var many = UsageSummary.Parse(Report.Replace("17196646", "200000000", StringComparison.Ordinal)).Describe();
        Assert.StartsWith("Sandbox: peak memory 190.7 MiB (cgroup peak of all processes, cgroup v1 memory.max_usage_in_bytes; largest process's max RSS 63.5 MiB)", many, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"oomKilled\": false", "\"oomKilled\": true", "killed by the OOM killer (the sandbox's memory limit)")]
    [InlineData("\"timedOut\": false, \"timeoutMs\": null", "\"timedOut\": true, \"timeoutMs\": 5000", "timed out after 5.00 s")]
    [InlineData("\"oomKilled\": false", "\"oomKilled\": false", "killed by SIGSEGV")]
    public void The_cause_of_an_ending_is_named(string from, string to, string cause) =>
        Assert.Equal(cause, UsageSummary.Parse(Report.Replace(from, to, StringComparison.Ordinal)).Cause);

    [Fact]
    public void Without_cgroup_figures_the_wait4_ones_are_used_and_a_clean_exit_has_no_cause()
    {
        var s = UsageSummary.Parse("""{"exitCode":0,"wallTimeMs":10,"usage":{"peakMemoryBytes":null,"cpuUserMs":null},"rusage":{"source":"wait4 rusage","maxRssBytes":1048576,"userMs":5,"systemMs":1},"seccomp":null}""");
        Assert.Null(s.Cause);
        Assert.Contains("peak memory 1.0 MiB (largest process's max RSS, wait4; cgroup peak n/a)", s.Describe(), StringComparison.Ordinal);
        Assert.Contains("(wait4 rusage)", s.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_config_starts_the_agent_on_an_absolute_root_with_a_copy_on_write_output_directory()
    {
        var dir = Directory.CreateTempSubdirectory("sandbox-adapter-unit-").FullName;
        try
        {
            var bundle = Directory.CreateDirectory(Path.Combine(dir, "bundle")).FullName;
            var output = Directory.CreateDirectory(Path.Combine(dir, "out")).FullName;
            File.WriteAllText(Path.Combine(bundle, "config.json"), $$"""
                {"ociVersion":"1.2.0","root":{"path":"rootfs","readonly":true},
                 "process":{"args":["dotnet","--info"],"cwd":"/","user":{"uid":1000,"gid":1000},"env":["PATH=/usr/bin"]},
                 "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                           {"destination":"{{output}}/","type":"bind","source":"{{output}}/","options":["rbind","ro"]}]}
                """);
            var run = Directory.CreateDirectory(Path.Combine(dir, "run")).FullName;
            var config = AgentProcess.RunConfig(Path.Combine(output, "proj.dll"), new SandboxManifest(bundle, "/x/sandbox", output + "/"), run);

            Assert.Equal(Path.Combine(bundle, "rootfs"), (string?)config["root"]!["path"]);
            Assert.Equal(
                ["dotnet", "exec", "--runtimeconfig", $"{output}/proj.runtimeconfig.json", "--depsfile", $"{output}/proj.deps.json", $"{output}/Sandbox.TestAgent.dll"],
                config["process"]!["args"]!.AsArray().Select(a => (string)a!));
            Assert.Equal(output, (string?)config["process"]!["cwd"]);
            Assert.Equal(["PATH=/usr/bin"], config["process"]!["env"]!.AsArray().Select(a => (string)a!));
            var mounts = config["mounts"]!.AsArray().Select(m => m!.AsObject()).ToList();
            Assert.Equal(2, mounts.Count);
            var overlay = mounts.Single(m => (string?)m["type"] == "overlay");
            Assert.Equal(output, (string?)overlay["destination"]);
            var options = overlay["options"]!.AsArray().Select(o => (string)o!).ToList();
            Assert.Equal([$"lowerdir={output}", $"upperdir={run}/upper", $"workdir={run}/work"], options.Take(3));
            if (Environment.UserName == "root")
            {
                // The overlay's root is the upper directory's: the sandbox's user owns it, so it can write there.
                Assert.Equal(1000, new UnixFileInfoOwner(Path.Combine(run, "upper")).Uid);
                // What root built appears as the sandbox user's through the id-mapped lower layer.
                Assert.Equal("idmap", Assert.Single(options.Skip(3)));
                foreach (var key in new[] { "uidMappings", "gidMappings" })
                {
                    var map = Assert.Single(overlay[key]!.AsArray())!;
                    Assert.Equal((0u, 1000u, 1u), ((uint)map["containerID"]!, (uint)map["hostID"]!, (uint)map["size"]!));
                }
            }
            else
            {
                Assert.Equal(3, options.Count);
                Assert.Null(overlay["uidMappings"]);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_missing_manifest_is_SBX5020_naming_the_file_and_the_ways_out()
    {
        var e = Assert.Throws<AdapterException>(() => SandboxManifest.Read("/nonexistent/dir/proj.dll"));
        Assert.Equal("SBX5020", e.Code);
        Assert.Contains("/nonexistent/dir/proj.sandbox.json", e.Message, StringComparison.Ordinal);
        Assert.Contains("SANDBOX_DISABLE=1", e.Message, StringComparison.Ordinal);
    }

    /// <summary>stat(2)'s owner of a path, through `stat -c %u` (the BCL has no uid API).</summary>
    private sealed record UnixFileInfoOwner(string Path)
    {
        public int Uid
        {
            get
            {
                var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%u", Path]) { RedirectStandardOutput = true };
                using var p = System.Diagnostics.Process.Start(psi)!;
                var text = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return int.Parse(text.Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }
}

public class LeftoverTests
{
    [Fact]
    public void Run_directories_of_dead_testhosts_are_collected_and_live_ones_kept()
    {
        var temp = Directory.CreateTempSubdirectory("sandbox-adapter-leftovers-").FullName;
        try
        {
            string Run(string name, string? owner)
            {
                var dir = Directory.CreateDirectory(Path.Combine(temp, "sandbox-test-" + name)).FullName;
                Directory.CreateDirectory(Path.Combine(dir, "upper/sub"));
                if (owner is not null)
                {
                    File.WriteAllText(Path.Combine(dir, "owner.pid"), owner);
                }
                return dir;
            }
            // pid_max is at most 2^22: this pid is never alive.
            var dead = Run("dead", "9999999");
            var live = Run("live", "1");
            var mine = Run("mine", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var unowned = Run("unowned", null);
            var other = Directory.CreateDirectory(Path.Combine(temp, "something-else")).FullName;
            SandboxRun.CollectLeftovers(temp);
            Assert.False(Directory.Exists(dead));
            Assert.True(Directory.Exists(live));
            Assert.True(Directory.Exists(mine));
            Assert.True(Directory.Exists(unowned));
            Assert.True(Directory.Exists(other));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }
}
