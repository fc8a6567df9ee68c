namespace Sandbox.Build.Tasks.Tests;

/// <summary>How SandboxExec puts an output or its usage file in place (FileReplace): whole, and nothing left over.</summary>
public sealed class FileReplaceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("replace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_new_file_replaces_the_old_one_or_takes_a_new_place_and_no_temporary_file_stays()
    {
        var destination = Path.Combine(_dir, "Generated.cs");
        File.WriteAllText(destination + ".tmp", "first");
        FileReplace.Into(destination + ".tmp", destination);
        Assert.Equal("first", File.ReadAllText(destination));
        File.WriteAllText(destination + ".tmp", "second, longer");
        FileReplace.Into(destination + ".tmp", destination);
        Assert.Equal("second, longer", File.ReadAllText(destination));
        Assert.Equal(["Generated.cs"], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void A_directory_in_the_way_is_an_error_and_is_left_as_it_was()
    {
        var destination = Directory.CreateDirectory(Path.Combine(_dir, "out")).FullName;
        File.WriteAllText(Path.Combine(destination, "inside"), "kept");
        File.WriteAllText(destination + ".tmp", "new");
        Assert.ThrowsAny<IOException>(() => FileReplace.Into(destination + ".tmp", destination));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(destination, "inside")));
    }
}
