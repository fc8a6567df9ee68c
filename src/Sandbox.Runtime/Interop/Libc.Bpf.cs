// bpf(2), for cgroup v2's device filter (a BPF_PROG_TYPE_CGROUP_DEVICE program). Tmds.LibC does not declare it;
// the constants and layouts are checked against linux/bpf.h by KernelHeaderTests.
using System.Runtime.InteropServices;

namespace Sandbox.Runtime.Interop;

internal static unsafe partial class Libc
{
    public const int BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8, BPF_PROG_TYPE_CGROUP_DEVICE = 15, BPF_CGROUP_DEVICE = 6;
    public const uint BPF_F_ALLOW_MULTI = 2;
}

/// <summary>union bpf_attr for BPF_PROG_LOAD, up to prog_flags; the rest of the union is zero.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BpfProgLoadAttr
{
    public uint ProgType, InsnCnt;
    public ulong Insns, License;
    public uint LogLevel, LogSize;
    public ulong LogBuf;
    public uint KernVersion, ProgFlags;
}

/// <summary>union bpf_attr for BPF_PROG_ATTACH.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BpfProgAttachAttr
{
    public uint TargetFd, AttachBpfFd, AttachType, AttachFlags, ReplaceBpfFd;
}
