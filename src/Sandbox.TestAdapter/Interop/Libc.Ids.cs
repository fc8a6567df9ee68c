// geteuid(2): whether testhost runs as root, which decides whether sandboxes need user namespaces (HostCheck).
using System.Runtime.InteropServices;

namespace Sandbox.TestAdapter.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint Geteuid();
}
