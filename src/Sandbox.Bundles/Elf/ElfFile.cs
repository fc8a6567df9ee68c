using System.Buffers.Binary;
using System.Text;

namespace Sandbox.Bundles.Elf;

/// <summary>What the dynamic loader needs to know about a 64-bit little-endian ELF file (x86_64, aarch64).</summary>
internal sealed record ElfFile(
    ushort Machine, string? Interpreter, IReadOnlyList<string> Needed, IReadOnlyList<string> RPath, IReadOnlyList<string> RunPath, string? Soname)
{
    public const ushort MachineX64 = 62, MachineAarch64 = 183;

    private const int PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3;
    private const long DT_NULL = 0, DT_NEEDED = 1, DT_STRTAB = 5, DT_STRSZ = 10, DT_SONAME = 14, DT_RPATH = 15, DT_RUNPATH = 29;

    /// <summary>
    /// Reads the file's headers; null when it is not a 64-bit little-endian ELF file (a script, a text file).
    /// Only the parts the loader reads are read (headers, dynamic segment, string table), not the whole file:
    /// the .NET runtime's libraries add up to tens of megabytes, and a warm bundle build must stay fast.
    /// </summary>
    public static ElfFile? TryRead(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path);
            var length = RandomAccess.GetLength(handle);
            var head = new byte[(int)Math.Min(length, 64 * 1024)];
            var n = RandomAccess.Read(handle, head, 0);
            var parsed = TryParse(head.AsSpan(0, n), length, (offset, size) =>
            {
                var buf = new byte[size];
                return RandomAccess.Read(handle, buf, offset) == size ? buf : null;
            });
            return parsed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Parses a whole file held in memory (tests, fuzzing).</summary>
    public static ElfFile? TryParse(byte[] data) =>
        TryParse(data, data.Length, (offset, size) => offset + size <= data.Length ? data.AsSpan((int)offset, size).ToArray() : null);

    /// <summary>Parses ELF headers defensively: a truncated or hostile file yields null, never an exception.</summary>
    private static ElfFile? TryParse(ReadOnlySpan<byte> d, long fileLength, Func<long, int, byte[]?> readAt)
    {
        if (d.Length < 64 || d[0] != 0x7f || d[1] != (byte)'E' || d[2] != (byte)'L' || d[3] != (byte)'F' || d[4] != 2 || d[5] != 1)
        {
            return null;
        }
        var machine = BinaryPrimitives.ReadUInt16LittleEndian(d[18..]);
        var phoff = BinaryPrimitives.ReadInt64LittleEndian(d[32..]);
        var phentsize = BinaryPrimitives.ReadUInt16LittleEndian(d[54..]);
        var phnum = BinaryPrimitives.ReadUInt16LittleEndian(d[56..]);
        if (phoff <= 0 || phentsize < 56 || phoff + (long)phentsize * phnum > d.Length)
        {
            return null; // program headers sit right after the ELF header in every file the toolchains make
        }
        string? interp = null;
        long dynOff = -1, dynSize = 0;
        var loads = new List<(ulong Vaddr, ulong Offset, ulong Size)>();
        for (var i = 0; i < phnum; i++)
        {
            var ph = d.Slice((int)(phoff + (long)i * phentsize), phentsize);
            var type = BinaryPrimitives.ReadUInt32LittleEndian(ph);
            var offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
            var vaddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]);
            var filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
            if (offset > (ulong)fileLength || filesz > (ulong)fileLength - offset)
            {
                return null;
            }
            switch (type)
            {
                case PT_LOAD:
                    loads.Add((vaddr, offset, filesz));
                    break;
                case PT_INTERP when filesz < 4096:
                    interp = readAt((long)offset, (int)filesz) is { } ib ? CString(ib, 0) : null;
                    break;
                case PT_DYNAMIC:
                    dynOff = (long)offset;
                    dynSize = (long)filesz;
                    break;
            }
        }
        var needed = new List<string>();
        var rpath = new List<string>();
        var runpath = new List<string>();
        string? soname = null;
        if (dynOff < 0)
        {
            return new ElfFile(machine, interp, needed, rpath, runpath, soname); // static
        }
        if (dynSize > 1 << 20 || readAt(dynOff, (int)dynSize) is not { } dyn)
        {
            return null;
        }
        ulong strtabVaddr = 0, strsz = 0;
        var entries = new List<(long Tag, ulong Value)>();
        for (var p = 0; p + 16 <= dyn.Length; p += 16)
        {
            var tag = BinaryPrimitives.ReadInt64LittleEndian(dyn.AsSpan(p));
            var val = BinaryPrimitives.ReadUInt64LittleEndian(dyn.AsSpan(p + 8));
            if (tag == DT_NULL)
            {
                break;
            }
            entries.Add((tag, val));
            if (tag == DT_STRTAB)
            {
                strtabVaddr = val;
            }
            else if (tag == DT_STRSZ)
            {
                strsz = val;
            }
        }
        var strtab = ToOffset(loads, strtabVaddr);
        if (strtab is null || strsz > 16 << 20 || strtab.Value + strsz > (ulong)fileLength || readAt((long)strtab.Value, (int)strsz) is not { } table)
        {
            return null;
        }
        foreach (var (tag, val) in entries)
        {
            if (val >= strsz)
            {
                continue;
            }
            var s = CString(table, (int)val);
            switch (tag)
            {
                case DT_NEEDED:
                    needed.Add(s);
                    break;
                case DT_SONAME:
                    soname = s;
                    break;
                case DT_RPATH:
                    rpath.AddRange(s.Split(':', StringSplitOptions.RemoveEmptyEntries));
                    break;
                case DT_RUNPATH:
                    runpath.AddRange(s.Split(':', StringSplitOptions.RemoveEmptyEntries));
                    break;
            }
        }
        return new ElfFile(machine, interp, needed, rpath, runpath, soname);
    }

    private static ulong? ToOffset(List<(ulong Vaddr, ulong Offset, ulong Size)> loads, ulong vaddr)
    {
        foreach (var (v, o, s) in loads)
        {
            if (vaddr >= v && vaddr < v + s)
            {
                return vaddr - v + o;
            }
        }
        return null;
    }

    private static string CString(ReadOnlySpan<byte> table, int start)
    {
        var rest = table[start..];
        var end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }
}
