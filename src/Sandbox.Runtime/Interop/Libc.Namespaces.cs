// setns, unshare, sethostname, setdomainname and the CLONE_NEW* flags. Ours: the post-clone path makes these calls
// and the flags are compile-time constants of the plan (clone3 itself is a raw syscall; Tmds.LibC lacks it).
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const ulong CLONE_NEWTIME = 0x80, CLONE_NEWNS = 0x20000, CLONE_NEWCGROUP = 0x02000000, CLONE_NEWUTS = 0x04000000,
        CLONE_NEWIPC = 0x08000000, CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000, CLONE_PARENT = 0x8000;

    [DllImport("libc", EntryPoint = "setns", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Setns(int fd, int nstype);

    [DllImport("libc", EntryPoint = "unshare", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Unshare(int flags);

    [DllImport("libc", EntryPoint = "sethostname", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Sethostname(byte* name, nuint len);

    [DllImport("libc", EntryPoint = "setdomainname", ExactSpelling = true)]
    [SuppressGCTransition]
    public static extern int Setdomainname(byte* name, nuint len);
}
