using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml;

namespace Sandbox.TestAdapter;

/// <summary>
/// The settings of one test assembly's run. Sources, weakest first: the defaults; the `test:` section of the project's
/// sandbox.yaml (which `sandbox build` writes to the bundle's test.json); the `&lt;Sandbox&gt;` section of the merged
/// runsettings (a file, or `dotnet test -- Sandbox.Isolation=test`, which vstest turns into the same nested
/// elements); `SANDBOX_DISABLE=1`; and the project's SandboxEnabled=false.
/// </summary>
internal sealed record SandboxSettings(
    bool Enabled, string? DisabledBy, string Isolation, int Parallel, TimeSpan? TestTimeout, TimeSpan? Timeout, bool AllowUnsandboxed)
{
    /// <summary>Why tests that should have been sandboxed run unsandboxed (AllowUnsandboxed on a host that cannot
    /// make sandboxes): every result says so.</summary>
    public string? Fallback { get; init; }

    /// <summary>The assembly's manifest, read once when its settings were resolved (null when it has none: starting a sandbox then says so).</summary>
    public SandboxManifest? Manifest { get; init; }

    public static readonly string[] Isolations = ["assembly", "class", "test"];

    /// <summary>The file the package's targets write beside the hidden adapters when the project sets SandboxEnabled=false.</summary>
    public static string DisabledMarker(string source) => Path.Combine(Path.GetDirectoryName(source) ?? ".", ".sandbox", "disabled");

    /// <summary>How many sandboxes run at once when nothing says: one per CPU this process may use.</summary>
    public int EffectiveParallel => Parallel > 0 ? Parallel : Math.Max(1, Environment.ProcessorCount);
}

/// <summary>
/// What a run's runsettings and environment say (each null when unsaid); <see cref="For"/> merges them over a test
/// assembly's sandbox.yaml settings.
/// </summary>
internal sealed record RunSandboxSettings(
    bool? Enabled, string? DisabledBy, string? Isolation, int? Parallel, TimeSpan? TestTimeout, TimeSpan? Timeout, bool? AllowUnsandboxed)
{
    public static RunSandboxSettings Parse(string? settingsXml, Func<string, string?> environment)
    {
        XmlNode? section = null;
        if (!string.IsNullOrWhiteSpace(settingsXml))
        {
            var doc = new XmlDocument { XmlResolver = null };
            try
            {
                using var reader = XmlReader.Create(new StringReader(settingsXml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit });
                doc.Load(reader);
            }
            catch (XmlException e)
            {
                throw Bad("the runsettings", e.Message, "fix the runsettings file");
            }
            section = doc.SelectSingleNode("/RunSettings/Sandbox");
        }
        string? Value(string name) => section?.SelectSingleNode(name)?.InnerText.Trim() is { Length: > 0 } v ? v : null;
        return From(Value, RunSettingsSyntax, environment, "the runsettings' Sandbox.Enabled=false");
    }

    /// <summary>How a runsettings value is written on `dotnet test`'s command line: Sandbox.Isolation=test.</summary>
    public static readonly Func<string, string, string> RunSettingsSyntax = (name, value) => $"Sandbox.{name}={value}";

    /// <summary>
    /// The settings that <paramref name="value"/> gives by runsettings name (Enabled, Isolation, Parallel, TestTimeout,
    /// Timeout, AllowUnsandboxed; null when unsaid), checked; a wrong value is SBX5026 naming the setting as
    /// <paramref name="syntax"/> writes it (runsettings, or Microsoft.Testing.Platform's command-line options).
    /// </summary>
    public static RunSandboxSettings From(Func<string, string?> value, Func<string, string, string> syntax, Func<string, string?> environment, string disabledBySetting)
    {
        string Name(string setting) => syntax(setting, "").TrimEnd('=', ' ');
        var enabled = Bool(value("Enabled"), "Enabled", syntax);
        var isolation = value("Isolation")?.ToLowerInvariant();
        if (isolation is not null && !SandboxSettings.Isolations.Contains(isolation))
        {
            throw Bad(Name("Isolation"), $"'{value("Isolation")}' is not an isolation", "use assembly, class or test");
        }
        int? parallel = null;
        if (value("Parallel") is { } p)
        {
            parallel = int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n
                : throw Bad(Name("Parallel"), $"'{p}' is not a positive whole number", $"give how many sandboxes may run at once, e.g. {syntax("Parallel", "4")}");
        }
        var testTimeout = Duration(value("TestTimeout"), "TestTimeout", syntax);
        var timeout = Duration(value("Timeout"), "Timeout", syntax);
        var allow = Bool(value("AllowUnsandboxed"), "AllowUnsandboxed", syntax);

        string? disabledBy = null;
        if (environment("SANDBOX_DISABLE") is "1" or "true")
        {
            (enabled, disabledBy) = (false, "SANDBOX_DISABLE=1");
        }
        else if (enabled == false)
        {
            disabledBy = disabledBySetting;
        }
        return new(enabled, disabledBy, isolation, parallel, testTimeout, timeout, allow);
    }

    /// <summary>The settings for one test assembly: these over its sandbox.yaml's `test:` section, and off when the project was built with SandboxEnabled=false.</summary>
    public SandboxSettings For(string source, ProjectTestSettings? project)
    {
        var settings = new SandboxSettings(
            Enabled ?? project?.Enabled ?? true,
            DisabledBy ?? (project?.Enabled == false ? $"enabled: false in {project.Source}" : null),
            Isolation ?? project?.Isolation ?? "assembly",
            Parallel ?? project?.Parallel ?? 0,
            TestTimeout ?? project?.TestTimeout,
            Timeout ?? project?.Timeout,
            AllowUnsandboxed ?? project?.AllowUnsandboxed ?? false);
        return settings.Enabled && File.Exists(SandboxSettings.DisabledMarker(source))
            ? settings with { Enabled = false, DisabledBy = "the MSBuild property SandboxEnabled=false" }
            : settings;
    }

    /// <summary>
    /// One test assembly's settings, with what they mean decided once: the project's sandbox.yaml `test:` section
    /// under these, and whether this host can make sandboxes at all. On a host that cannot, an
    /// <see cref="AdapterException"/> (SBX5027) naming <paramref name="allowHint"/>, the way to allow unsandboxed runs
    /// from the command line where there is one, or, with AllowUnsandboxed, settings that run unsandboxed and the SBX5028 warning
    /// passed to <paramref name="warn"/>.
    /// </summary>
    public SandboxSettings Resolve(string source, string? allowHint, Action<string> warn)
    {
        var manifest = File.Exists(SandboxManifest.PathFor(source)) ? SandboxManifest.Read(source) : null;
        var settings = For(source, Enabled == false || manifest is null ? null : ProjectTestSettings.Read(manifest.Bundle)) with { Manifest = manifest };
        if (settings.Enabled && manifest is not null && HostCheck.Problem(manifest.Sandbox) is { } problem)
        {
            if (!settings.AllowUnsandboxed)
            {
                throw new AdapterException(AdapterErrors.HostCannotSandbox, $"{Path.GetFileName(source)} cannot run in a sandbox on this host: {problem}. "
                    + $"To run its tests unsandboxed here instead, with a warning on every result: {(allowHint is null ? "" : allowHint + ", or ")}allowUnsandboxed: true in the test: section of sandbox.yaml");
            }
            warn($"{AdapterErrors.RanUnsandboxed}: {Path.GetFileName(source)} runs UNSANDBOXED (AllowUnsandboxed): {problem}");
            return settings with { Enabled = false, DisabledBy = "AllowUnsandboxed on a host that cannot make sandboxes", Fallback = problem };
        }
        return settings;
    }

    private static bool? Bool(string? text, string name, Func<string, string, string> syntax) => text?.ToLowerInvariant() switch
    {
        null => null,
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw Bad(syntax(name, "").TrimEnd('=', ' '), $"'{text}' is not true or false", $"write {syntax(name, "true")} or {syntax(name, "false")}"),
    };

    private static TimeSpan? Duration(string? text, string name, Func<string, string, string> syntax) =>
        text is null ? null
        : Durations.TryParse(text, out var d) ? d
        : throw Bad(syntax(name, "").TrimEnd('=', ' '), $"'{text}' is not a duration", $"write e.g. {syntax(name, "30s")}, 1m30s, 500ms or 2.5 (seconds)");

    private static AdapterException Bad(string what, string problem, string fix) =>
        new(AdapterErrors.BadSetting, $"{what}: {problem}: {fix}");
}

/// <summary>The `test:` section of a project's sandbox.yaml, as `sandbox build` writes it to the bundle's test.json.</summary>
internal sealed record ProjectTestSettings(string Source, bool? Enabled, string? Isolation, int? Parallel, TimeSpan? TestTimeout, TimeSpan? Timeout, bool? AllowUnsandboxed)
{
    public const string FileName = "test.json";

    /// <summary>The bundle's test.json, or null when the spec has no `test:` section.</summary>
    public static ProjectTestSettings? Read(string bundle)
    {
        var path = Path.Combine(bundle, FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var r = doc.RootElement;
            JsonElement? Get(string name) => r.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
            TimeSpan? Ms(string name) => Get(name) is { } v ? TimeSpan.FromMilliseconds(v.GetDouble()) : null;
            var isolation = Get("isolation")?.GetString();
            if (isolation is not null && !SandboxSettings.Isolations.Contains(isolation))
            {
                throw new FormatException($"isolation '{isolation}'");
            }
            return new(
                Get("source")?.GetString() ?? path,
                Get("enabled")?.GetBoolean(),
                isolation,
                Get("parallel") is { } p && p.GetInt32() > 0 ? p.GetInt32() : null,
                Ms("testTimeoutMs"),
                Ms("timeoutMs"),
                Get("allowUnsandboxed")?.GetBoolean());
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException or FormatException)
        {
            throw new AdapterException(AdapterErrors.BadBundle, $"cannot read {path} ({e.Message}): rebuild the test project");
        }
    }
}

/// <summary>Durations as `sandbox run --timeout` takes them: 30s, 1m30s, 500ms, 1h, or a plain number of seconds.</summary>
internal static partial class Durations
{
    [GeneratedRegex(@"^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$", RegexOptions.CultureInvariant)]
    private static partial Regex Units();

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
        {
            value = TimeSpan.FromSeconds(seconds);
            return seconds > 0;
        }
        var m = Units().Match(text);
        if (!m.Success)
        {
            return false;
        }
        var total = 0.0;
        for (var i = 0; i < m.Groups[1].Captures.Count; i++)
        {
            var n = double.Parse(m.Groups[1].Captures[i].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Captures[i].Value switch { "ms" => n, "s" => n * 1e3, "m" => n * 60e3, _ => n * 3600e3 };
        }
        value = TimeSpan.FromMilliseconds(total);
        return total > 0;
    }

    /// <summary>A duration as `sandbox run --timeout` reads it.</summary>
    public static string ForCommandLine(TimeSpan value) => ((long)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";

    /// <summary>For people: 30 s, 2 min 5 s, 750 ms.</summary>
    public static string Describe(TimeSpan value) =>
        value.TotalSeconds < 1 ? $"{value.TotalMilliseconds:0} ms"
        : value.TotalMinutes < 1 ? $"{value.TotalSeconds:0.##} s"
        : $"{(int)value.TotalMinutes} min{(value.Seconds > 0 ? $" {value.Seconds} s" : "")}";
}
