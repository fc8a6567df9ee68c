using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.Seccomp.Tests;

/// <summary>A profile file that is not a regular file, or holds a null or a NUL, is an SBX error, never a crash or a hang.</summary>
public sealed class ProfileInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-profile-input-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static SandboxException Refused(string path)
    {
        var task = Task.Run(() => BuiltInProfiles.Resolve(path));
        var e = Assert.Throws<AggregateException>(() => task.Wait(TimeSpan.FromMinutes(1)));
        return Assert.IsType<SandboxException>(e.InnerException);
    }

    private string Profile(string json)
    {
        var path = Path.Combine(_dir, "profile.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void A_device_is_refused()
    {
        var e = Refused("/dev/zero");
        Assert.Equal(ErrorCodes.InputNotRegular, e.Code);
        Assert.Equal("seccomp profile /dev/zero: is a character device, not a regular file", e.Message);
    }

    [Fact]
    public void A_fifo_is_refused_without_blocking()
    {
        var path = Path.Combine(_dir, "fifo.json");
        using (var p = System.Diagnostics.Process.Start("mkfifo", [path])!)
        {
            p.WaitForExit();
        }
        Assert.Equal(ErrorCodes.InputNotRegular, Refused(path).Code);
    }

    [Fact]
    public void A_missing_file_is_an_unreadable_profile()
    {
        var e = Refused(Path.Combine(_dir, "missing.json"));
        Assert.Equal(ErrorCodes.SeccompInvalid, e.Code);
        Assert.Contains("No such file or directory", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [null] }""", "$.syscalls[0]: null is not allowed")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "flags": [null] }""", "$.flags[0]: null is not allowed")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "architectures": [null] }""", "$.architectures[0]: null is not allowed")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": [null], "action": "SCMP_ACT_ERRNO" }] }""", "$.syscalls[0].names[0]: null is not allowed")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [null] }] }""", "$.syscalls[0].args[0]: null is not allowed")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": ["read\u0000"], "action": "SCMP_ACT_ERRNO" }] }""", "$.syscalls[0].names[0]: holds a NUL")]
    public void Nulls_and_nuls_name_their_path_in_the_file(string json, string message)
    {
        var path = Profile(json);
        var e = Refused(path);
        Assert.Equal(ErrorCodes.SeccompInvalid, e.Code);
        Assert.Contains($"seccomp profile {path}: {message}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("default")]
    [InlineData("hermetic")]
    public void A_built_in_profile_written_out_reads_back_the_same(string name)
    {
        var profile = BuiltInProfiles.Get(name)!;
        var text = JsonSerializer.Serialize(profile, OciSeccompJsonContext.Default.OciSeccomp);
        Assert.Equal(text, JsonSerializer.Serialize(BuiltInProfiles.Resolve(Profile(text))!, OciSeccompJsonContext.Default.OciSeccomp));
    }

    /// <summary>The file is read by OciConfigReader, not the serializer: its errors are still the serializer's, word for word.</summary>
    [Theory]
    [InlineData("""{ "defaultAction": 5 }""")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": "read" }] }""")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": -1 }""")]
    [InlineData("{\n  \"flags\": [,] }")]
    [InlineData("[]")]
    [InlineData("{ \"a\": ")]
    public void A_malformed_profile_is_refused_with_the_serializers_words(string json)
    {
        string expected;
        try
        {
            JsonSerializer.Deserialize(json, OciSeccompJsonContext.Default.OciSeccomp);
            expected = "accepted";
        }
        catch (JsonException e)
        {
            expected = e.Message;
        }
        var path = Profile(json);
        var refused = Refused(path);
        Assert.Equal(ErrorCodes.SeccompInvalid, refused.Code);
        Assert.Equal($"seccomp profile {path}: {expected}", refused.Message);
    }

    [Fact]
    public void The_compiler_checks_a_profile_built_in_code_too()
    {
        var profile = BuiltInProfiles.Get("default")! with { Syscalls = [null!], Flags = ["SECCOMP_FILTER_FLAG_LOG", null!] };
        var e = Assert.Throws<SandboxException>(() => SeccompCompiler.Compile(profile));
        Assert.Equal(ErrorCodes.SeccompInvalid, e.Code);
        Assert.Contains("$.linux.seccomp.syscalls[0]: null is not allowed", e.Message, StringComparison.Ordinal);
        Assert.Contains("$.linux.seccomp.flags[1]: null is not allowed", e.Message, StringComparison.Ordinal);
    }
}
