using System.Xml;

namespace Sandbox.TestAdapter;

/// <summary>
/// The `&lt;Sandbox&gt;` section of the merged runsettings (a file, or `dotnet test -- Sandbox.Enabled=false`, which
/// vstest turns into the same nested elements), `SANDBOX_DISABLE=1`, and per test assembly the project's
/// SandboxEnabled=false (<see cref="For"/>).
/// </summary>
internal sealed record SandboxSettings(bool Enabled, string? DisabledBy, string Isolation, string? Timeout)
{
    /// <summary>The file the package's targets write beside the hidden adapters when the project sets SandboxEnabled=false.</summary>
    public static string DisabledMarker(string source) => Path.Combine(Path.GetDirectoryName(source) ?? ".", ".sandbox", "disabled");

    /// <summary>The settings for one source: as <see cref="Parse"/>, and off when the project was built with SandboxEnabled=false.</summary>
    public SandboxSettings For(string source) =>
        Enabled && File.Exists(DisabledMarker(source)) ? this with { Enabled = false, DisabledBy = "the MSBuild property SandboxEnabled=false" } : this;

    public static SandboxSettings Parse(string? settingsXml, Func<string, string?> environment)
    {
        string? enabled = null, isolation = null, timeout = null;
        if (!string.IsNullOrWhiteSpace(settingsXml))
        {
            var doc = new XmlDocument { XmlResolver = null };
            using (var reader = XmlReader.Create(new StringReader(settingsXml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit }))
            {
                doc.Load(reader);
            }
            var section = doc.SelectSingleNode("/RunSettings/Sandbox");
            enabled = section?.SelectSingleNode("Enabled")?.InnerText.Trim();
            isolation = section?.SelectSingleNode("Isolation")?.InnerText.Trim();
            timeout = section?.SelectSingleNode("Timeout")?.InnerText.Trim();
        }
        var disable = environment("SANDBOX_DISABLE");
        if (disable is "1" or "true")
        {
            return new(false, "SANDBOX_DISABLE=1", Normalize(isolation), timeout);
        }
        if (string.Equals(enabled, "false", StringComparison.OrdinalIgnoreCase))
        {
            return new(false, "the runsettings' Sandbox.Enabled=false", Normalize(isolation), timeout);
        }
        return new(true, null, Normalize(isolation), string.IsNullOrEmpty(timeout) ? null : timeout);
    }

    private static string Normalize(string? isolation) => string.IsNullOrEmpty(isolation) ? "assembly" : isolation.ToLowerInvariant();
}
