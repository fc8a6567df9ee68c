using System.Globalization;
using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.Bundles;

/// <summary>
/// What a bundle's config.json becomes in an OCI image (image-spec v1.1 config), and what it cannot say there. The
/// image carries the process (Cmd, Env, WorkingDir, User), the writable mounts as Volumes, and two labels: the
/// seccomp profile under podman's `io.containers.seccomp.profile` (applied with `--seccomp-policy=image`) and the
/// podman options that restore the rest (read-only root, tmpfs, network, limits, capabilities, host variables, the
/// time limit) under <see cref="RunOptionsLabel"/>. Read-only bind mounts are not here: the exporter copies them into
/// layers of their own.
/// </summary>
internal sealed record OciImageConfig(OciConfig Bundle, string User)
{
    public const string SeccompLabel = "io.containers.seccomp.profile";
    public const string RunOptionsLabel = "org.sandbox.podman-run-options";

    /// <summary>The mounts of host paths the container only reads: copied into the image (/sys is the engine's).</summary>
    public IEnumerable<OciMount> ReadOnlyBinds => Binds.Where(m => m.Options!.Contains("ro"));

    /// <summary>The mounts of host paths the container writes: Volumes, which podman makes anonymous unless bound.</summary>
    public IEnumerable<OciMount> WritableBinds => Binds.Where(m => !m.Options!.Contains("ro"));

    private IEnumerable<OciMount> Binds => (Bundle.Mounts ?? []).Where(m => m.Type == "bind" && m.Destination != "/sys" && m.Options is not null);

    public static string Architecture => System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        _ => "amd64",
    };

    /// <summary>
    /// The podman options that give a container of the image what config.json gave the bundle and the image config
    /// cannot carry; the writable mounts' host directories are the builder's, so they are left to `--volume`.
    /// </summary>
    public List<string> PodmanOptions()
    {
        var o = new List<string>();
        if (Bundle.Root?.Readonly == true)
        {
            o.Add("--read-only");
        }
        foreach (var m in (Bundle.Mounts ?? []).Where(m => m.Type == "tmpfs" && m.Destination is not ("/dev" or "/dev/shm")))
        {
            o.Add("--tmpfs");
            // notmpcopyup: as in the bundle, the tmpfs starts empty; podman would copy the image's directory onto it.
            o.Add($"{m.Destination}:{string.Join(',', ["rw", "notmpcopyup", .. m.Options ?? []])}");
        }
        if (Bundle.Linux?.Namespaces?.Any(n => n.Type == "network") == true)
        {
            o.Add("--network=none");
        }
        if (Bundle.Hostname is { Length: > 0 } hostname)
        {
            o.Add($"--hostname={hostname}");
        }
        var r = Bundle.Linux?.Resources;
        if (r?.Memory?.Limit is long memory)
        {
            o.Add($"--memory={memory}");
        }
        if (r?.Cpu is { Quota: long quota, Period: ulong period } && period > 0)
        {
            o.Add($"--cpus={(quota / (double)period).ToString(CultureInfo.InvariantCulture)}");
        }
        if (r?.Pids?.Limit is long pids)
        {
            o.Add($"--pids-limit={pids}");
        }
        o.Add("--cap-drop=all");
        foreach (var cap in Bundle.Process?.Capabilities?.Bounding ?? [])
        {
            o.Add($"--cap-add={cap}");
        }
        if (Bundle.Process?.NoNewPrivileges == true)
        {
            o.Add("--security-opt=no-new-privileges");
        }
        if (Bundle.Linux?.Seccomp is not null)
        {
            o.Add("--seccomp-policy=image");
        }
        foreach (var name in Annotation(SandboxAnnotations.PassEnvironment)?.Split(',') ?? [])
        {
            o.Add($"--env={name}");
        }
        if (Annotation(SandboxAnnotations.TimeoutMs) is { } ms)
        {
            o.Add($"--timeout={(long.Parse(ms, CultureInfo.InvariantCulture) + 999) / 1000}");
        }
        return o;
    }

    private string? Annotation(string key) => Bundle.Annotations?.GetValueOrDefault(key);

    /// <summary>The image config, given its layers' diff_ids and names (for `history`), in a fixed key order.</summary>
    public byte[] Serialize(IReadOnlyList<(string Name, string DiffId)> layers) => OciImageLayout.Json(w =>
    {
        w.WriteString("architecture", Architecture);
        w.WriteString("os", "linux");
        w.WriteStartObject("config");
        w.WriteString("User", User);
        WriteStrings(w, "Env", Bundle.Process?.Env ?? []);
        WriteStrings(w, "Cmd", Bundle.Process?.Args ?? []);
        w.WriteString("WorkingDir", Bundle.Process?.Cwd ?? "/");
        if (WritableBinds.Any())
        {
            w.WriteStartObject("Volumes");
            foreach (var m in WritableBinds.OrderBy(m => m.Destination, StringComparer.Ordinal))
            {
                w.WriteStartObject(m.Destination!);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteStartObject("Labels");
        if (Bundle.Linux?.Seccomp is { } seccomp)
        {
            w.WriteString(SeccompLabel, Compact(JsonSerializer.SerializeToUtf8Bytes(seccomp, OciSeccompJsonContext.Default.OciSeccomp)));
        }
        w.WriteString(RunOptionsLabel, string.Join(' ', PodmanOptions()));
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartObject("rootfs");
        w.WriteString("type", "layers");
        WriteStrings(w, "diff_ids", layers.Select(l => l.DiffId));
        w.WriteEndObject();
        w.WriteStartArray("history");
        foreach (var (name, _) in layers)
        {
            w.WriteStartObject();
            w.WriteString("created_by", $"sandbox build: {name}");
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    /// <summary>The profile on one line: the seccomp context writes it indented, for people.</summary>
    private static string Compact(byte[] json)
    {
        using var doc = JsonDocument.Parse(json);
        return System.Text.Encoding.UTF8.GetString(OciImageLayout.JsonValue(doc.RootElement.WriteTo));
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
}
