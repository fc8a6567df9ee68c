using System.Xml;

namespace Sandbox.TestAdapter;

/// <summary>
/// The `&lt;Sandbox&gt;` section of the merged runsettings (a file, or `dotnet test -- Sandbox.Enabled=false`, which
/// vstest turns into the same nested elements), and `SANDBOX_DISABLE=1`.
/// </summary>
internal sealed record SandboxSettings(bool Enabled, string? DisabledBy, string Isolation, string? Timeout)
{
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
