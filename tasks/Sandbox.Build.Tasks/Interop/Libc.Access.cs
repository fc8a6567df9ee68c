using System.Runtime.InteropServices;

namespace Sandbox.Build.Tasks.Interop;

/// <summary>
/// access(2), which Tmds.LibC also declares; one function is not worth a package the task would have to ship in
/// tools/net/. Only the kernel answers "may I execute this" correctly: it knows the owner, root's rules, ACLs and
/// noexec mounts, none of which File.GetUnixFileMode shows.
/// </summary>
internal static partial class Libc
{
    public const int X_OK = 1;

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Access(string path, int mode);
}
