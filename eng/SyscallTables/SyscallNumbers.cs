namespace SyscallTables;

/// <summary>One system call: its name without the <c>__NR_</c> prefix, and its number.</summary>
internal sealed record Syscall(string Name, int Number);

/// <summary>Picks the system calls out of the macros a unistd header leaves defined.</summary>
internal static class SyscallNumbers
{
    // The helper names (__NR3264_fcntl and the like) do not start with this prefix, so only the final names count.
    private const string Prefix = "__NR_";

    // x32 numbers carry this bit (__X32_SYSCALL_BIT); none belong in the x86_64 or aarch64 table.
    private const long X32SyscallBit = 0x40000000;

    // __NR_ macros that are not system calls: the size of the table, and where an architecture's own
    // numbers would start in the generic layout (arm64 defines none there).
    private static readonly HashSet<string> NotSyscalls = new(StringComparer.Ordinal)
    {
        "__NR_syscalls",
        "__NR_arch_specific_syscall",
    };

    /// <summary>The system calls in <paramref name="macros"/>, by number, then by name.</summary>
    public static IReadOnlyList<Syscall> From(string path, IReadOnlyDictionary<string, Macro> macros)
    {
        var syscalls = new List<Syscall>();
        foreach (var macro in macros.Values)
        {
            if (!macro.Name.StartsWith(Prefix, StringComparison.Ordinal) || NotSyscalls.Contains(macro.Name))
            {
                continue;
            }

            long number;
            try
            {
                number = MacroExpression.Evaluate(macro.Body, macros, UndefinedNames.AreErrors);
            }
            catch (HeaderException e)
            {
                throw new HeaderException($"{path}:{macro.Line}: {macro.Name}: {e.Message}", e);
            }

            if (number is < 0 or >= X32SyscallBit)
            {
                throw new HeaderException($"{path}:{macro.Line}: {macro.Name} is {number}, outside the native system call numbers");
            }

            syscalls.Add(new Syscall(macro.Name[Prefix.Length..], (int)number));
        }

        syscalls.Sort((a, b) => a.Number != b.Number ? a.Number.CompareTo(b.Number) : string.CompareOrdinal(a.Name, b.Name));

        // A number under two names would make name-to-number lookups ambiguous; no header has done it yet.
        var shared = syscalls.GroupBy(s => s.Number).Where(g => g.Count() > 1).ToList();
        if (shared.Count > 0)
        {
            var described = shared.Select(g => $"{g.Key} ({string.Join(", ", g.Select(s => s.Name))})");
            throw new HeaderException($"{path}: numbers with more than one name: {string.Join("; ", described)}");
        }

        return syscalls.Count > 0 ? syscalls : throw new HeaderException($"{path}: no __NR_ macros");
    }
}
