namespace SyscallTables;

/// <summary>
/// One table: the architecture, the header it is read from and the macros that architecture defines before
/// the header is read, and the generated file it is written to (relative to the repository root).
/// </summary>
internal sealed record TableSource(
    string Architecture,
    string MemberName,
    string HeaderPath,
    IReadOnlyList<(string Name, string Value)> Predefined,
    IReadOnlySet<string> IgnoredIncludes,
    string OutputPath);

internal static class TableSources
{
    public static IReadOnlyList<TableSource> All { get; } =
    [
        // The x86_64 header is already flat: one #define per system call, no x32 numbers (those are in unistd_x32.h).
        new(
            Architecture: "x86_64",
            MemberName: "X86_64",
            HeaderPath: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
            Predefined: [],
            IgnoredIncludes: new HashSet<string>(StringComparer.Ordinal),
            OutputPath: "src/Sandbox.Seccomp/SyscallTable.X86_64.g.cs"),

        // arm64 has no flat header in an x86_64 linux-libc-dev; its numbers are the generic ones as
        // arch/arm64/include/uapi/asm/unistd.h configures them, with asm/bitsperlong.h giving 64-bit longs.
        // __ARCH_WANT_TIME32_SYSCALLS stays undefined: on 64-bit it only guards calls kept anyway.
        new(
            Architecture: "aarch64",
            MemberName: "Aarch64",
            HeaderPath: "/usr/include/asm-generic/unistd.h",
            Predefined:
            [
                ("__BITS_PER_LONG", "64"),
                ("__ARCH_WANT_RENAMEAT", ""),
                ("__ARCH_WANT_NEW_STAT", ""),
                ("__ARCH_WANT_SET_GET_RLIMIT", ""),
                ("__ARCH_WANT_SYS_CLONE3", ""),
                ("__ARCH_WANT_MEMFD_SECRET", ""),
            ],
            IgnoredIncludes: new HashSet<string>(StringComparer.Ordinal) { "<asm/bitsperlong.h>" },
            OutputPath: "src/Sandbox.Seccomp/SyscallTable.Aarch64.g.cs"),
    ];
}
