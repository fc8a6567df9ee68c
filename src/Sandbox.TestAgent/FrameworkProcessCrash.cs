using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;

namespace Sandbox.TestAgent;

/// <summary>
/// A test process the framework's adapter started and lost: xunit v3's adapter runs the test project's executable as
/// a child (inside the sandbox too), and when that child ends without finishing (Environment.FailFast, a stack
/// overflow, the OOM killer) the adapter survives it and only says so, at error level ("Test process crashed with exit
/// code 134." after waiting for the child's last messages, the project's crashDetectionSinkTimeout, 60 s by default),
/// reporting no result for the tests that child was running. The agent then ends as if the crash had been its own
/// (no `done`, the child's exit code), so the host attributes it and runs the rest again, as for any other crash.
/// </summary>
internal sealed partial record FrameworkProcessCrash(string Message, int ExitCode)
{
    // xunit.v3.runner.utility's CrashDetectionSinkBase: "Test process crashed with exit code {0}." or, with no exit
    // code known, "Test process crashed or communication channel was lost."
    [GeneratedRegex(@"Test process crashed(?: with exit code (?<code>-?\d+))?", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>The crash a framework's log message reports, or null.</summary>
    public static FrameworkProcessCrash? From(TestMessageLevel level, string? message)
    {
        if (level != TestMessageLevel.Error || message is null || Pattern().Match(message) is not { Success: true } m)
        {
            return null;
        }
        // An exit code a process cannot have on Linux (a negative one, or above 255) is reported as 1.
        var code = m.Groups["code"].Success && int.TryParse(m.Groups["code"].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var c)
            && c is >= 0 and <= 255 ? c : 1;
        return new(message.Trim(), code);
    }
}
