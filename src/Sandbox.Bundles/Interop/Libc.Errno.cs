using System.Runtime.InteropServices;

namespace Sandbox.Bundles.Interop;

internal static partial class Libc
{
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EXDEV = 18, EEXIST = 17, ENOTDIR = 20, EINVAL = 22,
        ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, EOPNOTSUPP = 95;

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => $"errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)})";
}
