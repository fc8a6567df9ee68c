// geteuid(2) and getegid(2): whether testhost runs as root, which decides whether sandboxes need user namespaces
// (HostCheck), and the ids an MTP test host's sandbox maps its user to (the controller's pipes accept only them).
using System.Runtime.InteropServices;

namespace Sandbox.TestAdapter.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    public static partial uint Getegid();
}
