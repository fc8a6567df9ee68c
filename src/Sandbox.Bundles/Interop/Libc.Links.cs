using System.Runtime.InteropServices;

namespace Sandbox.Bundles.Interop;

// The calls that add or move names in a directory, relative to a directory descriptor so nothing is resolved twice.
internal static partial class Libc
{
    public const uint RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mkdirat(int dirfd, string path, uint mode);

    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Symlinkat(string target, int dirfd, string linkPath);

    /// <summary>linkat(2) with flags 0: a symlink as <paramref name="oldPath"/> is linked itself, never followed.</summary>
    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Linkat(int oldDirfd, string oldPath, int newDirfd, string newPath, int flags);

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Renameat2(int oldDirfd, string oldPath, int newDirfd, string newPath, uint flags);
}
