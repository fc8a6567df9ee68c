using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sandbox.Spec;

namespace Sandbox.Bundles;

/// <summary>
/// The bundle's test.json, beside config.json: the spec's `test:` section as the test adapter reads it (a runsettings
/// `&lt;Sandbox&gt;` section overrides it there). It is not part of the bundle's digest, since it changes how tests are
/// run, not what the sandbox holds: a change of only the `test:` section rewrites this file and nothing else.
/// </summary>
internal static class TestSettingsFile
{
    public const string FileName = "test.json";

    /// <summary>
    /// <c>{"version":1,"source":…,"isolation":"class","parallel":4,"testTimeoutMs":30000,"timeoutMs":600000,"enabled":true,"allowUnsandboxed":false}</c>,
    /// or null for a spec without a `test:` section. Absent values: parallel 0, timeouts null.
    /// </summary>
    public static string? Serialize(SandboxSpec spec)
    {
        if (spec.Test is not { } test)
        {
            return null;
        }
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteNumber("version", 1);
            json.WriteString("source", spec.SourcePath);
            json.WriteString("isolation", test.Isolation switch
            {
                TestIsolation.Class => "class",
                TestIsolation.Test => "test",
                _ => "assembly",
            });
            json.WriteNumber("parallel", test.Parallel ?? 0);
            WriteMilliseconds(json, "testTimeoutMs", test.TestTimeout);
            WriteMilliseconds(json, "timeoutMs", test.Timeout);
            json.WriteBoolean("enabled", test.Enabled);
            json.WriteBoolean("allowUnsandboxed", test.AllowUnsandboxed);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    // Rounded up: a positive duration under a millisecond (500us is 0.5ms) must not become 0.
    private static void WriteMilliseconds(Utf8JsonWriter json, string name, TimeSpan? duration)
    {
        if (duration is { } d)
        {
            json.WriteNumber(name, (long)Math.Ceiling(d.TotalMilliseconds));
        }
        else
        {
            json.WriteNull(name);
        }
    }

    /// <summary>
    /// Makes <paramref name="bundleDir"/>'s test.json hold <paramref name="content"/>, or removes it for null. The
    /// content goes to a temporary file, flushed and renamed over the old one, so a reader (or a crash) never sees
    /// half a file. The old file is never read: a bundle that a writable mount holds could have it replaced by a FIFO.
    /// </summary>
    public static void Update(string bundleDir, string? content)
    {
        var path = Path.Combine(bundleDir, FileName);
        if (content is null)
        {
            File.Delete(path);
            return;
        }
        var tmp = Path.Combine(bundleDir, $".{FileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(Encoding.UTF8.GetBytes(content));
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
    }
}
