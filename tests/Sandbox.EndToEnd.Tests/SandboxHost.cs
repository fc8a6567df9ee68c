using System.Diagnostics;
using System.Text;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

public sealed record RunResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>The published `sandbox` executable and the busybox rootfs the repository's scripts make.</summary>
public static class SandboxHost
{
    public static bool IsRoot { get; } = Environment.UserName == "root";

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Exe { get; } = Environment.GetEnvironmentVariable("SANDBOX_EXE") is { Length: > 0 } e
        ? e : Path.Combine(RepoRoot, "artifacts/dist/sandbox");

    /// <summary>
    /// A private copy of the busybox rootfs for this test run: mount destinations get created in a rootfs (as
    /// runc and crun do), and the tests must not leave theirs in the one the README's example uses.
    /// </summary>
    public static string Rootfs => LazyRootfs.Value;

    private static readonly Lazy<string> LazyRootfs = new(CopyRootfs);

    private static string CopyRootfs()
    {
        var source = Path.Combine(RepoRoot, "artifacts/rootfs/busybox");
        Assert.True(File.Exists(Path.Combine(source, "bin/busybox")), $"{source} is missing: run eng/build.sh first");
        var dir = ProcessScratch.Create("sandbox-e2e-rootfs-");
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ed);
        using (var cp = Process.Start("cp", ["-a", source, Path.Combine(dir, "busybox")])!)
        {
            cp.WaitForExit();
            Assert.Equal(0, cp.ExitCode);
        }
        return Path.Combine(dir, "busybox");
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sandbox.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("no Sandbox.sln above " + AppContext.BaseDirectory);
    }

    public static void EnsureBuilt()
    {
        Assert.True(File.Exists(Exe), $"{Exe} is missing: run eng/build.sh (or eng/test.sh) first");
        Assert.True(File.Exists(Path.Combine(Rootfs, "bin/busybox")), $"{Rootfs} is missing: run eng/build.sh first");
    }

    /// <summary>
    /// Runs `sandbox ARGS`, with a timeout so a hang fails the test instead of stalling it. Output goes to files,
    /// not pipes: a created container keeps its stdio open after `sandbox create` exits, as it should.
    /// </summary>
    /// <param name="prefix">A program that starts sandbox (with sandbox's path and arguments as its own).</param>
    public static RunResult Run(IEnumerable<string> args, TimeSpan? timeout = null, string? asUser = null, IReadOnlyDictionary<string, string>? env = null,
        IEnumerable<string>? prefix = null)
    {
        EnsureBuilt();
        IEnumerable<string> user = asUser is null ? [] : ["setpriv", $"--reuid={asUser}", $"--regid={asUser}", "--clear-groups", "--"];
        return Command([.. user, .. prefix ?? [], Exe, .. args], timeout, env);
    }

    /// <summary>
    /// Runs a command line (program first) as <see cref="Run"/> runs sandbox: stdin from /dev/null, output to files (a
    /// program that leaves a container running, such as `podman run -d`, may hand its stdio on), failing the test if
    /// it does not finish in time.
    /// </summary>
    public static RunResult Command(IReadOnlyList<string> command, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? env = null)
    {
        var io = Directory.CreateTempSubdirectory("sandbox-io-").FullName;
        try
        {
            var outFile = Path.Combine(io, "out");
            var errFile = Path.Combine(io, "err");
            var psi = new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", "o=$0; e=$1; shift; exec \"$@\" </dev/null >\"$o\" 2>\"$e\"", outFile, errFile } };
            foreach (var a in command)
            {
                psi.ArgumentList.Add(a);
            }
            psi.Environment["SANDBOX_TEST_SECRET"] = "must-not-leak";
            // Per process, never through this process's environment: test classes run in parallel.
            foreach (var (k, v) in env ?? new Dictionary<string, string>())
            {
                psi.Environment[k] = v;
            }
            using var p = Process.Start(psi)!;
            if (!p.WaitForExit(timeout ?? TimeSpan.FromSeconds(30)))
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail($"{string.Join(' ', command)} did not finish in time");
            }
            return new RunResult(p.ExitCode, File.ReadAllText(outFile), File.ReadAllText(errFile));
        }
        finally
        {
            Directory.Delete(io, true);
        }
    }

    /// <summary>Processes whose command line mentions <paramref name="marker"/> (to find leftovers).</summary>
    public static List<int> ProcessesMentioning(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                var cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var state = stat[(stat.LastIndexOf(')') + 2)..][0];
                if (cmd.Contains(marker, StringComparison.Ordinal) && state != 'Z')
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    /// <summary>The cgroup directory sandbox made for container <paramref name="id"/> in a hierarchy, if there is one.</summary>
    public static string? CgroupOf(string hierarchy, string id) =>
        Directory.GetDirectories(Path.Combine("/sys/fs/cgroup", hierarchy), $"sandbox-*-{id}").SingleOrDefault();

    public static bool ProcessExists(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The cgroup directories sandbox made for container <paramref name="id"/> (sandbox-HASH-ID), in any hierarchy.</summary>
    public static List<string> CgroupsOf(string id)
    {
        var found = new List<string>();
        foreach (var hierarchy in Directory.EnumerateDirectories("/sys/fs/cgroup"))
        {
            try
            {
                found.AddRange(Directory.EnumerateDirectories(hierarchy, "sandbox-*-" + id, new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 3 }));
            }
            catch (DirectoryNotFoundException)
            {
                // another test's cgroup went while this looked
            }
        }
        return found;
    }

    public static void WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < timeout, $"timed out waiting: {what}");
            Thread.Sleep(10);
        }
    }
}

/// <summary>A bundle in a temporary directory over the shared busybox rootfs, with its own state root.</summary>
public sealed class TestBundle : IDisposable
{
    private static int _counter;

    public TestBundle(bool rootless = false, uint uid = 0)
    {
        SandboxHost.EnsureBuilt();
        Dir = Directory.CreateTempSubdirectory("sandbox-e2e-").FullName;
        File.SetUnixFileMode(Dir, (UnixFileMode)0x1ed);
        StateRoot = Path.Combine(Dir, "state");
        Id = $"t{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";
        var c = DefaultConfig.Create(rootless, uid, uid);
        Config = c with { Root = new OciRoot { Path = SandboxHost.Rootfs, Readonly = true } };
    }

    public string Dir { get; }
    public string StateRoot { get; }
    public string Id { get; set; }
    public OciConfig Config { get; set; }

    public OciProcess Process => Config.Process!;

    public TestBundle WithArgs(params string[] args)
    {
        Config = Config with { Process = Process with { Args = [.. args] } };
        return this;
    }

    public TestBundle Sh(string script) => WithArgs("sh", "-c", script);

    public void Write() => File.WriteAllText(Path.Combine(Dir, "config.json"), OciConfigLoader.Serialize(Config));

    public string[] Global => ["--root", StateRoot];

    public RunResult Run(params string[] extra) => Cli(["run", .. extra, "--bundle", Dir, Id]);

    public RunResult Cli(string[] args, TimeSpan? timeout = null, string? asUser = null, IReadOnlyDictionary<string, string>? env = null)
    {
        if (args.Length > 0 && args[0] is "run" or "create")
        {
            Write();
        }
        return SandboxHost.Run([.. Global, .. args], timeout, asUser, env);
    }

    /// <summary>A state root an ordinary user may write, for runs made with setpriv.</summary>
    public string SharedStateRoot()
    {
        var state = Path.Combine(Dir, "rootless-state");
        Directory.CreateDirectory(state);
        File.SetUnixFileMode(state, (UnixFileMode)0x1ff);
        return state;
    }

    /// <summary>What the state root holds besides the compiled-filter cache, which runs keep there on purpose.</summary>
    public IEnumerable<string> StateEntries => Directory.Exists(StateRoot)
        ? Directory.EnumerateFileSystemEntries(StateRoot).Where(e => Path.GetFileName(e) != ".seccomp-cache") : [];

    public void Dispose()
    {
        SandboxHost.Run([.. Global, "delete", "--force", Id]);
        Directory.Delete(Dir, true);
    }
}
