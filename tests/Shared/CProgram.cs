using System.Diagnostics;

namespace Sandbox.Tests.Shared;

/// <summary>
/// Compiles a small C program with the system compiler and runs it: how the tests check what is declared by hand
/// against the C headers (the Tmds.LibC practice), and ask the headers for values. Linked into every test project.
/// </summary>
internal static class CProgram
{
    /// <summary>The output lines of a program made of <paramref name="includes"/> and a main() of <paramref name="statements"/>.</summary>
    /// <param name="arm64">Compile with the arm64 cross compiler, statically, and run it under qemu-aarch64
    /// (eng/install-deps.sh installs both on x86_64): the arm64 headers' values.</param>
    public static string[] Output(string includes, IEnumerable<string> statements, bool arm64 = false)
    {
        var dir = Directory.CreateTempSubdirectory("sandbox-c-").FullName;
        try
        {
            File.WriteAllText(Path.Join(dir, "p.c"), $"{includes}\nint main(void) {{\n{string.Join("\n", statements)}\n  return 0;\n}}\n");
            if (arm64)
            {
                Run("aarch64-linux-gnu-gcc", ["-static", "-o", Path.Join(dir, "p"), Path.Join(dir, "p.c")]);
                return Run("qemu-aarch64", [$"{dir}/p"]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            }
            Compile(Path.Join(dir, "p.c"), Path.Join(dir, "p"));
            return Run($"{dir}/p", []).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Each C expression's value as the headers give it (an unsigned 64-bit number), by its text.</summary>
    public static Dictionary<string, string> Values(IEnumerable<string> headers, IEnumerable<string> expressions, bool arm64 = false)
    {
        var includes = "#define _GNU_SOURCE\n" + string.Concat(headers.Select(h => $"#include <{h}>\n"));
        return Output(includes, expressions.Select(e => $"  printf(\"%s=%llu\\n\", \"{e}\", (unsigned long long)({e}));"), arm64)
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
    }

    /// <summary>cc SOURCE -o EXE with the flags given (e.g. -static for a program that runs in a container).</summary>
    public static void Compile(string source, string exe, params string[] flags) => Run("cc", [.. flags, "-o", exe, source]);

    private static string Run(string file, IEnumerable<string> args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {stderr}");
        return stdout;
    }
}
