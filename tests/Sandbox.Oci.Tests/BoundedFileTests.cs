using System.Text;

namespace Sandbox.Oci.Tests;

/// <summary>Input files are regular files of bounded size; anything else is refused at once, without blocking or reading forever.</summary>
public sealed class BoundedFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-bounded-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Runs <paramref name="read"/> with a generous guard: a FIFO opened the ordinary way would block forever.</summary>
    private static T WithinAMinute<T>(Func<T> read)
    {
        var task = Task.Run(read);
        Assert.True(((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromMinutes(1)), "the read hung");
        return task.GetAwaiter().GetResult();
    }

    private static SandboxException Refused(string path) =>
        Assert.Throws<SandboxException>(() => WithinAMinute(() => BoundedFile.Read(path, out _)));

    private string Fifo()
    {
        var path = Path.Combine(_dir, "fifo");
        using var p = System.Diagnostics.Process.Start("mkfifo", [path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return path;
    }

    [Fact]
    public void A_regular_file_is_read_whole()
    {
        var path = Path.Combine(_dir, "f");
        var bytes = Encoding.UTF8.GetBytes(new string('x', 100_000));
        File.WriteAllBytes(path, bytes);
        Assert.Equal(bytes, BoundedFile.Read(path, out var errno));
        Assert.Equal(0, errno);
    }

    [Fact]
    public void An_empty_file_is_read_as_empty()
    {
        var path = Path.Combine(_dir, "empty");
        File.WriteAllBytes(path, []);
        Assert.Empty(BoundedFile.Read(path, out _)!);
    }

    [Fact]
    public void A_missing_file_gives_its_errno()
    {
        Assert.Null(BoundedFile.Read(Path.Combine(_dir, "missing"), out var errno));
        Assert.Equal(2, errno);
        Assert.Equal("No such file or directory", BoundedFile.Describe(errno));
    }

    [Theory]
    [InlineData("/dev/zero", "a character device")]
    [InlineData("/dev/null", "a character device")]
    [InlineData("/proc", "a directory")]
    public void Devices_and_directories_are_refused(string path, string kind)
    {
        var e = Refused(path);
        Assert.Equal(ErrorCodes.InputNotRegular, e.Code);
        Assert.Equal($"{path}: is {kind}, not a regular file", e.Message);
    }

    [Fact]
    public void A_symlink_to_a_device_is_refused()
    {
        var link = Path.Combine(_dir, "config.json");
        File.CreateSymbolicLink(link, "/dev/zero");
        Assert.Contains("a character device", Refused(link).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fifo_is_refused_without_blocking() =>
        Assert.Contains("is a FIFO", Refused(Fifo()).Message, StringComparison.Ordinal);

    [Fact]
    public void A_file_over_the_limit_is_refused()
    {
        var path = Path.Combine(_dir, "big");
        using (var f = File.Create(path))
        {
            f.SetLength(BoundedFile.DefaultLimit + 1L); // sparse: costs no disk
        }
        var e = Refused(path);
        Assert.Equal(ErrorCodes.InputNotRegular, e.Code);
        Assert.Contains("more than 4 MiB", e.Message, StringComparison.Ordinal);
        Assert.NotNull(BoundedFile.Read(path, out _, limit: BoundedFile.DefaultLimit + 1));
    }

    [Fact]
    public void A_proc_file_that_claims_no_size_is_still_bounded()
    {
        // /proc files report size 0; the limit is enforced on what is read.
        Assert.Throws<SandboxException>(() => BoundedFile.Read("/proc/self/maps", out _, limit: 10));
        Assert.NotEmpty(BoundedFile.Read("/proc/self/maps", out _)!);
    }

    [Fact]
    public void Config_json_as_a_device_or_fifo_is_refused_by_the_loader()
    {
        File.CreateSymbolicLink(Path.Combine(_dir, "config.json"), "/dev/zero");
        Assert.Equal(ErrorCodes.InputNotRegular, Assert.Throws<SandboxException>(() => OciConfigLoader.LoadBundle(_dir)).Code);
        File.Delete(Path.Combine(_dir, "config.json"));
        File.Move(Fifo(), Path.Combine(_dir, "config.json"));
        Assert.Equal(ErrorCodes.InputNotRegular, Assert.Throws<SandboxException>(() => WithinAMinute(() => OciConfigLoader.LoadBundle(_dir))).Code);
        File.Delete(Path.Combine(_dir, "config.json"));
        var missing = Assert.Throws<SandboxException>(() => OciConfigLoader.LoadBundle(_dir));
        Assert.Equal(ErrorCodes.ConfigMissing, missing.Code);
        Assert.Contains("--bundle", missing.Hint, StringComparison.Ordinal);
    }
}
