using System.Diagnostics;
using System.Runtime.InteropServices;
using Sandbox.Seccomp;

namespace Sandbox.Seccomp.Tests;

/// <summary>The generated table of this machine's architecture, checked against the C headers by the C compiler.</summary>
public class SyscallTableTests
{
    [Fact]
    public void Every_entry_of_the_native_table_matches_the_kernel_headers()
    {
        var arch = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? SeccompArch.Aarch64 : SeccompArch.X86_64;
        var dir = Directory.CreateTempSubdirectory("syscall-table-").FullName;
        try
        {
            var lines = string.Join("\n", arch.Table.Select(t => $"  printf(\"%s %ld\\n\", \"{t.Name}\", (long)__NR_{t.Name});"));
            File.WriteAllText(Path.Join(dir, "t.c"), $$"""
                #include <stdio.h>
                #include <asm/unistd.h>
                int main(void) {
                {{lines}}
                  return 0;
                }
                """);
            Run("cc", $"-o {dir}/t {dir}/t.c");
            var header = Run($"{dir}/t", "").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(p => p[0], p => int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
            foreach (var (name, number) in arch.Table)
            {
                Assert.True(header[name] == number, $"{name}: table {number}, header {header[name]}");
            }
            Assert.Equal(arch.Table.Max(t => t.Number), arch.Highest);
            Assert.Equal(arch.Table.Count, arch.Table.Select(t => t.Number).Distinct().Count());
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
