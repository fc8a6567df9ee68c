using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Sandbox.Oci;
using Sandbox.Seccomp;
using Tmds.Linux;
using Libc = Sandbox.Runtime.Interop.Libc;

namespace Sandbox.Runtime;

/// <summary>
/// Compiled seccomp filters kept in the state root's <see cref="DirectoryName"/>, so that a run of a profile compiled
/// before loads the filter instead of compiling it again (about 2.6 ms for `default` with a report, which compiles two
/// programs). An entry is found by an FNV-1a hash of its key but used only when its key equals the run's byte for byte:
/// the profile's exact source (<see cref="OciSeccomp.Source"/>), the record flag, the JSON path, the architecture and
/// the identity of the running `sandbox` (device, inode, size, modification time of /proc/self/exe). A profile of a
/// stranger's therefore never yields another profile's filter, whatever it hashes to; a rebuilt `sandbox` never reads
/// an older build's entries. An entry that is malformed, not this user's, or writable by others is ignored and
/// replaced; a cache that cannot be written leaves the run as it was, compiled.
/// </summary>
internal sealed unsafe class SeccompFilterCache(string directory)
{
    /// <summary>The cache's directory in the state root: a name no container id can take (ids start with a letter or digit).</summary>
    public const string DirectoryName = ".seccomp-cache";

    /// <summary>No entry is read or written beyond this: two programs of <see cref="SeccompCompiler.MaxInstructions"/> are 64 KiB.</summary>
    public const int MaxEntryBytes = 256 * 1024;

    /// <summary>Entries kept; writing one more removes the oldest.</summary>
    public const int MaxEntries = 32;

    private const int MaxWarnings = 65536;

    /// <summary>The format's magic and version: a change of layout changes it.</summary>
    private static ReadOnlySpan<byte> Magic => "SBXSECC\u0001"u8;

    /// <summary>The filter flags an entry may carry: those a profile names (TSYNC, LOG, SPEC_ALLOW, WAIT_KILLABLE_RECV) and NEW_LISTENER.</summary>
    private const uint KnownFlags = 1 | 2 | 4 | 8 | 32;

    private const uint NewListener = 8;

    public string Directory { get; } = directory;

    public static SeccompFilterCache In(string stateRoot) => new(Path.Combine(stateRoot, DirectoryName));

    /// <summary><see cref="SeccompCompiler.Compile"/>, from the cache when this profile was compiled before.</summary>
    public CompiledFilter Compile(OciSeccomp profile, string jsonPath, bool record)
    {
        if (Key(profile, jsonPath, record) is not { } key)
        {
            return SeccompCompiler.Compile(profile, jsonPath, record);
        }
        var name = Name(key);
        if (Load(name, key) is { } cached)
        {
            return cached;
        }
        var compiled = SeccompCompiler.Compile(profile, jsonPath, record); // errors throw: they are never cached
        Store(name, key, compiled);
        return compiled;
    }

    /// <summary>The entry's path for this profile (tests look at it), or null when the profile has no source.</summary>
    internal string? EntryPath(OciSeccomp profile, string jsonPath, bool record) =>
        Key(profile, jsonPath, record) is { } key ? Path.Combine(Directory, Name(key)) : null;

    /// <summary>The cached filter of this profile, or null when there is none that may be used.</summary>
    internal CompiledFilter? Load(OciSeccomp profile, string jsonPath, bool record) =>
        Key(profile, jsonPath, record) is { } key ? Load(Name(key), key) : null;

    /// <summary>What the compiled filter depends on besides the compiler: null when the profile's source is unknown.</summary>
    private static byte[]? Key(OciSeccomp profile, string jsonPath, bool record)
    {
        if (profile.Source is not { } source || ExecutableIdentity is not { } exe)
        {
            return null;
        }
        var w = new ArrayBufferWriter<byte>(source.Length + 128);
        w.Write(Magic);
        w.Write(exe);
        w.Write([record ? (byte)1 : (byte)0]);
        // The architecture a profile without `architectures` is compiled for: Compile's one fact about the host.
        WriteBytes(w, Encoding.UTF8.GetBytes(SeccompArch.Native.Name));
        WriteBytes(w, Encoding.UTF8.GetBytes(jsonPath));
        WriteBytes(w, source);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>FNV-1a 64 over the key: it names the file; the key itself, stored in it, is what is compared.</summary>
    private static string Name(ReadOnlySpan<byte> key)
    {
        var hash = 0xcbf29ce484222325UL;
        foreach (var b in key)
        {
            hash = (hash ^ b) * 0x100000001b3UL;
        }
        return hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>st_dev, st_ino, st_size and st_mtime (with nanoseconds) of the running executable; null if unreadable.</summary>
    private static readonly byte[]? ExecutableIdentity = ReadExecutableIdentity();

    private static byte[]? ReadExecutableIdentity()
    {
        statx st;
        fixed (byte* p = "/proc/self/exe\0"u8)
        {
            if (LibC.statx(LibC.AT_FDCWD, p, 0, LibC.STATX_INO | LibC.STATX_SIZE | LibC.STATX_MTIME, &st) != 0)
            {
                return null;
            }
        }
        var id = new byte[36];
        BinaryPrimitives.WriteUInt32LittleEndian(id, st.stx_dev_major);
        BinaryPrimitives.WriteUInt32LittleEndian(id.AsSpan(4), st.stx_dev_minor);
        BinaryPrimitives.WriteUInt64LittleEndian(id.AsSpan(8), st.stx_ino);
        BinaryPrimitives.WriteUInt64LittleEndian(id.AsSpan(16), st.stx_size);
        BinaryPrimitives.WriteInt64LittleEndian(id.AsSpan(24), st.stx_mtime.tv_sec);
        BinaryPrimitives.WriteUInt32LittleEndian(id.AsSpan(32), st.stx_mtime.tv_nsec);
        return id;
    }

    // The entry: the key, then flags (u32), usesNotify and inspectsAddresses (a byte each), the program, whether a profile
    // program follows (a byte) and it, the warnings (a u32 count of u32-length UTF-8 strings). Little-endian throughout.

    internal static byte[] Encode(ReadOnlySpan<byte> key, CompiledFilter f)
    {
        var w = new ArrayBufferWriter<byte>(key.Length + 16 + (8 * (f.Program.Length + (f.Profile?.Length ?? 0))));
        w.Write(key);
        WriteUInt32(w, f.Flags);
        w.Write([f.UsesNotify ? (byte)1 : (byte)0, f.InspectsAddresses ? (byte)1 : (byte)0]);
        WriteProgram(w, f.Program);
        w.Write([f.Profile is null ? (byte)0 : (byte)1]);
        if (f.Profile is not null)
        {
            WriteProgram(w, f.Profile);
        }
        WriteUInt32(w, (uint)f.Warnings.Count);
        foreach (var warning in f.Warnings)
        {
            WriteBytes(w, Encoding.UTF8.GetBytes(warning));
        }
        return w.WrittenSpan.ToArray();
    }

    /// <summary>The filter an entry holds, or null unless it starts with <paramref name="key"/> and is whole and well-formed.</summary>
    internal static CompiledFilter? Decode(ReadOnlySpan<byte> entry, ReadOnlySpan<byte> key)
    {
        if (!entry.StartsWith(key))
        {
            return null;
        }
        var r = new EntryReader(entry[key.Length..]);
        var flags = r.UInt32();
        var usesNotify = r.Byte();
        var inspects = r.Byte();
        var program = r.Program();
        var hasProfile = r.Byte();
        var profile = hasProfile == 1 ? r.Program() : null;
        var count = r.UInt32();
        if (!r.Ok || (flags & ~KnownFlags) != 0 || usesNotify > 1 || inspects > 1 || hasProfile > 1 || program is null
            || (hasProfile == 1 && profile is null) || count > MaxWarnings)
        {
            return null;
        }
        // What Compile guarantees: a listener exactly for NOTIFY rules or recording, never both; inspection only when recording.
        var listener = (flags & NewListener) != 0;
        if (listener != (usesNotify == 1 || profile is not null) || (usesNotify == 1 && profile is not null) || (inspects == 1 && profile is null))
        {
            return null;
        }
        var warnings = new string[count];
        for (var i = 0; i < warnings.Length; i++)
        {
            if (r.String() is not { } warning)
            {
                return null;
            }
            warnings[i] = warning;
        }
        return r.Ok && r.AtEnd
            ? new CompiledFilter(program, flags, usesNotify == 1, warnings) { Profile = profile, InspectsAddresses = inspects == 1 }
            : null;
    }

    private static void WriteUInt32(ArrayBufferWriter<byte> w, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(w.GetSpan(4), value);
        w.Advance(4);
    }

    private static void WriteBytes(ArrayBufferWriter<byte> w, ReadOnlySpan<byte> bytes)
    {
        WriteUInt32(w, (uint)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteProgram(ArrayBufferWriter<byte> w, BpfInstruction[] program)
    {
        WriteUInt32(w, (uint)program.Length);
        foreach (var insn in program)
        {
            var s = w.GetSpan(8);
            BinaryPrimitives.WriteUInt16LittleEndian(s, insn.Code);
            s[2] = insn.JumpTrue;
            s[3] = insn.JumpFalse;
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], insn.K);
            w.Advance(8);
        }
    }

    /// <summary>Reads an entry's fields; any read past the end clears <see cref="Ok"/> and yields zeros.</summary>
    private ref struct EntryReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public bool Ok { get; private set; } = true;

        public readonly bool AtEnd => _at == _data.Length;

        private ReadOnlySpan<byte> Take(int n)
        {
            if (!Ok || n < 0 || n > _data.Length - _at)
            {
                Ok = false;
                return default;
            }
            var s = _data.Slice(_at, n);
            _at += n;
            return s;
        }

        public byte Byte() => Take(1) is { Length: 1 } s ? s[0] : (byte)0;

        public uint UInt32() => Take(4) is { Length: 4 } s ? BinaryPrimitives.ReadUInt32LittleEndian(s) : 0;

        /// <summary>A program of 1 to <see cref="SeccompCompiler.MaxInstructions"/> instructions, or null.</summary>
        public BpfInstruction[]? Program()
        {
            var count = UInt32();
            if (count is 0 or > SeccompCompiler.MaxInstructions)
            {
                Ok = false;
                return null;
            }
            var bytes = Take((int)count * 8);
            if (!Ok)
            {
                return null;
            }
            var program = new BpfInstruction[count];
            for (var i = 0; i < program.Length; i++)
            {
                var s = bytes.Slice(i * 8, 8);
                program[i] = new BpfInstruction(BinaryPrimitives.ReadUInt16LittleEndian(s), s[2], s[3], BinaryPrimitives.ReadUInt32LittleEndian(s[4..]));
            }
            return program;
        }

        public string? String()
        {
            var length = UInt32();
            var bytes = length > int.MaxValue ? default : Take((int)length);
            if (!Ok)
            {
                return null;
            }
            try
            {
                return StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                Ok = false;
                return null;
            }
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // The files. The directory must be this user's and writable by nobody else, an entry a regular file of this user's
    // that no one else may write; anything else is passed by (read) or left alone (write).

    private CompiledFilter? Load(string name, byte[] key)
    {
        var dir = OpenDirectory();
        if (dir < 0)
        {
            return null;
        }
        try
        {
            int fd;
            fixed (byte* p = Encoding.UTF8.GetBytes(name + "\0"))
            {
                fd = Libc.Openat(dir, p, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
            }
            if (fd < 0)
            {
                return null;
            }
            try
            {
                if (!IsPrivate(fd, Libc.S_IFREG, out var size) || size > MaxEntryBytes || size < key.Length)
                {
                    return null;
                }
                return RawFiles.ReadAll(fd, out _, (int)size) is { Length: <= MaxEntryBytes } entry ? Decode(entry, key) : null;
            }
            finally
            {
                LibC.close(fd);
            }
        }
        finally
        {
            LibC.close(dir);
        }
    }

    private int OpenDirectory()
    {
        int fd;
        fixed (byte* p = Encoding.UTF8.GetBytes(Directory + "\0"))
        {
            fd = Libc.Open(p, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        }
        if (fd >= 0 && !IsPrivate(fd, Libc.S_IFDIR, out _))
        {
            LibC.close(fd);
            return -1;
        }
        return fd;
    }

    /// <summary>Whether <paramref name="fd"/> is of this type, owned by the effective user and writable by no one else.</summary>
    private static bool IsPrivate(int fd, uint type, out long size)
    {
        statx st;
        size = 0;
        fixed (byte* empty = "\0"u8)
        {
            if (LibC.statx(fd, empty, LibC.AT_EMPTY_PATH, LibC.STATX_TYPE | LibC.STATX_MODE | LibC.STATX_UID | LibC.STATX_SIZE, &st) != 0)
            {
                return false;
            }
        }
        size = (long)st.stx_size;
        return (st.stx_mode & Libc.S_IFMT) == type && st.stx_uid == LibC.geteuid() && (st.stx_mode & 0x12) == 0;
    }

    /// <summary>Writes the entry (a temporary file in the directory, renamed over the name); a failure only means it was not cached.</summary>
    private void Store(string name, byte[] key, CompiledFilter compiled)
    {
        var entry = Encode(key, compiled);
        if (entry.Length > MaxEntryBytes)
        {
            return;
        }
        try
        {
            // 0700, and the state root 0700 too when this is its first run (as StateStore.Claim makes it; CreateDirectory gives
            // the mode to the last directory only). An existing one is checked below.
            const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(Directory)!, Private);
            System.IO.Directory.CreateDirectory(Directory, Private);
            var dir = OpenDirectory();
            if (dir < 0)
            {
                return;
            }
            LibC.close(dir);
            Prune();
            var tmp = Path.Combine(Directory, $".tmp-{Environment.ProcessId}-{name}");
            var target = Path.Combine(Directory, name);
            fixed (byte* t = Encoding.UTF8.GetBytes(tmp + "\0"))
            fixed (byte* to = Encoding.UTF8.GetBytes(target + "\0"))
            {
                LibC.unlink(t); // one a killed run of this pid left
                var fd = Libc.Open(t, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x180);
                if (fd < 0)
                {
                    return;
                }
                var written = RawFiles.WriteAll(fd, entry) == 0;
                if (LibC.close(fd) != 0 || !written || Libc.Rename(t, to) != 0)
                {
                    LibC.unlink(t);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not cached this time.
        }
    }

    /// <summary>Keeps the directory below <see cref="MaxEntries"/> before one more is written: the oldest go first.</summary>
    private void Prune()
    {
        var files = new DirectoryInfo(Directory).GetFiles();
        if (files.Length < MaxEntries)
        {
            return;
        }
        Array.Sort(files, static (a, b) => a.LastWriteTimeUtc.CompareTo(b.LastWriteTimeUtc));
        foreach (var old in files.AsSpan(0, files.Length - MaxEntries + 1))
        {
            try
            {
                old.Delete();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another run pruned it.
            }
        }
    }
}
