using System.Diagnostics;

namespace Sandbox.Seccomp.Tests;

/// <summary>Compiles a small C program with the system compiler, runs it, and returns its output lines.</summary>
internal static class CProgram
{
    public static string[] Output(string includes, IEnumerable<string> statements)
    {
        var dir = Directory.CreateTempSubdirectory("sandbox-c-").FullName;
        try
        {
            File.WriteAllText(Path.Join(dir, "p.c"), $"{includes}\nint main(void) {{\n{string.Join("\n", statements)}\n  return 0;\n}}\n");
            Run("cc", $"-o {dir}/p {dir}/p.c");
            return Run($"{dir}/p", "").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static string Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file}: {stderr}");
        return stdout;
    }
}
