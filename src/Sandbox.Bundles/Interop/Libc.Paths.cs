// realpath(3): ours, as Tmds.LibC does not declare it.
using System.Runtime.InteropServices;

namespace Sandbox.Bundles.Interop;

internal static partial class Libc
{
    /// <summary>realpath(3) with a NULL buffer: the result is malloc'd and must be freed.</summary>
    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealpathCall(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint p);

    public static string? Realpath(string path)
    {
        var p = RealpathCall(path, 0);
        if (p == 0)
        {
            return null;
        }
        try
        {
            return Marshal.PtrToStringUTF8(p);
        }
        finally
        {
            Free(p);
        }
    }
}
