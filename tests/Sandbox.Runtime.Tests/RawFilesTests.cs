using System.Text;

namespace Sandbox.Runtime.Tests;

/// <summary>
/// The plain file reads and writes of the start-up path: whole files whatever their size, and atomic replacement
/// that leaves nothing behind (RawFiles).
/// </summary>
public sealed class RawFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawfiles-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_atomic_write_replaces_the_file_and_leaves_no_temporary_one(bool exchange)
    {
        var path = Path.Combine(_dir, "state.json");
        RawFiles.WriteAtomically(path, "first"u8, exchange);
        Assert.Equal("first", File.ReadAllText(path));
        RawFiles.WriteAtomically(path, "second, longer"u8, exchange);
        Assert.Equal("second, longer", File.ReadAllText(path));
        Assert.Equal(["state.json"], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Without_exchange_a_directory_in_the_way_is_an_error_and_stays()
    {
        // A user's --report path that names a directory: a rename fails, where an exchange would have swapped it away.
        var path = Directory.CreateDirectory(Path.Combine(_dir, "report.json")).FullName;
        File.WriteAllText(Path.Combine(path, "inside"), "kept");
        var e = Assert.Throws<SandboxException>(() => RawFiles.WriteAtomically(path, "{}"u8));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(path, "inside")));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(1023)]
    [InlineData(1024)]
    [InlineData(1025)]
    [InlineData(70000)]
    public void A_text_read_returns_the_whole_file_whatever_its_size(int size)
    {
        var path = Path.Combine(_dir, "f");
        var text = new string('x', size) is var s && size > 3 ? "é" + s[2..] + "\n" : s;
        File.WriteAllText(path, text);
        Assert.Equal(text, RawFiles.ReadText(path));
        Assert.Null(RawFiles.ReadText(Path.Combine(_dir, "missing")));
        // A name too long for the stack's share is read the other way, with the same result.
        var deep = Path.Combine(_dir, new string('d', 200), new string('e', 200));
        Directory.CreateDirectory(deep);
        File.WriteAllText(Path.Combine(deep, "f"), text);
        Assert.Equal(text, RawFiles.ReadText(Path.Combine(deep, "f")));
    }

    [Fact]
    public unsafe void A_read_with_an_expected_size_returns_what_is_there_if_the_file_changed_size()
    {
        var path = Path.Combine(_dir, "f");
        var bytes = Encoding.UTF8.GetBytes(new string('a', 5000));
        File.WriteAllBytes(path, bytes);
        foreach (var expected in new[] { 5000, 4000, 6000, 1 })
        {
            int fd;
            fixed (byte* p = Encoding.UTF8.GetBytes(path + "\0"))
            {
                fd = Tmds.Linux.LibC.open(p, Tmds.Linux.LibC.O_RDONLY, 0);
            }
            Assert.True(fd >= 0);
            try
            {
                var read = RawFiles.ReadAll(fd, out var errno, expected);
                Assert.Equal(0, errno);
                Assert.Equal(bytes, read);
            }
            finally
            {
                Tmds.Linux.LibC.close(fd);
            }
        }
    }
}
