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
        var dir = SandboxRun.CreateDirectory();
        try
        {
            var run = SandboxRun.Prepare(manifest, dir, RunConfig(source, manifest, dir), timeout);
            return Start(run.StartInfo, dir, run.ReportPath, run.Id, manifest.Sandbox);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    /// <summary>The bundle's config.json for one agent run (<see cref="SandboxRun.Config"/>), the agent as the process.</summary>
    public static JsonObject RunConfig(string source, SandboxManifest manifest, string runDirectory)
    {
        var output = Path.TrimEndingDirectorySeparator(Path.GetDirectoryName(Path.GetFullPath(source))!);
        return SandboxRun.Config(manifest, output, ["dotnet", .. AgentArguments(Path.Combine(output, Path.GetFileName(source)))], runDirectory);
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
    /// after any run. While its container is still being made (a warm agent discarded as it starts), there is nothing
    /// to kill yet: `sandbox run` gets SIGTERM, which it holds through the setup and passes on, and it ends as after
    /// any run, so that it is still there to remove the run directory should testhost die meanwhile. Killing `sandbox
    /// run` itself is the last resort, after which its container dies with it (--die-with-parent, and its first
    /// process's parent-death signal), but the run directory waits for this process. Unsandboxed, the agent's tree.
    /// </summary>
    public void Kill()
    {
        if (Interlocked.Exchange(ref _killed, 1) != 0 || _process.HasExited)
        {
            return;
        }
        if (_sandbox is not null && SandboxId is not null && SandboxRun.Command(_sandbox, "kill", SandboxId, "KILL") && _process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            return;
        }
        if (_sandbox is not null && !_process.HasExited && Interop.Libc.Kill(_process.Id, Interop.Libc.SIGTERM) == 0 && _process.WaitForExit(TimeSpan.FromSeconds(10)))
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
            SandboxRun.Command(_sandbox, "delete", "--force", SandboxId);
        }
        if (_runDirectory is not null)
        {
            try
            {
                SandboxRun.RemoveDirectory(_runDirectory);
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
