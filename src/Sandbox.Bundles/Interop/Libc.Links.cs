// renameat2(2): ours, as Tmds.LibC does not declare it. mkdirat, symlinkat and linkat come from Tmds.LibC.
using System.Runtime.InteropServices;

namespace Sandbox.Bundles.Interop;

internal static partial class Libc
{
    public const uint RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Renameat2(int oldDirfd, string oldPath, int newDirfd, string newPath, uint flags);
}
