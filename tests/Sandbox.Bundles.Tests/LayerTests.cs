namespace Sandbox.Bundles.Tests;

public class LayerTests
{
    [Fact]
    public void The_digest_ignores_insertion_order_and_adds_parent_directories()
    {
        var a = new Layer("a");
        a.Add(new LayerEntry("/etc/hosts", EntryKind.File, 0x1a4, "sha256:" + new string('1', 64)));
        a.Add(new LayerEntry("/bin/sh", EntryKind.Symlink, 0x1ff, LinkTarget: "busybox"));
        var b = new Layer("b");
        b.Add(new LayerEntry("/bin/sh", EntryKind.Symlink, 0x1ff, LinkTarget: "busybox"));
        b.Add(new LayerEntry("/etc/hosts", EntryKind.File, 0x1a4, "sha256:" + new string('1', 64)));
        Assert.Equal(a.Digest(), b.Digest());
        Assert.True(a.Contains("/etc"));
        Assert.True(a.Contains("/bin"));
    }

    [Fact]
    public void Mode_content_and_link_target_each_change_the_digest()
    {
        string D(uint mode, char content, string target)
        {
            var l = new Layer("x");
            l.Add(new LayerEntry("/f", EntryKind.File, mode, "sha256:" + new string(content, 64)));
            l.Add(new LayerEntry("/l", EntryKind.Symlink, 0x1ff, LinkTarget: target));
            return l.Digest();
        }
        var baseline = D(0x1a4, '1', "t");
        Assert.NotEqual(baseline, D(0x1ed, '1', "t"));
        Assert.NotEqual(baseline, D(0x1a4, '2', "t"));
        Assert.NotEqual(baseline, D(0x1a4, '1', "u"));
    }

    [Fact]
    public void The_store_hashes_once_links_blobs_into_a_rootfs_and_prunes_what_no_layer_needs()
    {
        var dir = Directory.CreateTempSubdirectory("store-").FullName;
        try
        {
            var store = new ContentStore(Path.Join(dir, "cache"));
            var src = Path.Join(dir, "input.txt");
            File.WriteAllText(src, "hello\n");
            var d1 = store.Ingest(src, 0x1a4, FileStat.Of(src));
            Assert.Equal("sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", d1);
            Assert.Equal(d1, store.Ingest(src, 0x1a4, FileStat.Of(src)));
            var layer = new Layer("t");
            layer.Add(new LayerEntry("/data/input.txt", EntryKind.File, 0x1a4, d1));
            layer.Add(new LayerEntry("/data/link", EntryKind.Symlink, 0x1ff, LinkTarget: "input.txt"));
            var rootfs = Directory.CreateDirectory(Path.Join(dir, "rootfs")).FullName;
            using (var writer = new RootfsWriter(rootfs))
            {
                store.Materialize(layer, writer, copies: false);
            }
            Assert.Equal("hello\n", File.ReadAllText(Path.Join(rootfs, "data/link")));
            store.RecordLayer(layer, layer.Digest());

            File.WriteAllText(src, "changed\n");
            var d2 = store.Ingest(src, 0x1a4, FileStat.Of(src));
            Assert.NotEqual(d1, d2);
            var (_, blobs, _) = store.Prune(TimeSpan.FromDays(7));
            Assert.Equal(1, blobs); // d2 is in no layer
            Assert.True(File.Exists(store.BlobPath(d1, 0x1a4)));
            Assert.Equal(1, store.Prune(TimeSpan.Zero).Layers);
            Assert.False(File.Exists(store.BlobPath(d1, 0x1a4)));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
