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
        var header = CProgram.Output("#include <stdio.h>\n#include <asm/unistd.h>",
                arch.Table.Select(t => $"  printf(\"%s %ld\\n\", \"{t.Name}\", (long)__NR_{t.Name});"))
            .Select(l => l.Split(' ')).ToDictionary(p => p[0], p => int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (name, number) in arch.Table)
        {
            Assert.True(header[name] == number, $"{name}: table {number}, header {header[name]}");
        }
        Assert.Equal(arch.Table.Max(t => t.Number), arch.Highest);
        Assert.Equal(arch.Table.Count, arch.Table.Select(t => t.Number).Distinct().Count());
    }
}
