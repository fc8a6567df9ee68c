using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// Compiled filters kept in the state root's .seccomp-cache: a second run of a profile loads its filter, and the
/// container gets the program of its own profile whatever the cache holds.
/// </summary>
public class SeccompCacheTests
{
    private const string CacheName = ".seccomp-cache";

    /// <summary>Mount, umount2 and unshare fail with EPERM; everything else is allowed.</summary>
    private static readonly OciSeccomp DeniesMount = new()
    {
        DefaultAction = "SCMP_ACT_ALLOW",
        Syscalls = [new OciSyscallRule { Names = ["mount", "umount2", "unshare"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 1 }],
    };

    private const string TriesMount = "mount -t tmpfs none /tmp 2>&1; unshare -n true 2>&1; echo end";

    private static string Cache(TestBundle b) => Path.Combine(b.StateRoot, CacheName);

    private static string[] Entries(TestBundle b) => Directory.Exists(Cache(b)) ? [.. Directory.GetFiles(Cache(b)).Order(StringComparer.Ordinal)] : [];

    /// <summary>Runs with a report: the program's output, and the calls the report says were denied (comma-separated).</summary>
    private static (string Stdout, string Denied) Run(TestBundle b, OciSeccomp? profile, params string[] extra)
    {
        if (profile is not null)
        {
            b.Config = b.Config with { Linux = b.Config.Linux! with { Seccomp = profile } };
        }
        var report = Path.Combine(b.Dir, "report.json");
        File.Delete(report);
        var r = b.Run([.. extra, "--report", report]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var seccomp = JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("seccomp");
        Assert.True(seccomp.GetProperty("violationsRecorded").GetBoolean(), seccomp.ToString());
        return (r.Stdout, string.Join(",", seccomp.GetProperty("denied").EnumerateArray().Select(d => d.GetProperty("syscall").GetString()!).Order(StringComparer.Ordinal)));
    }

    private static (string Inode, DateTime Written) Identity(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        var inode = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        Assert.Equal(0, stat.ExitCode);
        return (inode, File.GetLastWriteTimeUtc(path));
    }

    [PrivilegedTheory]
    [InlineData("config")]
    [InlineData("--seccomp default")]
    public void A_second_run_loads_the_filter_the_first_compiled_and_the_container_sees_the_same_denials(string from)
    {
        using var b = new TestBundle();
        b.Sh(TriesMount);
        string[] extra = from == "config" ? [] : ["--seccomp", "default"];
        var first = Run(b, from == "config" ? DeniesMount : null, extra);
        Assert.Contains("mount: permission denied", first.Stdout, StringComparison.Ordinal);
        Assert.Equal("mount,unshare", first.Denied);
        var entry = Assert.Single(Entries(b));
        var before = Identity(entry);

        var second = Run(b, null, extra);
        Assert.Equal(first, second);
        // Loaded, not compiled and written again: a new entry would be a new file renamed over it.
        Assert.Equal(entry, Assert.Single(Entries(b)));
        Assert.Equal(before, Identity(entry));
    }

    /// <summary>
    /// A stranger's profile that allows everything: its entry, copied under the name of the victim's entry, is not
    /// loaded for the victim's run, whose container still gets EPERM from mount.
    /// </summary>
    [PrivilegedFact]
    public void A_forged_entry_under_the_victims_name_does_not_reach_the_container()
    {
        using var b = new TestBundle();
        b.Sh(TriesMount);
        Run(b, DeniesMount);
        var victim = Assert.Single(Entries(b));
        // Padded so that its entry is longer than the victim's key: only the comparison of the keys refuses it.
        var stranger = Run(b, new OciSeccomp { DefaultAction = "SCMP_ACT_ALLOW", ListenerMetadata = new string('x', 4096) });
        Assert.Equal("", stranger.Denied); // the stranger's filter lets mount through (to the kernel, which refuses it: no CAP_SYS_ADMIN)
        var attacker = Assert.Single(Entries(b), e => e != victim);
        File.Copy(attacker, victim, overwrite: true);
        File.SetUnixFileMode(victim, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var run = Run(b, DeniesMount);
        Assert.Contains("mount: permission denied", run.Stdout, StringComparison.Ordinal);
        Assert.Equal("mount,unshare", run.Denied);
        Assert.NotEqual(File.ReadAllBytes(attacker), File.ReadAllBytes(victim)); // replaced by the real entry
    }

    [PrivilegedFact]
    public void A_profile_that_differs_in_one_byte_gets_its_own_filter()
    {
        using var b = new TestBundle();
        b.Sh("mkdir /tmp/d 2>&1; echo end");
        OciSeccomp Denies(uint errno) => new()
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Syscalls = [new OciSyscallRule { Names = ["mkdir", "mkdirat"], Action = "SCMP_ACT_ERRNO", ErrnoRet = errno }],
        };
        Assert.Contains("Operation not permitted", Run(b, Denies(1)).Stdout, StringComparison.Ordinal);
        Assert.Contains("No such process", Run(b, Denies(3)).Stdout, StringComparison.Ordinal); // ESRCH: errnoRet 1 became 3
        Assert.Equal(2, Entries(b).Length);
        Assert.Contains("Operation not permitted", Run(b, Denies(1)).Stdout, StringComparison.Ordinal);
    }

    [PrivilegedTheory]
    [InlineData("truncated")]
    [InlineData("garbage")]
    [InlineData("group-writable")]
    public void A_damaged_or_exposed_entry_is_ignored_and_the_run_works(string damage)
    {
        using var b = new TestBundle();
        b.Sh(TriesMount);
        var first = Run(b, DeniesMount);
        var entry = Assert.Single(Entries(b));
        var bytes = File.ReadAllBytes(entry);
        switch (damage)
        {
            case "truncated":
                File.WriteAllBytes(entry, bytes[..(bytes.Length / 2)]);
                break;
            case "garbage":
                Array.Fill(bytes, (byte)0xff, bytes.Length - 64, 64);
                File.WriteAllBytes(entry, bytes);
                break;
            default:
                File.SetUnixFileMode(entry, (UnixFileMode)0x1b0); // 0660
                break;
        }
        var before = Identity(entry);
        Assert.Equal(first, Run(b, null));
        // Compiled and written anew: another file, private again, that the next run loads.
        var after = Identity(entry);
        Assert.NotEqual(before.Inode, after.Inode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(entry));
        Assert.Equal(first, Run(b, null));
        Assert.Equal(after, Identity(entry));
    }

    [PrivilegedFact]
    public void The_cache_outlives_stale_state_collection_and_is_no_container()
    {
        using var b = new TestBundle();
        b.Sh("true");
        Run(b, DeniesMount);
        var entry = Assert.Single(Entries(b));
        Directory.CreateDirectory(Path.Combine(b.StateRoot, "leftover")); // no state.json: collected by the next run
        var before = Identity(entry);
        Run(b, null);
        Assert.False(Directory.Exists(Path.Combine(b.StateRoot, "leftover")));
        Assert.Equal(before, Identity(entry));
        Assert.Empty(b.StateEntries);
        foreach (var command in new[] { "state", "delete" })
        {
            var r = b.Cli([command, CacheName]);
            Assert.Contains("SBX", r.Stderr, StringComparison.Ordinal);
            Assert.Contains("is not valid", r.Stderr, StringComparison.Ordinal);
        }
        Assert.Equal(before, Identity(entry));
    }
}
