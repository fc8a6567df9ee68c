using System.Globalization;
using System.Text;
using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.Runtime;

/// <summary>
/// Where sandbox's own messages go. Without the global `--log FILE`: stderr. With it, as runc does, warnings and
/// notes go to that file only (podman's conmon passes `--log` and turns the runtime's stderr into the container's
/// output), and an error goes to both. `--log-format json` writes one object per line
/// (`{"level":"warning","msg":"...","time":"..."}`), `text` (the default) one `time="..." level=... msg="..."` line.
/// A log that cannot be written is left, not fatal: the message then goes to stderr.
/// </summary>
internal static class RuntimeLog
{
    private static string? _path;
    private static bool _json;

    /// <summary>Warnings and notes, a line each ("sandbox: warning: ..." is a warning, "sandbox: SBXnnnn: ..." an error).</summary>
    public static TextWriter Warnings { get; private set; } = FdWriter.Error;

    public static void Configure(string? path, string? format)
    {
        if (format is not (null or "" or "text" or "json"))
        {
            throw new SandboxException(ErrorCodes.Usage, $"--log-format {format}: not a log format", "use --log-format text or --log-format json");
        }
        _json = format == "json";
        if (string.IsNullOrEmpty(path))
        {
            return;
        }
        _path = Path.GetFullPath(path);
        Warnings = new LineWriter();
    }

    /// <summary>An error sandbox ends with: to stderr always, and to the log when there is one.</summary>
    public static void Error(string code, string message, string? hint)
    {
        FdWriter.Error.WriteLine($"sandbox: {code}: {message}");
        if (hint is not null)
        {
            FdWriter.Error.WriteLine($"  hint: {hint}");
        }
        if (_path is not null)
        {
            Append("error", $"{code}: {message}" + (hint is null ? "" : $" (hint: {hint})"));
        }
    }

    /// <summary>An error that is a listing of located problems (<see cref="SandboxException.Located"/>): to stderr as it is, and to the log when there is one.</summary>
    public static void Listing(string lines)
    {
        FdWriter.Error.WriteLine(lines);
        if (_path is not null)
        {
            Append("error", lines);
        }
    }

    /// <summary>One log record, in the chosen format.</summary>
    internal static string Format(string level, string message, DateTime time, bool json)
    {
        var stamp = time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
        if (!json)
        {
            return $"time=\"{stamp}\" level={level} msg={Quote(message)}\n";
        }
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonWriting.Options()))
        {
            w.WriteStartObject();
            w.WriteString("level", level);
            w.WriteString("msg", message);
            w.WriteString("time", stamp);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static string Quote(string s) =>
        "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "\"";

    private static void Append(string level, string message)
    {
        try
        {
            File.AppendAllText(_path!, Format(level, message, DateTime.UtcNow, _json));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            FdWriter.Error.WriteLine($"sandbox: warning: --log {_path}: {e.Message}; the message follows here");
            FdWriter.Error.WriteLine($"sandbox: {level}: {message}");
        }
    }

    /// <summary>Takes the lines Lifecycle and the planner write to stderr without a log, and logs them.</summary>
    private sealed class LineWriter : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => Write(value.ToString());

        public override void Write(string? value)
        {
            foreach (var line in (value ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var text = line.StartsWith("sandbox: ", StringComparison.Ordinal) ? line["sandbox: ".Length..] : line;
                var level = "info";
                if (text.StartsWith("warning: ", StringComparison.Ordinal))
                {
                    (level, text) = ("warning", text["warning: ".Length..]);
                }
                else if (text.StartsWith("SBX", StringComparison.Ordinal))
                {
                    level = "error";
                }
                Append(level, text);
            }
        }

        public override void WriteLine(string? value) => Write(value + "\n");
    }
}
