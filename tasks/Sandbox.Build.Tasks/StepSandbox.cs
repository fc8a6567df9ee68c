using System.Text.Json.Nodes;

namespace Sandbox.Build.Tasks;

/// <summary>
/// The run directory of one SandboxExec run: a bundle whose config.json is the built bundle's with the step's command,
/// environment and mounts, its root a scaffold of our own, the scratch directories the step writes to, and the
/// RunReport. The built bundle is never changed: the runtime creates missing mount points in the root it is given, so
/// the root is a directory of this run that mirrors the bundle's rootfs (its entries bind-mounted read-only, its
/// symlinks copied) down to where a step's paths need new directories.
/// </summary>
internal sealed class StepSandbox
{
    private static readonly string[] ReadOnlyBind = ["rbind", "ro", "nosuid", "nodev"];
    private static readonly string[] WritableBind = ["bind", "nosuid", "nodev"];

    private StepSandbox(string directory, IReadOnlyDictionary<string, string> scratch)
    {
        Directory = directory;
        Scratch = scratch;
    }

    /// <summary>The run directory; everything of the run is in it, and removing it removes the run.</summary>
    public string Directory { get; }

    public string Bundle => Path.Combine(Directory, "bundle");

    public string ReportPath => Path.Combine(Directory, "report.json");

    /// <summary>Each writable directory of the step (a path inside the sandbox, the same as on the host) and the host directory that holds what was written there.</summary>
    public IReadOnlyDictionary<string, string> Scratch { get; }

    /// <summary>
    /// Writes the run directory: scratch directories owned by the sandbox's user, the root scaffold, and config.json
    /// running <paramref name="args"/> with <paramref name="environment"/> added to the bundle's.
    /// </summary>
    public static StepSandbox Prepare(string runDirectory, string builtBundle, JsonObject builtConfig, StepDeclaration step,
        IReadOnlyList<string> args, IReadOnlyList<KeyValuePair<string, string>> environment)
    {
        var config = (JsonObject)builtConfig.DeepClone();
        var (uid, gid) = HostIds(config);
        var scratch = new Dictionary<string, string>(StringComparer.Ordinal);
        var n = 0;
        foreach (var target in step.ScratchTargets)
        {
            var dir = System.IO.Directory.CreateDirectory(Path.Combine(runDirectory, "scratch", (n++).ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
            scratch[target] = dir;
        }
        // The working directory is created where the step will see it: in the scratch directory that holds it.
        if (scratch.Keys.Where(t => step.WorkingDirectory == t || StepDeclaration.IsWithin(step.WorkingDirectory, t)).MaxBy(t => t.Length) is { } holder)
        {
            System.IO.Directory.CreateDirectory(scratch[holder] + step.WorkingDirectory[holder.Length..]);
        }
        var root = System.IO.Directory.CreateDirectory(Path.Combine(runDirectory, "root")).FullName;
        var rootfs = Path.GetFullPath(Path.Combine(builtBundle, (string?)config["root"]?["path"] ?? "rootfs"));
        var builtMounts = config["mounts"] as JsonArray ?? [];
        var builtDestinations = builtMounts.Select(m => (string?)m?["destination"]).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var mounts = new JsonArray();
        Mirror(rootfs, root, "", [.. step.MountTargets, step.WorkingDirectory], builtDestinations, mounts);
        foreach (var m in builtMounts)
        {
            mounts.Add(m!.DeepClone());
        }
        foreach (var (target, kind) in step.ScratchTargets.Select(t => (t, true)).Concat(step.Inputs.Select(i => (i, false))).OrderBy(m => m.Item1, StringComparer.Ordinal))
        {
            mounts.Add(Bind(kind ? scratch[target] : target, target, kind ? WritableBind : ReadOnlyBind));
        }
        config["mounts"] = mounts;
        config["root"] = new JsonObject { ["path"] = root, ["readonly"] = true };
        var process = config["process"] as JsonObject ?? [];
        config["process"] = process;
        process["args"] = new JsonArray([.. args.Select(a => JsonValue.Create(a))]);
        process["cwd"] = step.WorkingDirectory;
        process["terminal"] = false;
        process["env"] = new JsonArray([.. Environment(process["env"] as JsonArray, environment).Select(e => JsonValue.Create(e))]);

        foreach (var dir in scratch.Values.Prepend(Path.Combine(runDirectory, "scratch")))
        {
            // As root the sandbox's user is another uid, which must own the directories it writes to.
            if (Interop.Libc.Geteuid() == 0 && (uid != 0 || gid != 0))
            {
                Interop.Libc.Chown(dir, uid, gid);
            }
        }
        var bundle = System.IO.Directory.CreateDirectory(Path.Combine(runDirectory, "bundle")).FullName;
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return new StepSandbox(runDirectory, scratch);
    }

    /// <summary>
    /// Makes <paramref name="root"/>/<paramref name="relative"/> show what the bundle's rootfs has there. An entry that
    /// holds a path the step needs is mirrored one level further down, so its new directories are made here; any
    /// other directory or file is bind-mounted read-only from the rootfs (or, where the bundle mounts something, left
    /// an empty mount point), and a symlink is copied.
    /// </summary>
    private static void Mirror(string rootfs, string root, string relative, IReadOnlyCollection<string> needed, HashSet<string> builtDestinations, JsonArray mounts)
    {
        foreach (var entry in new DirectoryInfo(Path.Combine(rootfs, relative)).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var inside = "/" + Path.Combine(relative, entry.Name);
            var here = Path.Combine(root, relative, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(here, link);
            }
            else if (entry is DirectoryInfo)
            {
                System.IO.Directory.CreateDirectory(here);
                if (needed.Any(p => StepDeclaration.IsWithin(p, inside)))
                {
                    Mirror(rootfs, root, inside[1..], needed, builtDestinations, mounts);
                }
                else if (!builtDestinations.Contains(inside) && !needed.Contains(inside))
                {
                    mounts.Add(Bind(entry.FullName, inside, ReadOnlyBind));
                }
            }
            else
            {
                File.WriteAllBytes(here, []);
                if (!builtDestinations.Contains(inside) && !needed.Contains(inside))
                {
                    mounts.Add(Bind(entry.FullName, inside, ReadOnlyBind));
                }
            }
        }
    }

    private static JsonObject Bind(string source, string destination, string[] options) => new()
    {
        ["destination"] = destination,
        ["type"] = "bind",
        ["source"] = source,
        ["options"] = new JsonArray([.. options.Select(o => JsonValue.Create(o))]),
    };

    /// <summary>The bundle's environment with the task's variables set over it, by name.</summary>
    internal static IEnumerable<string> Environment(JsonArray? built, IReadOnlyList<KeyValuePair<string, string>> added)
    {
        var names = added.Select(a => a.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var e in built ?? [])
        {
            var text = (string?)e ?? "";
            var eq = text.IndexOf('=', StringComparison.Ordinal);
            if (!names.Contains(eq < 0 ? text : text[..eq]))
            {
                yield return text;
            }
        }
        foreach (var (name, value) in added)
        {
            yield return $"{name}={value}";
        }
    }

    /// <summary>The host uid and gid of the sandbox's user: its ids through the bundle's id maps, when it has them.</summary>
    private static (uint Uid, uint Gid) HostIds(JsonObject config)
    {
        var user = config["process"]?["user"];
        return (Map(config["linux"]?["uidMappings"] as JsonArray, (uint?)user?["uid"] ?? 0), Map(config["linux"]?["gidMappings"] as JsonArray, (uint?)user?["gid"] ?? 0));

        static uint Map(JsonArray? mappings, uint id)
        {
            foreach (var m in mappings ?? [])
            {
                var container = (uint?)m?["containerID"] ?? 0;
                if (id >= container && id < container + ((uint?)m?["size"] ?? 0))
                {
                    return (uint?)m?["hostID"] + (id - container) ?? id;
                }
            }
            return id;
        }
    }
}
