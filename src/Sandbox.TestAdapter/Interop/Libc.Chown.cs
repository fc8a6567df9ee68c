// chown(2), for the owner of a run's overlay upper directory (SandboxRun.Config). Declared here: the adapter
// loads into the user's testhost with no dependency of its own, so Tmds.LibC is not available to it.
using System.Runtime.InteropServices;

namespace Sandbox.TestAdapter.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chown(string path, uint owner, uint group);

    public static void Chown(string path, uint uid, uint gid)
    {
        if (chown(path, uid, gid) != 0)
        {
            throw new IOException($"chown {path} {uid}:{gid} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }
}
