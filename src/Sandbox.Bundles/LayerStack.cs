namespace Sandbox.Bundles;

/// <summary>
/// The layers of a bundle as one tree, checked before anything is written: a path that lies under a symlink or a
/// file of an earlier entry is refused (the builder would write through the symlink, possibly out of the bundle),
/// and so is a path two entries claim with different kinds or contents. Directories merge; the later mode wins.
/// </summary>
internal static class LayerStack
{
    /// <summary>Every path of the rootfs with the entry that makes it, in materialization order.</summary>
    public static Dictionary<string, LayerEntry> Check(IReadOnlyList<Layer> layers)
    {
        var merged = new Dictionary<string, (LayerEntry Entry, Layer Layer)>(StringComparer.Ordinal);
        foreach (var layer in layers)
        {
            foreach (var e in layer.Entries)
            {
                for (var dir = Path.GetDirectoryName(e.Path); !string.IsNullOrEmpty(dir) && dir != "/"; dir = Path.GetDirectoryName(dir))
                {
                    if (merged.TryGetValue(dir, out var above) && above.Entry.Kind != EntryKind.Directory)
                    {
                        throw above.Entry.Kind == EntryKind.Symlink
                            ? new SandboxException(ErrorCodes.BuildThroughSymlink,
                                $"{e.Path} ({Origin(layer)}) lies under {dir}, a symlink to {above.Entry.LinkTarget} copied by {Origin(above.Layer)}: the builder never writes through a symlink",
                                $"make {dir} a directory in the source, or leave out {e.Path}")
                            : new SandboxException(ErrorCodes.BuildPathConflict,
                                $"{e.Path} ({Origin(layer)}) lies under {dir}, which is a file ({Origin(above.Layer)})",
                                "change one of the targets");
                    }
                }
                if (merged.TryGetValue(e.Path, out var same) && !(same.Entry.Kind == EntryKind.Directory && e.Kind == EntryKind.Directory) && same.Entry != e)
                {
                    if (same.Entry.Kind == EntryKind.Symlink)
                    {
                        throw new SandboxException(ErrorCodes.BuildThroughSymlink,
                            $"{e.Path} ({Origin(layer)}) is a symlink to {same.Entry.LinkTarget} copied by {Origin(same.Layer)}: the builder never writes through a symlink",
                            $"make {e.Path} a directory in the source, or leave it out of the source");
                    }
                    throw new SandboxException(ErrorCodes.BuildPathConflict,
                        $"{e.Path} is given twice: {Describe(same.Entry)} ({Origin(same.Layer)}) and {Describe(e)} ({Origin(layer)})",
                        e.Path.StartsWith("/etc/", StringComparison.Ordinal) && layer.Name == GeneratedLayerName
                            ? $"to provide your own {e.Path} through files:, turn its generation off under etc:"
                            : "keep one of them");
                }
                merged[e.Path] = (e, layer);
            }
        }
        return merged.ToDictionary(kv => kv.Key, kv => kv.Value.Entry, StringComparer.Ordinal);
    }

    public const string DotnetLayerName = "dotnet-libraries";
    public const string FilesLayerName = "files";
    public const string GeneratedLayerName = "generated";

    private static string Origin(Layer layer) => layer.Name switch
    {
        DotnetLayerName => "base: dotnet",
        FilesLayerName => "a files: entry",
        GeneratedLayerName => "a mount point, the workdir or a generated /etc file",
        _ => layer.Name,
    };

    private static string Describe(LayerEntry e) => e.Kind switch
    {
        EntryKind.Directory => "a directory",
        EntryKind.Symlink => "a symlink",
        _ => "a file",
    };
}
