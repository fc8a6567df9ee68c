using System.Text;
using System.Text.Json;
using Sandbox.Oci;
using Sandbox.Seccomp;

namespace Sandbox.Runtime;

/// <summary>
/// `sandbox features`: the runtime-spec "Features structure" (features.md), which callers such as podman and
/// containerd read to learn what a runtime implements. Made from the tables the runtime itself works from (mount
/// options, namespaces, capabilities, seccomp actions, operators, architectures and flags), so it cannot drift from
/// what a config may use; as the spec asks, it says what the runtime implements, not what this host allows
/// (`sandbox doctor` says that).
/// </summary>
internal static class Features
{
    /// <param name="version">sandbox's own version, for the annotations.</param>
    public static string Json(string version)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options(indented: true)))
        {
            w.WriteStartObject();
            w.WriteString("ociVersionMin", "1.0.0");
            w.WriteString("ociVersionMax", "1.3.0");
            Strings(w, "hooks", ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);
            Strings(w, "mountOptions", MountOptions.Recognized);
            w.WriteStartObject("annotations");
            // Implementation-specific: the version, and the config annotations sandbox acts on.
            w.WriteString("org.sandbox.version", version);
            w.WriteString(SandboxAnnotations.TimeoutMs, "the run's timeout in milliseconds");
            w.WriteString(SandboxAnnotations.PassEnvironment, "host environment variables passed to the process");
            w.WriteEndObject();
            w.WriteStartObject("linux");
            Strings(w, "namespaces", LinuxNames.NamespaceTypes);
            Strings(w, "capabilities", LinuxNames.Capabilities);
            w.WriteStartObject("cgroup");
            w.WriteBoolean("v1", true);
            w.WriteBoolean("v2", true);
            w.WriteBoolean("systemd", false);
            w.WriteBoolean("systemdUser", false);
            w.WriteBoolean("rdma", false);
            w.WriteEndObject();
            w.WriteStartObject("seccomp");
            w.WriteBoolean("enabled", true);
            Strings(w, "actions", SeccompAction.Names);
            Strings(w, "operators", SeccompCompiler.Operators);
            Strings(w, "archs", [SeccompArch.X86_64.Name, SeccompArch.Aarch64.Name]);
            Strings(w, "knownFlags", SeccompCompiler.Flags);
            Strings(w, "supportedFlags", SeccompCompiler.Flags);
            w.WriteEndObject();
            Enabled(w, "apparmor", false);
            Enabled(w, "selinux", false);
            Enabled(w, "intelRdt", false);
            w.WriteStartObject("mountExtensions");
            Enabled(w, "idmap", true);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }
        w.WriteEndArray();
    }

    private static void Enabled(Utf8JsonWriter w, string name, bool enabled)
    {
        w.WriteStartObject(name);
        w.WriteBoolean("enabled", enabled);
        w.WriteEndObject();
    }
}
