using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAdapter;

/// <summary>
/// One agent: `sandbox run` on a per-run copy of the project's bundle, or, unsandboxed, `dotnet exec` of the agent in
/// the output directory. Started with System.Diagnostics.Process: testhost is JIT-compiled and must never fork or
/// clone itself (docs/design.md); `sandbox` is the one process that does. Disposing kills what is left and removes
/// the per-run directory.
/// </summary>
internal sealed class AgentProcess : IDisposable
{
    /// <summary>How much of the agent's stderr (where test output that bypasses the framework goes) is kept for crash reports.</summary>
    private const int StderrTailChars = 16 * 1024;

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private string? _endLines;
    private readonly Thread _stderrReader;
    private readonly string? _runDirectory;
    private readonly string? _sandbox;
    private int _killed;
    private volatile bool _forced;

    private AgentProcess(Process process, string? runDirectory, string? reportPath, string? sandboxId, string? sandbox)
    {
        _process = process;
        _sandbox = sandbox;
        _runDirectory = runDirectory;
        ReportPath = reportPath;
        SandboxId = sandboxId;
        Channel = new LineChannel(process.StandardOutput.BaseStream, process.StandardInput.BaseStream);
        Live.TryAdd(this, 0);
        _stderrReader = new Thread(ReadStderr) { IsBackground = true, Name = "sandbox agent stderr" };
        _stderrReader.Start();
    }

    /// <summary>Every agent not yet disposed, in this testhost.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<AgentProcess, byte> Live = new();

    /// <summary>Waits until every agent of this testhost has been disposed (its sandbox gone, its run directory removed), at most <paramref name="limit"/>.</summary>
    public static bool WaitForAllDisposed(TimeSpan limit)
    {
        var until = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (!Live.IsEmpty && Environment.TickCount64 < until)
        {
            Thread.Sleep(20);
        }
        return Live.IsEmpty;
    }

    public LineChannel Channel { get; }
    public string? ReportPath { get; }
    public string? SandboxId { get; }

    /// <summary>The last lines the agent's process wrote to stderr (an Environment.FailFast message lands here),
    /// after the last lines that said why a .NET process ended if the tail has moved past them: a child of the agent
    /// (xunit v3's test process) may die long before the agent does, and its stack trace alone can fill the tail.</summary>
    public string StderrTail
    {
        get
        {
            _stderrReader.Join(TimeSpan.FromSeconds(5));
            lock (_stderr)
            {
                var tail = _stderr.ToString();
                return _endLines is null || tail.Contains(_endLines, StringComparison.Ordinal) ? tail : _endLines + "\n[…]\n" + tail;
            }
        }
    }

    /// <summary>How .NET begins what it writes as a process ends abnormally; the FailFast message follows "Process terminated.".</summary>
    private static readonly string[] EndMarkers = ["Process terminated.", "Stack overflow.", "Unhandled exception.", "Out of memory."];

    /// <summary>The last marker line in <paramref name="text"/> and the line after it, or null.</summary>
    private static string? EndLines(string text)
    {
        var at = EndMarkers.Select(m => text.LastIndexOf(m, StringComparison.Ordinal)).Max();
        if (at < 0)
        {
            return null;
        }
        var lines = text[at..].Split('\n', 3);
        return string.Join('\n', lines.Take(2)).TrimEnd();
    }

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    private const string RunDirectoryPrefix = "sandbox-test-";
    private const string OwnerFile = "owner.pid";

    /// <summary>
    /// Removes the run directories (overlay upper and work directories, per-run bundles) of testhosts that died
    /// before they could: a directory whose owner process is gone. The sandboxes themselves die with their
    /// `sandbox run`, and their mounts with their mount namespace. Only this user's: in a shared /tmp anyone can
    /// make a "sandbox-test-" directory, and removing a tree someone else can change under the walk (a directory
    /// swapped for a symlink) removes what the symlink points at.
    /// </summary>
    public static void CollectLeftovers(string tempDirectory)
    {
        foreach (var dir in Directory.EnumerateDirectories(tempDirectory, RunDirectoryPrefix + "*"))
        {
            if (!Interop.Libc.IsOwnedByMe(dir))
            {
                continue;
            }
            try
            {
                var owner = File.ReadAllText(Path.Combine(dir, OwnerFile)).Trim();
                if (int.TryParse(owner, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                    && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
                {
                    RemoveRunDirectory(dir);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another user's, one being created right now (no owner file yet), or one being removed: not ours to judge.
            }
        }
    }

    /// <summary>
    /// Removes a run directory of this user, once its sandbox is gone. Without root its owner may still be denied
    /// a directory in it: the overlay's work directory (mode 000 when the overlay was mounted in a user namespace),
    /// or one a test made in the upper directory without permissions; the owner gives itself access to each first.
    /// </summary>
    private static void RemoveRunDirectory(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
            return;
        }
        catch (UnauthorizedAccessException)
        {
        }
        GrantOwnerAccess(new DirectoryInfo(dir));
        Directory.Delete(dir, recursive: true);
    }

    private static void GrantOwnerAccess(DirectoryInfo dir)
    {
        dir.UnixFileMode |= UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        foreach (var sub in dir.EnumerateDirectories())
        {
            if (sub.LinkTarget is null)
            {
                GrantOwnerAccess(sub);
            }
        }
    }

    public static string AgentPath(string outputDirectory) => Path.Combine(outputDirectory, "Sandbox.TestAgent.dll");

    /// <summary>The agent's command line inside the sandbox or out: the test project's runtimeconfig and deps.json,
    /// so that it loads the same framework, test assembly and adapter dependencies testhost would.</summary>
    public static List<string> AgentArguments(string source) =>
    [
        "exec",
        "--runtimeconfig", Path.ChangeExtension(source, ".runtimeconfig.json"),
        "--depsfile", Path.ChangeExtension(source, ".deps.json"),
        AgentPath(Path.GetDirectoryName(source)!),
    ];

    public static AgentProcess StartUnsandboxed(string source)
    {
        var host = Environment.ProcessPath is { } p && Path.GetFileName(p) == "dotnet" ? p : "dotnet";
        var psi = new ProcessStartInfo(host) { WorkingDirectory = Path.GetDirectoryName(source)! };
        foreach (var a in AgentArguments(source))
        {
            psi.ArgumentList.Add(a);
        }
        return Start(psi, null, null, null, null);
    }

    public static AgentProcess StartSandboxed(string source, SandboxManifest manifest, TimeSpan? timeout)
    {
        var id = "sbx-test-" + Guid.NewGuid().ToString("N")[..12];
        CollectLeftovers(Path.GetTempPath());
        var dir = Directory.CreateTempSubdirectory(RunDirectoryPrefix).FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var config = RunConfig(source, manifest, dir);
            var bundle = Directory.CreateDirectory(Path.Combine(dir, "bundle")).FullName;
            File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
            var report = Path.Combine(dir, "report.json");
            var psi = new ProcessStartInfo(manifest.Sandbox) { WorkingDirectory = dir };
            psi.ArgumentList.Add("run");
            psi.ArgumentList.Add("--bundle");
            psi.ArgumentList.Add(bundle);
            psi.ArgumentList.Add("--report");
            psi.ArgumentList.Add(report);
            // testhost may die without a word (vstest kills it on Ctrl+C, a crash, a SIGKILL): the sandbox goes with it.
            psi.ArgumentList.Add("--die-with-parent");
            psi.ArgumentList.Add("--remove-if-orphaned");
            psi.ArgumentList.Add(dir);
            if (timeout is { } t)
            {
                psi.ArgumentList.Add("--timeout");
                psi.ArgumentList.Add(Durations.ForCommandLine(t));
            }
            if (!Interop.Libc.IsRoot)
            {
                // An ordinary user has cgroup limits only where a cgroup is delegated to it: elsewhere the sandbox runs
                // without them (its RunReport lists them under "unenforced") rather than not at all.
                psi.ArgumentList.Add("--allow-unenforced");
            }
            psi.ArgumentList.Add(id);
            return Start(psi, dir, report, id, manifest.Sandbox);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// The bundle's config.json for one run: the root made absolute (the copy lives elsewhere), the agent as the
    /// process, and the output directory as a copy-on-write overlay at its own path, its upper and work directories
    /// in <paramref name="runDirectory"/>, so tests write beside their assembly as they always have while nothing
    /// reaches the host's directory. A bind mount of the output directory in the bundle is replaced by the overlay.
    /// </summary>
    public static JsonObject RunConfig(string source, SandboxManifest manifest, string runDirectory)
    {
        var configPath = Path.Combine(manifest.Bundle, "config.json");
        JsonObject config;
        try
        {
            config = JsonNode.Parse(File.ReadAllText(configPath))?.AsObject() ?? throw new FormatException("not an object");
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or FormatException or InvalidOperationException)
        {
            throw new AdapterException(AdapterErrors.BadBundle, $"cannot read the bundle's {configPath} ({e.Message}): rebuild the test project");
        }
        var output = Path.TrimEndingDirectorySeparator(Path.GetDirectoryName(Path.GetFullPath(source))!);
        var root = config["root"] as JsonObject ?? throw new AdapterException(AdapterErrors.BadBundle, $"{configPath} has no root: rebuild the test project");
        var rootPath = (string?)root["path"] ?? "rootfs";
        root["path"] = Path.GetFullPath(Path.Combine(manifest.Bundle, rootPath));

        var process = config["process"] as JsonObject ?? new JsonObject();
        config["process"] = process;
        var args = new JsonArray { "dotnet" };
        foreach (var a in AgentArguments(Path.Combine(output, Path.GetFileName(source))))
        {
            args.Add(a);
        }
        process["args"] = args;
        process["cwd"] = output;
        process["terminal"] = false;

        var upper = Directory.CreateDirectory(Path.Combine(runDirectory, "upper")).FullName;
        var work = Directory.CreateDirectory(Path.Combine(runDirectory, "work")).FullName;
        // The overlay's root takes its owner from the upper directory: the sandbox's user must own it to write there.
        var (uid, gid) = HostIds(config);
        var asRoot = Interop.Libc.IsRoot;
        if (asRoot && (uid != 0 || gid != 0))
        {
            Interop.Libc.Chown(upper, uid, gid);
        }
        // What the build wrote belongs to whoever built it (root, here): through an id-mapped lower layer those files
        // are the sandbox user's, so a test overwrites a file beside its assembly as it would unsandboxed, in the copy.
        var owner = asRoot ? Interop.Libc.Owner(output) : null;
        var idmapped = owner is { } o && (o.Uid != uid || o.Gid != gid);
        var mounts = config["mounts"] as JsonArray ?? [];
        config["mounts"] = mounts;
        foreach (var m in mounts.Where(m => m is JsonObject o && Path.TrimEndingDirectorySeparator((string?)o["destination"] ?? "") == output).ToList())
        {
            mounts.Remove(m);
        }
        var overlay = new JsonObject
        {
            ["destination"] = output,
            ["type"] = "overlay",
            ["source"] = "overlay",
            ["options"] = new JsonArray { $"lowerdir={output}", $"upperdir={upper}", $"workdir={work}" },
        };
        if (idmapped)
        {
            ((JsonArray)overlay["options"]!).Add("idmap");
            overlay["uidMappings"] = new JsonArray { Mapping(owner!.Value.Uid, uid) };
            overlay["gidMappings"] = new JsonArray { Mapping(owner!.Value.Gid, gid) };
        }
        mounts.Add(overlay);
        return config;

        static JsonObject Mapping(uint onDisk, uint seen) => new() { ["containerID"] = onDisk, ["hostID"] = seen, ["size"] = 1u };
    }

    /// <summary>The host uid and gid of the sandbox's user: its ids through the bundle's id maps, when it has them.</summary>
    private static (uint Uid, uint Gid) HostIds(JsonObject config)
    {
        var user = config["process"]?["user"];
        var uid = (uint?)user?["uid"] ?? 0;
        var gid = (uint?)user?["gid"] ?? 0;
        return (Map(config["linux"]?["uidMappings"] as JsonArray, uid), Map(config["linux"]?["gidMappings"] as JsonArray, gid));
    }

    private static uint Map(JsonArray? mappings, uint id)
    {
        foreach (var m in mappings ?? [])
        {
            var container = (uint?)m?["containerID"] ?? 0;
            var size = (uint?)m?["size"] ?? 0;
            if (id >= container && id < container + size)
            {
                return (uint?)m?["hostID"] + (id - container) ?? id;
            }
        }
        return id;
    }

    private static AgentProcess Start(ProcessStartInfo psi, string? runDirectory, string? reportPath, string? sandboxId, string? sandbox)
    {
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        var process = Process.Start(psi) ?? throw new AdapterException(AdapterErrors.AgentFailed, $"could not start {psi.FileName}");
        return new AgentProcess(process, runDirectory, reportPath, sandboxId, sandbox);
    }

    public void Send(AgentMessage request)
    {
        Channel.Write(request);
        // One request per agent: closing stdin tells it nothing more comes.
        _process.StandardInput.Close();
    }

    public void WaitForExit()
    {
        if (!_process.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            Kill();
        }
        _stderrReader.Join(TimeSpan.FromSeconds(5));
    }

    /// <summary>
    /// Stops the agent and everything it started. A sandbox is stopped with `sandbox kill ID KILL`, so that `sandbox
    /// run` sees its container end, writes the RunReport (the figures of a test over its timeout) and cleans up as
    /// after any run; killing `sandbox run` itself is the fallback, after which its container dies with it
    /// (--die-with-parent, and its first process's parent-death signal). Unsandboxed, the agent's process tree.
    /// </summary>
    public void Kill()
    {
        if (Interlocked.Exchange(ref _killed, 1) != 0 || _process.HasExited)
        {
            return;
        }
        if (_sandbox is not null && SandboxId is not null && Sandbox(_sandbox, "kill", SandboxId, "KILL") && _process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            return;
        }
        _forced = true;
        try
        {
            _process.Kill(entireProcessTree: _sandbox is null);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    /// <summary>Runs `sandbox ARGS`, true when it succeeded.</summary>
    private static bool Sandbox(string sandbox, params string[] args)
    {
        var psi = new ProcessStartInfo(sandbox) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        try
        {
            using var kill = Process.Start(psi)!;
            kill.StandardOutput.ReadToEnd();
            kill.StandardError.ReadToEnd();
            return kill.WaitForExit(TimeSpan.FromSeconds(10)) && kill.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private void ReadStderr()
    {
        var buffer = new char[4096];
        int n;
        while ((n = _process.StandardError.Read(buffer, 0, buffer.Length)) > 0)
        {
            lock (_stderr)
            {
                _stderr.Append(buffer, 0, n);
                if (_stderr.Length > StderrTailChars * 2)
                {
                    var dropped = _stderr.Length - StderrTailChars;
                    _endLines = EndLines(_stderr.ToString(0, dropped)) ?? _endLines;
                    _stderr.Remove(0, dropped);
                }
            }
        }
    }

    public void Dispose()
    {
        Kill();
        if (!_process.WaitForExit(TimeSpan.FromSeconds(15)))
        {
            _forced = true;
            _process.Kill(entireProcessTree: _sandbox is null);
            _process.WaitForExit();
        }
        _process.Dispose();
        // `sandbox run` killed before it could clean up: its state directory and cgroup go now, not at the next run.
        if (_forced && _sandbox is not null && SandboxId is not null)
        {
            Sandbox(_sandbox, "delete", "--force", SandboxId);
        }
        if (_runDirectory is not null)
        {
            try
            {
                RemoveRunDirectory(_runDirectory);
            }
            catch (IOException)
            {
                // Left for the OS's temp cleanup; never worth failing a test run over.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        Live.TryRemove(this, out _);
    }
}
