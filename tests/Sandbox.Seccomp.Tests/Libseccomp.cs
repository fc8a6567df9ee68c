using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Sandbox.Seccomp.Tests;

/// <summary>
/// The part of libseccomp (seccomp.h, libseccomp.so.2) that the comparison with its filters uses. The constants and
/// the struct layout are checked against the header by LibseccompComparisonTests. Blittable signatures only: the
/// test project does not allow unsafe code, which LibraryImport's generated stubs need.
/// </summary>
internal static class Libseccomp
{
    public const string Library = "libseccomp.so.2";

    /// <summary>SCMP_ACT_* (the filter return values libseccomp emits); ERRNO and TRACE carry a 16-bit datum.</summary>
    public const uint ActKillProcess = 0x80000000, ActKillThread = 0x00000000, ActTrap = 0x00030000, ActNotify = 0x7fc00000,
        ActLog = 0x7ffc0000, ActAllow = 0x7fff0000;

    public static uint ActErrno(uint errno) => 0x00050000 | (errno & 0x0000ffff);

    public static uint ActTrace(uint msg) => 0x7ff00000 | (msg & 0x0000ffff);

    /// <summary>enum scmp_filter_attr's SCMP_FLTATR_ACT_BADARCH: what a call from an architecture not in the filter gets.</summary>
    public const int AttrActBadArch = 2;

    /// <summary>__NR_SCMP_ERROR: a name libseccomp does not know.</summary>
    public const int NrScmpError = -1;

    /// <summary>enum scmp_compare.</summary>
    public enum Compare
    {
        Ne = 1,
        Lt = 2,
        Le = 3,
        Eq = 4,
        Ge = 5,
        Gt = 6,
        MaskedEq = 7,
    }

    /// <summary>struct scmp_arg_cmp. Fields rather than a positional record, so the header check can ask for their offsets.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ArgCmp
    {
        public uint Arg;
        public Compare Op;
        public ulong DatumA;
        public ulong DatumB;
    }

    /// <summary>scmp_filter_ctx, released with seccomp_release.</summary>
    public sealed class FilterContext : SafeHandleZeroOrMinusOneIsInvalid
    {
        public FilterContext()
            : base(ownsHandle: true)
        {
        }

        protected override bool ReleaseHandle()
        {
            Release(handle);
            return true;
        }
    }

    /// <summary>Whether the shared library can be loaded here (Debian: the libseccomp2 package).</summary>
    public static bool IsAvailable { get; } = NativeLibrary.TryLoad(Library, typeof(Libseccomp).Assembly, null, out _);

    /// <summary>A NUL-terminated UTF-8 copy of a name, as the const char * parameters take it.</summary>
    public static byte[] CString(string s) => Encoding.UTF8.GetBytes(s + "\0");

    [DllImport(Library, EntryPoint = "seccomp_init")]
    public static extern FilterContext Init(uint defaultAction);

    [DllImport(Library, EntryPoint = "seccomp_release")]
    private static extern void Release(IntPtr ctx);

    [DllImport(Library, EntryPoint = "seccomp_attr_set")]
    public static extern int AttrSet(FilterContext ctx, int attr, uint value);

    [DllImport(Library, EntryPoint = "seccomp_arch_resolve_name")]
    public static extern uint ArchResolveName(byte[] name);

    [DllImport(Library, EntryPoint = "seccomp_arch_native")]
    public static extern uint ArchNative();

    [DllImport(Library, EntryPoint = "seccomp_arch_add")]
    public static extern int ArchAdd(FilterContext ctx, uint arch);

    [DllImport(Library, EntryPoint = "seccomp_arch_remove")]
    public static extern int ArchRemove(FilterContext ctx, uint arch);

    [DllImport(Library, EntryPoint = "seccomp_syscall_resolve_name")]
    public static extern int SyscallResolveName(byte[] name);

    [DllImport(Library, EntryPoint = "seccomp_syscall_resolve_name_arch")]
    public static extern int SyscallResolveNameArch(uint arch, byte[] name);

    [DllImport(Library, EntryPoint = "seccomp_rule_add_array")]
    public static extern int RuleAddArray(FilterContext ctx, uint action, int syscall, uint count, ArgCmp[]? args);

    [DllImport(Library, EntryPoint = "seccomp_export_bpf")]
    public static extern int ExportBpf(FilterContext ctx, int fd);
}
