using System.Buffers;
using System.Globalization;
using System.Text.Json;
using static Sandbox.Build.Tasks.JsonElements;

namespace Sandbox.Build.Tasks;

/// <summary>
/// The run directory of one SandboxExec run: it is the run's bundle, whose config.json is the built bundle's with the
/// step's command, environment and mounts and a root scaffold (<see cref="RootScaffold"/>, shared, read-only) as its
/// root; it also holds the scratch directories the step writes to (0/, 1/, ...) and the RunReport. The built bundle is
/// never changed. Few entries, so that removing it costs little.
/// </summary>
internal sealed class StepSandbox
{
    private static readonly string[] ReadOnlyBind = ["rbind", "ro", "nosuid", "nodev"];
    private static readonly string[] WritableBind = ["bind", "nosuid", "nodev"];
    public const string RunDirectoryPrefix = "run-";
    private const string ConfigFile = "config.json";
    private const string ReportFile = "report.json";

    private StepSandbox(string directory, IReadOnlyDictionary<string, string> scratch, string scaffold, bool scaffoldMade)
    {
        Directory = directory;
        Scratch = scratch;
        Scaffold = scaffold;
        ScaffoldMade = scaffoldMade;
    }

    /// <summary>The run directory; everything of the run but the shared scaffold is in it, and removing it removes the run.</summary>
    public string Directory { get; }

    /// <summary>The bundle `sandbox run` is given: the run directory itself.</summary>
    public string Bundle => Directory;

    public string ReportPath => Path.Combine(Directory, ReportFile);

    /// <summary>Each writable directory of the step (a path inside the sandbox, the same as on the host) and the host directory that holds what was written there.</summary>
    public IReadOnlyDictionary<string, string> Scratch { get; }

    /// <summary>The root scaffold's directory (obj/sandbox-exec/root-KEY), and whether this run made it.</summary>
    public string Scaffold { get; }

    public bool ScaffoldMade { get; }

    /// <summary>
    /// Writes the run directory: scratch directories owned by the sandbox's user, and config.json running
    /// <paramref name="args"/> with <paramref name="environment"/> added to the bundle's, on the root scaffold of this
    /// step and bundle in <paramref name="intermediate"/> (made when there is none yet).
    /// </summary>
    /// <param name="builtConfig">The built bundle's config.json; <paramref name="digest"/> its digest file's text.</param>
    public static StepSandbox Prepare(string runDirectory, string intermediate, string builtBundle, string digest, JsonElement builtConfig, StepDeclaration step,
        IReadOnlyList<string> args, IReadOnlyList<KeyValuePair<string, string>> environment)
    {
        var scratch = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var target in step.ScratchTargets)
        {
            scratch[target] = System.IO.Directory.CreateDirectory(Path.Combine(runDirectory, scratch.Count.ToString(CultureInfo.InvariantCulture))).FullName;
        }
        // The working directory is created where the step will see it: in the scratch directory that holds it.
        if (scratch.Keys.Where(t => step.WorkingDirectory == t || StepDeclaration.IsWithin(step.WorkingDirectory, t)).MaxBy(t => t.Length) is { } holder)
        {
            System.IO.Directory.CreateDirectory(scratch[holder] + step.WorkingDirectory[holder.Length..]);
        }
        var (uid, gid) = HostIds(builtConfig);
        foreach (var dir in scratch.Values)
        {
            // As root the sandbox's user is another uid, which must own the directories it writes to.
            if (Interop.Libc.Geteuid() == 0 && (uid != 0 || gid != 0))
            {
                Interop.Libc.Chown(dir, uid, gid);
            }
        }

        var rootfs = Path.GetFullPath(Path.Combine(builtBundle, builtConfig.TryGetProperty("root", out var r) && r.ValueKind == JsonValueKind.Object
            && r.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "rootfs"));
        var builtMounts = builtConfig.TryGetProperty("mounts", out var m) && m.ValueKind == JsonValueKind.Array ? m : default;
        var builtDestinations = new HashSet<string>(StringComparer.Ordinal);
        if (builtMounts.ValueKind == JsonValueKind.Array)
        {
            foreach (var mount in builtMounts.EnumerateArray())
            {
                if (mount.ValueKind == JsonValueKind.Object && mount.TryGetProperty("destination", out var d) && d.ValueKind == JsonValueKind.String)
                {
                    builtDestinations.Add(d.GetString()!);
                }
            }
        }
        // The binds are computed every time (a walk of the rootfs's top), the files only when the scaffold is new.
        var plan = RootScaffold.Plan(rootfs, [.. step.MountTargets, step.WorkingDirectory], builtDestinations);
        var key = RootScaffold.Key(rootfs, digest, step, builtDestinations);
        var (scaffold, made) = RootScaffold.Obtain(intermediate, runDirectory, key, rootfs, digest, () => plan);
        if (made)
        {
            RootScaffold.RemoveStale(intermediate, runDirectory, rootfs, digest);
        }

        var buffer = new ArrayBufferWriter<byte>(16384);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var property in builtConfig.EnumerateObject())
            {
                if (property.Name is not ("root" or "mounts" or "process"))
                {
                    property.WriteTo(w);
                }
            }
            w.WriteStartObject("root");
            w.WriteString("path", RootScaffold.RootOf(scaffold));
            w.WriteBoolean("readonly", true);
            w.WriteEndObject();
            w.WriteStartArray("mounts");
            foreach (var e in plan)
            {
                if (e.BindSource is { } source)
                {
                    WriteBind(w, source, e.Path, ReadOnlyBind);
                }
            }
            if (builtMounts.ValueKind == JsonValueKind.Array)
            {
                foreach (var mount in builtMounts.EnumerateArray())
                {
                    mount.WriteTo(w);
                }
            }
            foreach (var (target, writable) in step.ScratchTargets.Select(t => (t, true)).Concat(step.Inputs.Select(i => (i, false))).OrderBy(x => x.Item1, StringComparer.Ordinal))
            {
                WriteBind(w, writable ? scratch[target] : target, target, writable ? WritableBind : ReadOnlyBind);
            }
            w.WriteEndArray();
            w.WriteStartObject("process");
            var builtProcess = builtConfig.TryGetProperty("process", out var bp) && bp.ValueKind == JsonValueKind.Object ? bp : default;
            var builtEnvironment = new List<string>();
            if (builtProcess.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in builtProcess.EnumerateObject())
                {
                    if (property.Name == "env" && property.Value.ValueKind == JsonValueKind.Array)
                    {
                        builtEnvironment.AddRange(property.Value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString()! : ""));
                    }
                    else if (property.Name is not ("args" or "cwd" or "terminal" or "env"))
                    {
                        property.WriteTo(w);
                    }
                }
            }
            WriteStrings(w, "args", args);
            w.WriteString("cwd", step.WorkingDirectory);
            w.WriteBoolean("terminal", false);
            WriteStrings(w, "env", Environment(builtEnvironment, environment));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        using (var file = File.Create(Path.Combine(runDirectory, ConfigFile)))
        {
            file.Write(buffer.WrittenSpan);
        }
        return new StepSandbox(runDirectory, scratch, scaffold, made);
    }

    /// <summary>
    /// Removes the run directory: its two files by name, each scratch directory with what the step wrote, then the
    /// directory; anything else there (a scaffold this run made but another step's won, one set aside) goes too.
    /// </summary>
    public void Remove()
    {
        try
        {
            File.Delete(Path.Combine(Directory, ConfigFile));
            File.Delete(ReportPath);
            foreach (var dir in Scratch.Values)
            {
                System.IO.Directory.Delete(dir, recursive: true);
            }
            System.IO.Directory.Delete(Directory);
        }
        catch (IOException)
        {
            RemoveDirectory(Directory);
        }
    }

    /// <summary>Removes a directory and everything in it, if it is there.</summary>
    public static void RemoveDirectory(string dir)
    {
        try
        {
            System.IO.Directory.Delete(dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static void WriteBind(Utf8JsonWriter w, string source, string destination, string[] options)
    {
        w.WriteStartObject();
        w.WriteString("destination", destination);
        w.WriteString("type", "bind");
        w.WriteString("source", source);
        WriteStrings(w, "options", options);
        w.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }
        w.WriteEndArray();
    }

    /// <summary>The bundle's environment with the task's variables set over it, by name.</summary>
    internal static IEnumerable<string> Environment(IEnumerable<string> built, IReadOnlyList<KeyValuePair<string, string>> added)
    {
        var names = added.Select(a => a.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var text in built)
        {
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
    private static (uint Uid, uint Gid) HostIds(JsonElement config)
    {
        var user = Child(Child(config, "process"), "user");
        var linux = Child(config, "linux");
        return (Map(Child(linux, "uidMappings"), Number(Child(user, "uid")) ?? 0), Map(Child(linux, "gidMappings"), Number(Child(user, "gid")) ?? 0));

        static uint Map(JsonElement mappings, uint id)
        {
            if (mappings.ValueKind != JsonValueKind.Array)
            {
                return id;
            }
            foreach (var m in mappings.EnumerateArray())
            {
                var container = Number(Child(m, "containerID")) ?? 0;
                if (id >= container && id < container + (Number(Child(m, "size")) ?? 0))
                {
                    return Number(Child(m, "hostID")) is { } host ? host + (id - container) : id;
                }
            }
            return id;
        }

        static uint? Number(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetUInt32(out var n) ? n : null;
    }
}
