using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using Xunit.Abstractions;

namespace Sandbox.Build.Tasks.Tests;

/// <summary>
/// One boot of an emulated arm64 machine (eng/arm64-vm.sh: qemu-system-aarch64, TCG) whose init runs the package's
/// tools/linux-arm64/sandbox (with its sandbox-build): doctor, containers as root and as an ordinary user. What it printed is kept here for
/// the tests of <see cref="Arm64MachineTests"/>, one a check.
/// </summary>
public sealed class Arm64Machine : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-arm64-vm-").FullName;

    public Arm64Machine()
    {
        try
        {
            var exe = Path.Combine(_dir, "sandbox");
            var package = Assert.Single(Directory.GetFiles(Path.Combine(PackageFixture.RepoRoot, "artifacts/packages"), "Sandbox.Build.*.nupkg"));
            using (var zip = ZipFile.OpenRead(package))
            {
                // sandbox-build too: `sandbox spec` runs it from beside sandbox.
                foreach (var name in new[] { "sandbox", "sandbox-build" })
                {
                    var entry = zip.GetEntry($"tools/linux-arm64/{name}");
                    Assert.True(entry is not null, $"{package} has no tools/linux-arm64/{name}");
                    entry!.ExtractToFile(Path.Combine(_dir, name));
                }
            }
            var psi = new ProcessStartInfo("bash") { ArgumentList = { Path.Combine(PackageFixture.RepoRoot, "eng/arm64-vm.sh"), exe, Path.Combine(_dir, "vm") } };
            // The script bounds the machine at 300 s and kills qemu then; this bound is for a first, uncached fetch.
            var sw = Stopwatch.StartNew();
            Result = PackageFixture.Run(psi, TimeSpan.FromMinutes(8));
            Elapsed = sw.Elapsed;
            Assert.True(Result.ExitCode == 0, Result.ToString());
            Lines = Result.Output.Split('\n');
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public CommandResult Result { get; }
    public TimeSpan Elapsed { get; }
    public string[] Lines { get; }

    /// <summary>What the check <paramref name="name"/>'s container printed (its `NAME| ` lines).</summary>
    public List<string> Output(string name) =>
        Lines.Where(l => l.StartsWith(name + "| ", StringComparison.Ordinal)).Select(l => l[(name.Length + 2)..]).ToList();

    /// <summary>The exit code `sandbox` gave for the check <paramref name="name"/>.</summary>
    public int Exit(string name) => int.Parse(Single(name + " exit="), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The RunReport `sandbox run --report` wrote for the check <paramref name="name"/>.</summary>
    public JsonElement Report(string name) => JsonDocument.Parse(Single(name + " report=")).RootElement;

    private string Single(string prefix)
    {
        var matches = Lines.Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.True(matches.Count == 1, $"expected one line starting with \"{prefix}\" in:\n{Result.Output}");
        return matches[0][prefix.Length..];
    }

    public void Dispose() => Directory.Delete(_dir, true);
}

/// <summary>
/// The arm64 runtime runs containers for real: qemu-user (PackageLayoutTests) cannot clone namespaces, an emulated
/// arm64 machine can. Its kernel has cgroup v2 only, so the v2 driver's limits are checked here too.
/// </summary>
public sealed class Arm64MachineTests(Arm64Machine machine, ITestOutputHelper log) : IClassFixture<Arm64Machine>
{
    private string Context => machine.Result.Output;

    [Fact]
    public void Doctor_finds_what_containers_need_on_the_arm64_kernel()
    {
        log.WriteLine($"eng/arm64-vm.sh took {machine.Elapsed.TotalSeconds:F1} s");
        Assert.Contains(machine.Lines, l => l.StartsWith("machine: Linux ", StringComparison.Ordinal) && l.EndsWith(" aarch64", StringComparison.Ordinal));
        var doctor = machine.Output("doctor");
        foreach (var (check, says) in new[]
        {
            ("user namespaces:", "ok"), ("overlay:", "ok  mounted"), ("pivot_root:", "ok  works"), ("cgroups:", "ok  v2"),
            ("seccomp:", "ok  filters"), ("landlock:", "ok"),
        })
        {
            Assert.True(doctor.Any(l => l.StartsWith(check, StringComparison.Ordinal) && l[check.Length..].TrimStart().StartsWith(says, StringComparison.Ordinal)),
                $"doctor does not say \"{check} {says}\":\n{Context}");
        }
        Assert.Contains(doctor, l => l.Contains("user notification available", StringComparison.Ordinal));
        Assert.Contains(doctor, l => l.TrimStart().StartsWith("controllers:", StringComparison.Ordinal) && l.Contains(" memory ", StringComparison.Ordinal) && l.Contains(" pids", StringComparison.Ordinal));
    }

    [Fact]
    public void A_root_container_gets_its_own_hostname_pid_1_the_read_only_rootfs_and_passes_its_exit_code_through()
    {
        Assert.True(machine.Exit("basic") == 7, Context);
        Assert.Equal(["uid=0", "hostname=arm64-box", "pid=1", "ls= bin dev etc proc root sbin sys tmp usr", "write=refused"], machine.Output("basic"));
        var report = machine.Report("basic");
        Assert.Equal(7, report.GetProperty("exitCode").GetInt32());
        Assert.True(report.GetProperty("seccomp").GetProperty("filtered").GetBoolean(), Context);
    }

    [Fact]
    public void The_default_seccomp_profile_refuses_mount_and_unshare_and_the_report_names_them()
    {
        Assert.True(machine.Exit("seccomp") == 0, Context);
        var output = machine.Output("seccomp");
        Assert.True(output.Count == 3, Context);
        Assert.StartsWith("mount: permission denied", output[0], StringComparison.Ordinal); // busybox's words for EPERM
        Assert.StartsWith("unshare: unshare(", output[1], StringComparison.Ordinal);
        Assert.Contains("Operation not permitted", output[1], StringComparison.Ordinal);
        Assert.Equal("end", output[2]);
        var seccomp = machine.Report("seccomp").GetProperty("seccomp");
        Assert.True(seccomp.GetProperty("violationsRecorded").GetBoolean(), seccomp.ToString());
        var denied = seccomp.GetProperty("denied").EnumerateArray()
            .Select(d => $"{d.GetProperty("syscall").GetString()} {d.GetProperty("errnoName").GetString()} {d.GetProperty("count").GetInt64()}")
            .Order(StringComparer.Ordinal);
        Assert.Equal(["mount EPERM 1", "unshare EPERM 1"], denied);
    }

    [Fact]
    public void A_memory_limit_oom_kills_an_allocation_beyond_it_and_the_report_says_so()
    {
        Assert.True(machine.Exit("memory") == 137, Context);
        Assert.DoesNotContain(machine.Output("memory"), l => l.StartsWith("survived", StringComparison.Ordinal));
        var report = machine.Report("memory");
        Assert.True(report.GetProperty("oomKilled").GetBoolean(), report.ToString());
        var usage = report.GetProperty("usage");
        Assert.InRange(usage.GetProperty("peakMemoryBytes").GetInt64(), 6L << 20, 8L << 20); // the limit is 8 MiB
        Assert.StartsWith("cgroup v2", usage.GetProperty("peakMemorySource").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_pids_limit_of_10_makes_the_10th_fork_fail()
    {
        var output = machine.Output("pids");
        // The shell is one task and each background sleep one more: sleeps 1 to 9 start, the 10th fork fails.
        var started = output.Where(l => l.StartsWith("started", StringComparison.Ordinal));
        Assert.True(started.SequenceEqual(Enumerable.Range(1, 9).Select(i => $"started {i}")), Context);
        Assert.Contains(output, l => l.Contains("can't fork", StringComparison.Ordinal));
        Assert.NotEqual(0, machine.Exit("pids"));
        Assert.True(machine.Report("pids").GetProperty("usage").GetProperty("pidsPeak").GetInt64() >= 9, Context);
    }

    [Fact]
    public void An_ordinary_user_runs_a_rootless_container_as_root_of_its_user_namespace()
    {
        Assert.True(machine.Exit("rootless") == 0, Context);
        var output = machine.Output("rootless");
        Assert.True(output.Count == 4, Context);
        Assert.Equal("uid=0", output[0]);
        Assert.Equal(["uid_map=", "0", "1000", "1"], output[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("pid=1", output[2]);
        Assert.Equal("ls= bin dev etc proc root sbin sys tmp usr", output[3]);
    }
}
