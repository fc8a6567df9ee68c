using System.Runtime.InteropServices;

namespace Sandbox.Build.Tasks.Interop;

/// <summary>renameat2(2) with RENAME_EXCHANGE, which .NET does not offer (File.Move is rename(2)).</summary>
internal static partial class Libc
{
    public const int AT_FDCWD = -100;
    public const uint RENAME_EXCHANGE = 2;

    [LibraryImport("libc", EntryPoint = "renameat2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Renameat2(int oldDirfd, string oldPath, int newDirfd, string newPath, uint flags);
}
