using System.ComponentModel;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Task = Microsoft.Build.Utilities.Task;

namespace Sandbox.Build.Tasks;

/// <summary>
/// Runs a build step in a sandbox that shows it only what it declares (docs/msbuild.md#sandboxexec): its Inputs
/// read-only at their own paths, its Outputs writable in scratch directories moved to their places only when the step
/// succeeds, a private /tmp as HOME, the base's system directories, no network and no host environment unless the
/// spec or the task grants them. What it writes anywhere else in the project is an error naming the path. The
/// bundle comes from `sandbox-build build` (the Spec, or the default base), the run from `sandbox run --bundle` with a
/// config.json of the step's own; like SandboxBuildBundle, this never forks and keeps no process-wide state.
/// </summary>
[MSBuildMultiThreadableTask]
public sealed class SandboxExec : Task, IMultiThreadableTask, ICancelableTask
{
    private const int StderrLinesShown = 10;

    private readonly ToolProcess _runner = new();

    public TaskEnvironment TaskEnvironment { get; set; } = TaskEnvironment.Fallback;

    /// <summary>The step, run by /bin/sh -c as MSBuild's Exec runs its Command.</summary>
    [Required]
    public string Command { get; set; } = "";

    /// <summary>Files and directories the step reads: visible read-only at their own paths, and nothing else of the project.</summary>
    public ITaskItem[] Inputs { get; set; } = [];

    /// <summary>Files, and directories (ending in '/', or existing ones), the step writes.</summary>
    [Required]
    public ITaskItem[] Outputs { get; set; } = [];

    /// <summary>Where the step starts; the project directory by default.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>NAME=value pairs the step sees, over the spec's environment; nothing of the build's environment is passed otherwise.</summary>
    public string[] EnvironmentVariables { get; set; } = [];

    public bool IgnoreExitCode { get; set; }

    /// <summary>Return the step's output lines in <see cref="ConsoleOutput"/>.</summary>
    public bool ConsoleToMSBuild { get; set; }

    /// <summary>A sandbox.yaml to run the step on instead of the default base (its network, limits, seccomp, mounts, env).</summary>
    public string? Spec { get; set; }

    /// <summary>Run the step twice, each in a fresh sandbox, and fail when its outputs differ.</summary>
    public bool Reproducible { get; set; }

    /// <summary>The directory holding `sandbox` and `sandbox-build`; the package's own by default.</summary>
    public string? ToolsDirectory { get; set; }

    /// <summary>Where bundles and run directories go; obj/sandbox-exec/ of the project by default.</summary>
    public string? IntermediateDirectory { get; set; }

    /// <summary>The JSON file of the step's figures; beside the first output by default (OUTPUT.sandbox-usage.json).</summary>
    public string? UsageFile { get; set; }

    [Output]
    public int ExitCode { get; private set; } = -1;

    [Output]
    public ITaskItem[] ConsoleOutput { get; private set; } = [];

    /// <summary>Every file the task wrote (the outputs moved into place and the usage file), for FileWrites.</summary>
    [Output]
    public ITaskItem[] FileWrites { get; private set; } = [];

    public override bool Execute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Report(new ToolDiagnostic(TaskErrorCodes.NotLinux,
                $"sandboxes run on Linux only, and this build runs on {System.Runtime.InteropServices.RuntimeInformation.OSDescription} (hint: run the step with Exec on other hosts, e.g. Condition=\"!$([MSBuild]::IsOSPlatform('Linux'))\")"));
            return false;
        }
        var intermediate = Absolute(string.IsNullOrEmpty(IntermediateDirectory) ? "obj/sandbox-exec" : IntermediateDirectory);
        var (tools, error, _) = SandboxToolLocator.Resolve(Absolute(string.IsNullOrEmpty(ToolsDirectory) ? PackageToolsDirectory() : ToolsDirectory), Path.Combine(intermediate, "tools"));
        if (tools is null)
        {
            Report(error!);
            return false;
        }
        var step = StepDeclaration.From(TaskEnvironment.ProjectDirectory.Value, Inputs.Select(i => i.ItemSpec), Outputs.Select(o => o.ItemSpec), WorkingDirectory, Absolute);
        var problems = step.Problems();
        foreach (var p in problems)
        {
            Report(new ToolDiagnostic(TaskErrorCodes.StepInvalid, p));
        }
        if (problems.Count > 0 || ParseEnvironment() is not { } environment)
        {
            return false;
        }

        string spec;
        try
        {
            Directory.CreateDirectory(intermediate);
            CollectLeftovers(intermediate);
            if (string.IsNullOrEmpty(Spec))
            {
                spec = Path.Combine(intermediate, "default.yaml");
                DefaultSpec.Write(spec, DefaultExecSpec.Render());
            }
            else if (!File.Exists(spec = Absolute(Spec)))
            {
                Report(new ToolDiagnostic(TaskErrorCodes.SpecMissing, $"Spec names {spec}, which does not exist (hint: correct the Spec parameter, or remove it to use the default base)"));
                return false;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Report(new ToolDiagnostic(TaskErrorCodes.WriteFailed, $"writing the default spec in {intermediate} failed: {e.Message} (hint: check that the intermediate directory is writable)"));
            return false;
        }
        var bundle = Path.Combine(intermediate, "bundle-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(spec)))[..12]);
        if (!DefaultBundleIsCurrent(spec, bundle, tools) && new BundleBuildCommand(TaskEnvironment, Log, Report).Run(_runner, tools, spec, bundle) is null)
        {
            return false;
        }
        JsonDocument builtConfig;
        string digest;
        try
        {
            digest = File.ReadAllText(Path.Combine(bundle, "digest")).Trim();
            builtConfig = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(bundle, "config.json")));
            if (builtConfig.RootElement.ValueKind != JsonValueKind.Object)
            {
                builtConfig.Dispose();
                throw new JsonException("not an object");
            }
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            Report(new ToolDiagnostic(TaskErrorCodes.ToolUnusable, $"the bundle {bundle} that sandbox-build wrote has no readable config.json and digest ({e.Message}) (hint: delete {intermediate} and build again)"));
            return false;
        }

        var runs = new List<(StepSandbox Sandbox, RunFigures Figures, StepResults Results)>();
        try
        {
            for (var i = 0; i < (Reproducible ? 2 : 1); i++)
            {
                if (RunOnce(tools, intermediate, bundle, digest, builtConfig.RootElement, step, environment, first: i == 0) is not { } run)
                {
                    return false;
                }
                runs.Add(run);
            }
            if (runs.Count == 2 && StepResults.Differences(runs[0].Results.Digests(), runs[1].Results.Digests()) is { Count: > 0 } differing)
            {
                Report(new ToolDiagnostic(TaskErrorCodes.NotReproducible,
                    $"the step `{Command}` is not reproducible: two runs in fresh sandboxes wrote different {string.Join(", ", differing)} (hint: look for time stamps, random numbers, absolute temporary paths or unordered listings in what it writes; the outputs were not copied)"));
                return false;
            }
            return Finish(runs[0].Results, runs.Select(r => r.Figures).ToList());
        }
        finally
        {
            foreach (var r in runs)
            {
                r.Sandbox.Remove();
            }
            builtConfig.Dispose();
        }
    }

    public void Cancel() => _runner.Cancel();

    /// <summary>
    /// Whether the default base's bundle was built after its spec and `sandbox-build` last changed, so building it again
    /// would only confirm it (about 0.1 s a step). Only for the default spec: it copies nothing of the host (system
    /// directories and .NET are mounted), so nothing but the spec and the builder can make its bundle stale, and the
    /// spec is rewritten only when its content changes. A Spec may copy files (`files:`), which only `sandbox-build`
    /// checks.
    /// </summary>
    private bool DefaultBundleIsCurrent(string spec, string bundle, SandboxTools tools)
    {
        if (!string.IsNullOrEmpty(Spec))
        {
            return false;
        }
        var digest = new FileInfo(Path.Combine(bundle, "digest"));
        var current = digest.Exists && File.Exists(Path.Combine(bundle, "config.json"))
            && digest.LastWriteTimeUtc >= File.GetLastWriteTimeUtc(spec) && digest.LastWriteTimeUtc >= File.GetLastWriteTimeUtc(tools.SandboxBuild);
        if (current)
        {
            Log.LogMessage(MessageImportance.Low, "SandboxExec: the bundle {0} is newer than {1} and {2}; not built again", bundle, spec, tools.SandboxBuild);
        }
        return current;
    }

    /// <summary>One run in a fresh run directory: null after logging why the step failed (its run directory removed).</summary>
    private (StepSandbox, RunFigures, StepResults)? RunOnce(SandboxTools tools, string intermediate, string bundle, string digest, JsonElement builtConfig, StepDeclaration step,
        IReadOnlyList<KeyValuePair<string, string>> environment, bool first)
    {
        // The owner's pid is in the name, for the leftover collection: no file to write and remove.
        var runDirectory = Directory.CreateDirectory(Path.Combine(intermediate,
            string.Create(CultureInfo.InvariantCulture, $"{StepSandbox.RunDirectoryPrefix}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}"))).FullName;
        StepSandbox? sandbox = null;
        var keep = false;
        try
        {
            sandbox = StepSandbox.Prepare(runDirectory, intermediate, bundle, digest, builtConfig, step, ["/bin/sh", "-c", Command], environment);
            Log.LogMessage(MessageImportance.Low, "SandboxExec: the root scaffold {0} ({1})", sandbox.Scaffold, sandbox.ScaffoldMade ? "made" : "reused");
            var id = "sbx-exec-" + Guid.NewGuid().ToString("N")[..12];
            var psi = TaskEnvironment.GetProcessStartInfo();
            psi.FileName = tools.Sandbox;
            psi.WorkingDirectory = runDirectory;
            psi.ArgumentList.Clear();
            foreach (var a in new[] { "run", "--bundle", sandbox.Bundle, "--report", sandbox.ReportPath, "--die-with-parent" })
            {
                psi.ArgumentList.Add(a);
            }
            if (Interop.Libc.Geteuid() != 0)
            {
                // An ordinary user has cgroup limits only where a cgroup is delegated to it: the report lists what was not enforced.
                psi.ArgumentList.Add("--allow-unenforced");
            }
            psi.ArgumentList.Add(id);
            Log.LogMessage(MessageImportance.Low, "SandboxExec: {0} {1}", tools.Sandbox, string.Join(' ', psi.ArgumentList));
            ToolProcess.Result? result;
            try
            {
                result = _runner.Run(psi, timeout: null);
            }
            catch (Win32Exception e)
            {
                Report(new ToolDiagnostic(TaskErrorCodes.ToolUnusable, $"starting {tools.Sandbox} failed: {e.Message} (hint: check that it is a linux executable for this machine; set ToolsDirectory to the right one)"));
                return null;
            }
            if (result is null)
            {
                // Cancelled: `sandbox run` was killed with its container; its state and cgroup go with `delete --force`.
                ForceDelete(tools, id);
                return null;
            }
            var output = Lines(result.Stdout).Concat(Lines(result.Stderr)).ToList();
            if (first)
            {
                foreach (var line in output)
                {
                    Log.LogMessage(MessageImportance.Normal, "{0}", line);
                }
                if (ConsoleToMSBuild)
                {
                    ConsoleOutput = [.. output.Select(l => new TaskItem(l))];
                }
            }
            var figures = RunFigures.Read(sandbox.ReportPath);
            if (figures is null)
            {
                // No report: the sandbox was never made, and `sandbox` said why.
                var diagnostics = ToolDiagnostics.Parse(Lines(result.Stderr));
                foreach (var d in diagnostics)
                {
                    Report(d);
                }
                if (diagnostics.Count == 0)
                {
                    Report(new ToolDiagnostic(TaskErrorCodes.SandboxFailed,
                        $"{tools.Sandbox} could not run the step (exit code {result.ExitCode}, no RunReport): {Tail(result.Stderr)} (hint: `sandbox doctor` says what this host allows)"));
                }
                return null;
            }
            ExitCode = figures.ExitCode;
            var results = StepResults.Collect(step, sandbox.Scratch);
            var failed = figures.ExitCode != 0 && !IgnoreExitCode;
            if (failed)
            {
                Report(new ToolDiagnostic(TaskErrorCodes.StepFailed,
                    $"the step `{Command}` failed: {figures}; last lines of its stderr: {Tail(result.Stderr)} (hint: its outputs were not copied and the previous ones are as they were; run it again with -v:n to see all it printed)"));
                ReportUndeclaredReads(step, result.Stderr);
            }
            foreach (var path in results.Undeclared)
            {
                Report(new ToolDiagnostic(TaskErrorCodes.UndeclaredWrite,
                    $"the step `{Command}` wrote {path}, which is not among its Outputs (hint: declare it in Outputs, or have the step write it under /tmp; nothing was copied)"));
            }
            if (!failed)
            {
                foreach (var path in results.Missing)
                {
                    Report(new ToolDiagnostic(TaskErrorCodes.OutputMissing,
                        $"the step `{Command}` succeeded but did not write its output {path} (hint: correct the Outputs, or the step; nothing was copied)"));
                }
            }
            if (failed || results.Undeclared.Count > 0 || results.Missing.Count > 0)
            {
                return null;
            }
            keep = true;
            return (sandbox, figures, results);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Report(new ToolDiagnostic(TaskErrorCodes.WriteFailed, $"preparing or reading the run directory {runDirectory} failed: {e.Message} (hint: check that {intermediate} is writable and has space)"));
            return null;
        }
        finally
        {
            if (!keep)
            {
                if (sandbox is null)
                {
                    StepSandbox.RemoveDirectory(runDirectory);
                }
                else
                {
                    sandbox.Remove();
                }
            }
        }
    }

    /// <summary>Moves the outputs into place, writes the usage file and logs the usage line.</summary>
    private bool Finish(StepResults results, IReadOnlyList<RunFigures> figures)
    {
        var usageFile = Absolute(string.IsNullOrEmpty(UsageFile) ? DefaultUsageFile() : UsageFile);
        try
        {
            var digests = results.Digests(); // first: moving the outputs out of the scratch directory takes them from there
            var written = results.MoveToDestinations().ToList();
            // Written as it goes, with no JsonObject tree and no JsonSerializerOptions made for every step.
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
            using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteNumber("version", 1);
                w.WriteString("command", Command);
                w.WriteBoolean("reproducible", figures.Count == 2);
                w.WriteStartArray("outputs");
                foreach (var (path, sha256) in digests.OrderBy(d => d.Key, StringComparer.Ordinal))
                {
                    w.WriteStartObject();
                    w.WriteString("path", path);
                    w.WriteString("sha256", sha256);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("runs");
                foreach (var f in figures)
                {
                    w.WriteRawValue(f.Report, skipInputValidation: true); // parsed once already, by RunFigures.Read
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            Directory.CreateDirectory(Path.GetDirectoryName(usageFile)!);
            File.WriteAllBytes(usageFile + ".tmp", buffer.WrittenSpan);
            FileReplace.Into(usageFile + ".tmp", usageFile);
            written.Add(usageFile);
            FileWrites = [.. written.Select(w => new TaskItem(w))];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Report(new ToolDiagnostic(TaskErrorCodes.WriteFailed, $"moving the step's outputs into place failed: {e.Message} (hint: check that the output directories are writable)"));
            return false;
        }
        Log.LogMessage(MessageImportance.Normal, "SandboxExec: {0}: {1}{2}; {3} outputs; figures in {4}", Command, figures[0],
            figures.Count == 2 ? "; reproducible (2 runs, same outputs)" : "", results.Produced.Count, usageFile);
        return true;
    }

    /// <summary>
    /// A failed step that printed the path of a project file it was not given (a compiler's "No such file", a shell's
    /// "can't open") most likely read it: named, since the project's undeclared files are not in the sandbox at all.
    /// </summary>
    private void ReportUndeclaredReads(StepDeclaration step, string stderr)
    {
        var named = new HashSet<string>(StringComparer.Ordinal);
        // The last lines, where a tool says what it could not open; a step that printed megabytes is not searched whole.
        var tail = string.Join('\n', Lines(stderr).TakeLast(200));
        foreach (var word in tail.Split([' ', '\t', '\n', '\'', '"', '`', ':', ',', '(', ')'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (word.Length < 2 || word.Contains('\0', StringComparison.Ordinal) || !(word.Contains('/', StringComparison.Ordinal) || word.Contains('.', StringComparison.Ordinal)))
            {
                continue;
            }
            var path = Path.GetFullPath(word, step.WorkingDirectory);
            if ((path == step.ProjectDirectory || !StepDeclaration.IsWithin(path, step.ProjectDirectory)) || !File.Exists(path)
                || step.Inputs.Any(i => i == path || StepDeclaration.IsWithin(path, i)) || !named.Add(path))
            {
                continue;
            }
            Report(new ToolDiagnostic(TaskErrorCodes.UndeclaredRead,
                $"the step `{Command}` names {path}, a project file that is not among its Inputs and so is not in its sandbox (hint: add it to Inputs if the step reads it)"));
        }
    }

    private List<KeyValuePair<string, string>>? ParseEnvironment()
    {
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var e in EnvironmentVariables)
        {
            var eq = e.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                Report(new ToolDiagnostic(TaskErrorCodes.StepInvalid, $"EnvironmentVariables holds `{e}`, which is not NAME=value (hint: write e.g. EnvironmentVariables=\"MODE=release;LEVEL=2\")"));
                return null;
            }
            pairs.Add(new(e[..eq], e[(eq + 1)..]));
        }
        return pairs;
    }

    private string DefaultUsageFile()
    {
        var first = Absolute(Outputs.First(o => o.ItemSpec.Length > 0).ItemSpec);
        return Path.TrimEndingDirectorySeparator(first) + ".sandbox-usage.json";
    }

    /// <summary>The package's tools/&lt;rid&gt;/ beside this assembly's tools/net/.</summary>
    private static string PackageToolsDirectory() =>
        Path.Combine(Path.GetDirectoryName(typeof(SandboxExec).Assembly.Location)!, "..",
            "linux-" + System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant());

    private void ForceDelete(SandboxTools tools, string id)
    {
        var psi = TaskEnvironment.GetProcessStartInfo();
        psi.FileName = tools.Sandbox;
        psi.ArgumentList.Clear();
        foreach (var a in new[] { "delete", "--force", id })
        {
            psi.ArgumentList.Add(a);
        }
        try
        {
            // A fresh runner: this task's is cancelled. Not running (already deleted) is the usual answer.
            new ToolProcess().Run(psi, TimeSpan.FromMinutes(1));
        }
        catch (Win32Exception)
        {
            // the executable ran a moment ago; if it cannot now, the next run collects the leftovers
        }
    }

    /// <summary>
    /// Removes the run directories of task processes that died before they could (the sandboxes die with their `sandbox
    /// run`): run-PID-ID, or run-ID with an owner.pid file from an older version of the task. Root scaffolds are kept.
    /// </summary>
    private static void CollectLeftovers(string intermediate)
    {
        foreach (var dir in Directory.EnumerateDirectories(intermediate, StepSandbox.RunDirectoryPrefix + "*"))
        {
            try
            {
                var name = Path.GetFileName(dir)[StepSandbox.RunDirectoryPrefix.Length..];
                var owner = name.IndexOf('-', StringComparison.Ordinal) is > 0 and var dash ? name[..dash] : File.ReadAllText(Path.Combine(dir, "owner.pid")).Trim();
                if (int.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
                {
                    StepSandbox.RemoveDirectory(dir);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // an older one being created right now (no owner file yet), or one being removed
            }
        }
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r'));

    private static string Tail(string stderr) =>
        Lines(stderr).TakeLast(StderrLinesShown).ToList() is { Count: > 0 } tail ? string.Join(" | ", tail.Select(l => l.Trim())) : "(nothing)";

    private void Report(ToolDiagnostic d)
    {
        // Without a place of its own (a spec line), an error points at the task in the project file.
        var inProject = d.File is null;
        Log.LogError(subcategory: null, errorCode: d.Code, helpKeyword: null,
            file: inProject ? BuildEngine?.ProjectFileOfTaskNode : d.File, lineNumber: inProject ? BuildEngine?.LineNumberOfTaskNode ?? 0 : d.Line,
            columnNumber: inProject ? BuildEngine?.ColumnNumberOfTaskNode ?? 0 : d.Column, endLineNumber: 0, endColumnNumber: 0, message: d.Message);
    }

    private string Absolute(string path) => TaskEnvironment.GetAbsolutePath(path).Value;
}
