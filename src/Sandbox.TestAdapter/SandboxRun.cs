using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Sandbox.TestAdapter;

/// <summary>
/// One `sandbox run` of a test process on a per-run copy of the project's bundle, and the run directory that holds it
/// (the copy's config.json, the overlay's upper and work directories, the RunReport): shared by the VSTest adapter's
/// agents (AgentProcess) and the Microsoft.Testing.Platform test host launcher (Sandbox.TestAdapter.Mtp), which both
/// start `sandbox` with System.Diagnostics.Process and never fork themselves (docs/design.md).
/// </summary>
internal static class SandboxRun
{
    private const string RunDirectoryPrefix = "sandbox-test-";
    private const string OwnerFile = "owner.pid";

    /// <summary>The start of a `sandbox run`: its command line, its id and where its RunReport will be.</summary>
    public sealed record Start(ProcessStartInfo StartInfo, string Id, string ReportPath);

    /// <summary>A new run directory in the temporary directory, marked with this process as its owner, after the
    /// leftovers of dead owners are removed.</summary>
    public static string CreateDirectory()
    {
        CollectLeftovers(Path.GetTempPath());
        var dir = Directory.CreateTempSubdirectory(RunDirectoryPrefix).FullName;
        File.WriteAllText(Path.Combine(dir, OwnerFile), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        return dir;
    }

    /// <summary>
    /// Writes <paramref name="config"/> as the run's bundle in <paramref name="runDirectory"/> and returns the
    /// `sandbox run` that runs it: its RunReport in the run directory, its container ended with its parent, and the run
    /// directory removed by `sandbox` when nobody is left to.
    /// </summary>
    public static Start Prepare(SandboxManifest manifest, string runDirectory, JsonObject config, TimeSpan? timeout)
    {
        var id = "sbx-test-" + Guid.NewGuid().ToString("N")[..12];
        var bundle = Directory.CreateDirectory(Path.Combine(runDirectory, "bundle")).FullName;
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        var report = Path.Combine(runDirectory, "report.json");
        var psi = new ProcessStartInfo(manifest.Sandbox) { WorkingDirectory = runDirectory, UseShellExecute = false };
        psi.ArgumentList.Add("run");
        psi.ArgumentList.Add("--bundle");
        psi.ArgumentList.Add(bundle);
        psi.ArgumentList.Add("--report");
        psi.ArgumentList.Add(report);
        // The process that started it may die without a word (vstest kills testhost on Ctrl+C, a crash, a SIGKILL):
        // the sandbox goes with it.
        psi.ArgumentList.Add("--die-with-parent");
        psi.ArgumentList.Add("--remove-if-orphaned");
        psi.ArgumentList.Add(runDirectory);
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
        return new(psi, id, report);
    }

    /// <summary>
    /// The bundle's config.json for one run: the root made absolute (the copy lives elsewhere), <paramref name="args"/>
    /// as the process, started in the output directory, and the output directory as a copy-on-write overlay at its own
    /// path, its upper and work directories in <paramref name="runDirectory"/>, so tests write beside their assembly as
    /// they always have while nothing reaches the host's directory. A bind mount of the output directory in the bundle
    /// is replaced by the overlay. <paramref name="adjust"/> may change the config before the overlay's owner is decided
    /// from the sandbox's user and id maps.
    /// </summary>
    public static JsonObject Config(SandboxManifest manifest, string output, IEnumerable<string> args, string runDirectory, Action<JsonObject>? adjust = null)
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
        var root = config["root"] as JsonObject ?? throw new AdapterException(AdapterErrors.BadBundle, $"{configPath} has no root: rebuild the test project");
        var rootPath = (string?)root["path"] ?? "rootfs";
        root["path"] = Path.GetFullPath(Path.Combine(manifest.Bundle, rootPath));

        var process = config["process"] as JsonObject ?? new JsonObject();
        config["process"] = process;
        process["args"] = new JsonArray([.. args.Select(a => JsonValue.Create(a))]);
        process["cwd"] = output;
        process["terminal"] = false;
        adjust?.Invoke(config);

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

    /// <summary>
    /// Removes the run directories (overlay upper and work directories, per-run bundles) of test processes that died
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
                    RemoveDirectory(dir);
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
    public static void RemoveDirectory(string dir)
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

    /// <summary>Runs `sandbox ARGS`, true when it succeeded.</summary>
    public static bool Command(string sandbox, params string[] args)
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
}
