namespace Sandbox.Build.Tasks;

/// <summary>Puts a finished temporary file in place of another, so that a reader sees the old file or the new one.</summary>
internal static class FileReplace
{
    /// <summary>
    /// Moves <paramref name="tmp"/> to <paramref name="destination"/>. An existing file (or symlink) there is exchanged
    /// with it (renameat2 RENAME_EXCHANGE) and then unlinked under the temporary name: ext4 writes out the data of a
    /// file renamed over another at once (auto_da_alloc; measured with a 700-byte file: 120 µs a rename over it, 22 µs
    /// the exchange and unlink), and every step replaces its outputs and its usage file. A directory in the way, a new
    /// destination, or a file system that cannot exchange: a plain File.Move, which fails where it must.
    /// </summary>
    public static void Into(string tmp, string destination)
    {
        var existing = new FileInfo(destination);
        if (existing.Exists && OperatingSystem.IsLinux()
            && Interop.Libc.Renameat2(Interop.Libc.AT_FDCWD, tmp, Interop.Libc.AT_FDCWD, destination, Interop.Libc.RENAME_EXCHANGE) == 0)
        {
            File.Delete(tmp);
            return;
        }
        File.Move(tmp, destination, overwrite: true);
    }
}
