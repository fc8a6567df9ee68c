using System.Runtime.InteropServices;

namespace Sandbox.Build.Tasks.Interop;

/// <summary>
/// chown(2) and lchown(2), which .NET does not offer: a step's scratch directories must belong to the sandbox's user,
/// and what the step wrote there is given to the build's user when it is moved into the project.
/// </summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Chown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Lchown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    public static partial uint Getegid();
}
