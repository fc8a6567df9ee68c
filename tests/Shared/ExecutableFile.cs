using System.Diagnostics;

namespace Sandbox.Tests.Shared;

/// <summary>
/// Puts an executable in place through a child process (`install -m 0755`), so that no descriptor open for writing
/// on it ever exists in the test process. Tests run in parallel and start processes all the time: a file this
/// process wrote could be open in a child forked at that moment, and exec of it then fails with ETXTBSY ("Text file
/// busy") until that child execs. Linked into every test project.
/// </summary>
internal static class ExecutableFile
{
    /// <summary>Writes a script (or any text) to <paramref name="path"/> with the given mode.</summary>
    public static void Write(string path, string text, UnixFileMode mode = (UnixFileMode)0x1ed)
    {
        var source = path + ".text";
        File.WriteAllText(source, text);
        try
        {
            Copy(source, path, mode);
        }
        finally
        {
            File.Delete(source);
        }
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="path"/> with the given mode.</summary>
    public static void Copy(string source, string path, UnixFileMode mode = (UnixFileMode)0x1ed)
    {
        using var p = Process.Start(new ProcessStartInfo("install", ["-m", Convert.ToString((int)mode, 8), source, path]) { RedirectStandardError = true })!;
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"install {source} {path}: {stderr}");
    }
}
