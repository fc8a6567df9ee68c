namespace Sandbox.Runtime.Tests;

/// <summary>
/// The stale-state collection at the start of every run: a root whose link count shows no container directory is
/// not listed; one with any other directory in it is, whatever else is there.
/// </summary>
public sealed class StateStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("state-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_lone_leftover_is_collected_and_the_compiled_filters_alone_are_left_as_they_are()
    {
        var leftover = Directory.CreateDirectory(Path.Combine(_root, "old-container")).FullName;
        new StateStore(_root).CollectStale();
        Assert.False(Directory.Exists(leftover), "one directory, and it is not the cache: listed and removed");

        var cache = Directory.CreateDirectory(Path.Combine(_root, SeccompFilterCache.DirectoryName)).FullName;
        File.WriteAllText(Path.Combine(cache, "entry"), "kept");
        new StateStore(_root).CollectStale();
        Assert.Equal("kept", File.ReadAllText(Path.Combine(cache, "entry")));

        new StateStore(Path.Combine(_root, "missing")).CollectStale(); // no root yet: nothing to do
        Assert.False(Directory.Exists(Path.Combine(_root, "missing")));
    }
}
