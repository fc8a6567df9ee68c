namespace Sandbox.Runtime;

/// <summary>Signal numbers and names as Linux numbers them on x86_64 and aarch64 (asm-generic/signal.h).</summary>
internal static class SignalNames
{
    private static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
        "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF",
        "WINCH", "IO", "PWR", "SYS",
    ];

    public static string Name(int signal) => signal > 0 && signal < Names.Length ? "SIG" + Names[signal] : $"SIGRT{signal}";

    /// <summary>A name (TERM, SIGTERM, RTMIN+2) or a number from 1 to 64.</summary>
    public static int Parse(string text)
    {
        if (int.TryParse(text, out var n) && n is > 0 and <= 64)
        {
            return n;
        }
        var name = text.ToUpperInvariant();
        name = name.StartsWith("SIG", StringComparison.Ordinal) ? name[3..] : name;
        var i = Array.IndexOf(Names, name);
        if (i > 0)
        {
            return i;
        }
        if (name.StartsWith("RTMIN", StringComparison.Ordinal))
        {
            var off = name.Length == 5 ? 0 : int.TryParse(name[5..], out var o) ? o : -1;
            if (off is >= 0 and <= 30)
            {
                return 34 + off;
            }
        }
        throw new SandboxException(ErrorCodes.SignalUnknown, $"unknown signal \"{text}\"", "use a name such as TERM or KILL, or a number from 1 to 64");
    }
}
