// errno in messages. The numbers and the last error come from Tmds.LibC (LibC.E*, LibC.errno, which also reads what
// the LibraryImports here set with SetLastError).
using System.Runtime.InteropServices;
using System.Text;

namespace Sandbox.Bundles.Interop;

internal static partial class Libc
{
    public static string Describe(int errno) => $"errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)})";

    /// <summary>A path as Tmds.LibC's calls take it: UTF-8 and NUL-terminated.</summary>
    public static byte[] CString(string s) => Encoding.UTF8.GetBytes(s + "\0");
}
