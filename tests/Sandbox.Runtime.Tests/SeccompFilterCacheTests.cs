using System.Text;
using Sandbox.Oci;
using Sandbox.Seccomp;

namespace Sandbox.Runtime.Tests;

/// <summary>The compiled-filter cache: what it loads equals what Compile makes, and nothing else is ever loaded.</summary>
public sealed class SeccompFilterCacheTests : IDisposable
{
    private const string JsonPath = "$.linux.seccomp";

    private readonly string _root = Directory.CreateTempSubdirectory("sandbox-seccache-").FullName;

    private SeccompFilterCache Cache => SeccompFilterCache.In(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>A profile read from JSON text, as config.json's linux.seccomp is.</summary>
    private static OciSeccomp FromJson(string json)
    {
        var config = OciConfigLoader.Parse(Encoding.UTF8.GetBytes(
            $$$"""{"ociVersion": "1.2.0", "process": {"args": ["true"], "cwd": "/"}, "root": {"path": "rootfs"}, "linux": {"seccomp": {{{json}}}}}"""), "config.json");
        return config.Linux!.Seccomp!;
    }

    private const string Notify = """{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}""";

    /// <summary>Warnings (an architecture sandbox lacks, a call its tables lack), flags, argument rules, an errno default.</summary>
    private const string Odd = """
        {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
         "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
         "syscalls": [
           {"names": ["read", "write", "exit_group", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
           {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
           {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967295, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
           {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
           {"names": ["kill"], "action": "SCMP_ACT_KILL_THREAD"}]}
        """;

    private const string DeniesMkdir = """{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}""";

    public static TheoryData<string, bool> Profiles => new()
    {
        { "default", false }, { "default", true }, { "hermetic", false }, { "hermetic", true },
        { "json:default", true }, { "json:notify", true }, { "json:odd", false }, { "json:odd", true }, { "json:mkdir", true },
    };

    private static OciSeccomp Profile(string name) => name switch
    {
        "json:notify" => FromJson(Notify),
        "json:odd" => FromJson(Odd),
        "json:mkdir" => FromJson(DeniesMkdir),
        // The built-in profile as `sandbox build` writes it into config.json, then read back as text.
        "json:default" => FromJson(System.Text.Json.JsonSerializer.Serialize(BuiltInProfiles.Get("default")!, OciSeccompJsonContext.Default.OciSeccomp)),
        _ => BuiltInProfiles.Get(name)!,
    };

    private static void AssertSame(CompiledFilter expected, CompiledFilter actual)
    {
        Assert.Equal(expected.Program, actual.Program);
        Assert.Equal(expected.Profile, actual.Profile);
        Assert.Equal(expected.Flags, actual.Flags);
        Assert.Equal(expected.UsesNotify, actual.UsesNotify);
        Assert.Equal(expected.InspectsAddresses, actual.InspectsAddresses);
        Assert.Equal(expected.Warnings, actual.Warnings);
    }

    [Theory]
    [MemberData(nameof(Profiles))]
    public void A_filter_compiled_once_is_loaded_the_second_time_equal_to_a_fresh_compile(string name, bool record)
    {
        var profile = Profile(name);
        var fresh = SeccompCompiler.Compile(profile, JsonPath, record);
        Assert.Null(Cache.Load(profile, JsonPath, record));

        AssertSame(fresh, Cache.Compile(profile, JsonPath, record));
        var entry = Cache.EntryPath(profile, JsonPath, record)!;
        Assert.True(File.Exists(entry));
        var written = File.GetLastWriteTimeUtc(entry);

        // A profile read anew from the same text finds the entry; the entry is not written again.
        var again = Profile(name);
        AssertSame(fresh, Assert.IsType<CompiledFilter>(Cache.Load(again, JsonPath, record)));
        AssertSame(fresh, Cache.Compile(again, JsonPath, record));
        Assert.Equal(written, File.GetLastWriteTimeUtc(entry));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(entry));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Cache.Directory));
    }

    [Fact]
    public void The_record_flag_and_the_json_path_are_part_of_the_key()
    {
        var profile = BuiltInProfiles.Get("default")!;
        Cache.Compile(profile, JsonPath, record: true);
        Assert.Null(Cache.Load(profile, JsonPath, record: false));
        Assert.Null(Cache.Load(profile, "$", record: true));
        Assert.NotNull(Cache.Load(profile, JsonPath, record: true));
    }

    [Fact]
    public void The_reader_keeps_the_exact_text_of_linux_seccomp()
    {
        const string text = "{ \"defaultAction\" : \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [] }";
        var json = $$$"""{"ociVersion": "1.2.0", "process": {"args": ["true"], "cwd": "/"}, "root": {"path": "rootfs"}, "linux": {"sysctl": {}, "seccomp": {{{text}}}, "maskedPaths": []}}""";
        var config = OciConfigLoader.Parse(Encoding.UTF8.GetBytes(json), "config.json");
        Assert.Equal(text, Encoding.UTF8.GetString(config.Linux!.Seccomp!.Source!));
        // The serializer never writes it.
        Assert.DoesNotContain("source", OciConfigLoader.Serialize(config), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_profile_without_source_text_is_compiled_and_never_cached()
    {
        var profile = FromJson(DeniesMkdir) with { Source = null };
        Assert.Null(Cache.EntryPath(profile, JsonPath, false));
        AssertSame(SeccompCompiler.Compile(profile, JsonPath, false), Cache.Compile(profile, JsonPath, false));
        Assert.False(Directory.Exists(Cache.Directory));
    }

    [Fact]
    public void A_profile_that_differs_in_one_byte_does_not_find_the_others_entry()
    {
        var denies = FromJson(DeniesMkdir);
        Cache.Compile(denies, JsonPath, false);
        // errnoRet 1 becomes 3: one byte.
        var other = FromJson(DeniesMkdir.Replace("\"errnoRet\": 1", "\"errnoRet\": 3", StringComparison.Ordinal));
        Assert.Equal(denies.Source!.Length, other.Source!.Length);
        Assert.Null(Cache.Load(other, JsonPath, false));
        var compiled = Cache.Compile(other, JsonPath, false);
        AssertSame(SeccompCompiler.Compile(other, JsonPath, false), compiled);
        Assert.Equal(SeccompAction.Errno | 3, BpfInterpreter.Run(compiled.Program, Mkdir));
        // Even a change that compiles to the same program is another key: the text is compared, not what it means.
        Assert.Null(Cache.Load(FromJson(DeniesMkdir.Replace(", ", ",  ", StringComparison.Ordinal)), JsonPath, false));
    }

    private static SeccompData Mkdir => new(SeccompArch.Native.Numbers["mkdirat"], SeccompArch.Native.AuditArch, [0, 0, 0, 0, 0, 0]);

    private static SeccompData Mount => new(SeccompArch.Native.Numbers["mount"], SeccompArch.Native.AuditArch, [0, 0, 0, 0, 0, 0]);

    /// <summary>
    /// A stranger's profile allows mount; its entry, put under the name of the victim's (`default`) entry, is not used:
    /// the victim's key (its source among it) is compared byte for byte, not the name.
    /// </summary>
    [Theory]
    [InlineData("default")]
    [InlineData("json:default")]
    public void A_forged_entry_under_the_victims_name_is_not_used(string victimName)
    {
        var victim = Profile(victimName);
        // Padded (an unknown key is skipped) so that its entry is longer than the victim's key: only the comparison refuses it.
        var attacker = FromJson($$"""{"defaultAction": "SCMP_ACT_ALLOW", "padding": "{{new string('x', 8192)}}"}""");
        Cache.Compile(attacker, JsonPath, record: true);
        Assert.Equal(SeccompAction.Allow, BpfInterpreter.Run(Cache.Load(attacker, JsonPath, true)!.Profile!, Mount)); // what the forgery holds
        var forged = File.ReadAllBytes(Cache.EntryPath(attacker, JsonPath, true)!);
        var victimEntry = Cache.EntryPath(victim, JsonPath, true)!;
        File.WriteAllBytes(victimEntry, forged);
        File.SetUnixFileMode(victimEntry, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        Assert.Null(Cache.Load(victim, JsonPath, true));
        var compiled = Cache.Compile(victim, JsonPath, true);
        AssertSame(SeccompCompiler.Compile(victim, JsonPath, true), compiled);
        Assert.Equal(SeccompAction.Errno | SeccompAction.EPERM, BpfInterpreter.Run(compiled.Profile!, Mount));
        // The forgery was replaced by the real entry.
        AssertSame(compiled, Cache.Load(victim, JsonPath, true)!);
    }

    public static TheoryData<string> Damage => ["truncated", "empty", "trailing byte", "bad magic", "program count", "no profile", "flags", "bad UTF-8", "oversized"];

    [Theory]
    [MemberData(nameof(Damage))]
    public void A_damaged_entry_is_ignored_and_replaced(string damage)
    {
        var profile = FromJson(Odd); // has warnings, a profile program when recording
        var fresh = Cache.Compile(profile, JsonPath, true);
        var path = Cache.EntryPath(profile, JsonPath, true)!;
        var bytes = File.ReadAllBytes(path);
        var value = bytes.Length - ValueLength(fresh); // where the key ends
        bytes = damage switch
        {
            "truncated" => bytes[..^1],
            "empty" => [],
            "trailing byte" => [.. bytes, 0],
            "bad magic" => [(byte)(bytes[0] ^ 1), .. bytes[1..]],
            "program count" => Patch(bytes, value + 6, BitConverter.GetBytes(SeccompCompiler.MaxInstructions + 1)),
            "no profile" => Patch(bytes, value + 10 + (8 * fresh.Program.Length), [0]),
            "flags" => Patch(bytes, value, BitConverter.GetBytes(fresh.Flags | 0x10)),
            "bad UTF-8" => Patch(bytes, bytes.Length - 1, [0xff]),
            _ => [.. bytes, .. new byte[SeccompFilterCache.MaxEntryBytes]],
        };
        File.WriteAllBytes(path, bytes);
        Assert.Null(Cache.Load(profile, JsonPath, true));
        AssertSame(fresh, Cache.Compile(profile, JsonPath, true));
        AssertSame(fresh, Cache.Load(profile, JsonPath, true)!);
    }

    private static int ValueLength(CompiledFilter f) =>
        4 + 2 + 4 + (8 * f.Program.Length) + 1 + (f.Profile is null ? 0 : 4 + (8 * f.Profile.Length)) + 4 + f.Warnings.Sum(w => 4 + Encoding.UTF8.GetByteCount(w));

    private static byte[] Patch(byte[] bytes, int at, byte[] with)
    {
        var copy = bytes.ToArray();
        with.CopyTo(copy, at);
        return copy;
    }

    [Theory]
    [InlineData("group-writable entry")]
    [InlineData("other-writable entry")]
    [InlineData("group-writable directory")]
    [InlineData("symlinked entry")]
    public void An_entry_others_could_have_written_is_ignored(string how)
    {
        var profile = BuiltInProfiles.Get("default")!;
        var fresh = Cache.Compile(profile, JsonPath, false);
        var path = Cache.EntryPath(profile, JsonPath, false)!;
        switch (how)
        {
            case "group-writable entry":
                File.SetUnixFileMode(path, (UnixFileMode)0x1b0); // 0660
                break;
            case "other-writable entry":
                File.SetUnixFileMode(path, (UnixFileMode)0x182); // 0602
                break;
            case "group-writable directory":
                File.SetUnixFileMode(Cache.Directory, (UnixFileMode)0x1f8); // 0770
                break;
            default:
                File.Move(path, path + ".real");
                File.CreateSymbolicLink(path, path + ".real");
                break;
        }
        Assert.Null(Cache.Load(profile, JsonPath, false));
        AssertSame(fresh, Cache.Compile(profile, JsonPath, false));
    }

    [PrivilegedFact]
    public void An_entry_another_user_owns_is_ignored_and_replaced()
    {
        var profile = BuiltInProfiles.Get("hermetic")!;
        var fresh = Cache.Compile(profile, JsonPath, true);
        var path = Cache.EntryPath(profile, JsonPath, true)!;
        Assert.Equal(0, Chown(path, 65534));
        Assert.Null(Cache.Load(profile, JsonPath, true));
        AssertSame(fresh, Cache.Compile(profile, JsonPath, true));
        AssertSame(fresh, Cache.Load(profile, JsonPath, true)!);
    }

    private static unsafe int Chown(string path, uint uid)
    {
        fixed (byte* p = Encoding.UTF8.GetBytes(path + "\0"))
        {
            return Tmds.Linux.LibC.chown(p, uid, uid);
        }
    }

    [Fact]
    public void A_state_root_the_cache_makes_is_private_as_one_a_container_makes()
    {
        var root = Path.Combine(_root, "new-root");
        SeccompFilterCache.In(root).Compile(BuiltInProfiles.Get("default")!, JsonPath, false);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(root));
    }

    [Fact]
    public void A_cache_that_cannot_be_written_leaves_the_compile_as_it_was()
    {
        File.WriteAllText(Path.Combine(_root, "file"), "");
        var cache = SeccompFilterCache.In(Path.Combine(_root, "file"));
        var profile = BuiltInProfiles.Get("default")!;
        AssertSame(SeccompCompiler.Compile(profile, JsonPath, true), cache.Compile(profile, JsonPath, true));
    }

    [Fact]
    public void Errors_are_never_cached_and_read_as_before()
    {
        var bad = FromJson("""{"defaultAction": "SCMP_ACT_NOPE", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "op": "SCMP_CMP_EQ"}]}]}""");
        var expected = Assert.Throws<SandboxException>(() => SeccompCompiler.Compile(bad, JsonPath, true));
        for (var i = 0; i < 2; i++)
        {
            var e = Assert.Throws<SandboxException>(() => Cache.Compile(bad, JsonPath, true));
            Assert.Equal((expected.Code, expected.Message, expected.Hint), (e.Code, e.Message, e.Hint));
        }
        Assert.False(File.Exists(Cache.EntryPath(bad, JsonPath, true)));
    }

    [Fact]
    public void The_cache_keeps_at_most_its_bound_of_entries()
    {
        for (var i = 0; i < SeccompFilterCache.MaxEntries + 8; i++)
        {
            Cache.Compile(FromJson(DeniesMkdir.Replace("\"errnoRet\": 1", $"\"errnoRet\": {i + 1}", StringComparison.Ordinal)), JsonPath, false);
        }
        Assert.Equal(SeccompFilterCache.MaxEntries, Directory.GetFiles(Cache.Directory).Length);
    }

    [Fact]
    public void Collecting_stale_state_leaves_the_cache_and_removes_other_directories_without_state()
    {
        var profile = BuiltInProfiles.Get("default")!;
        Cache.Compile(profile, JsonPath, false);
        var leftover = Directory.CreateDirectory(Path.Combine(_root, "old-container")).FullName;
        new StateStore(_root).CollectStale();
        Assert.False(Directory.Exists(leftover));
        Assert.NotNull(Cache.Load(profile, JsonPath, false));
        Assert.Throws<SandboxException>(() => StateStore.ValidateId(SeccompFilterCache.DirectoryName));
    }
}
