using Sandbox.Runtime.Interop;

namespace Sandbox.Runtime;

/// <summary>What this kernel's seccomp offers, probed with seccomp(2) itself.</summary>
internal static unsafe class SeccompHost
{
    private static int _userNotif; // 0 unknown, 1 yes, 2 no

    /// <summary>Whether SECCOMP_RET_USER_NOTIF is available (SECCOMP_GET_ACTION_AVAIL).</summary>
    public static bool UserNotificationAvailable()
    {
        if (_userNotif == 0)
        {
            var action = Sandbox.Seccomp.SeccompAction.UserNotif;
            var rc = Libc.Syscall(SyscallNumbers.ForCurrentArchitecture().Seccomp, Libc.SECCOMP_GET_ACTION_AVAIL, 0, (nint)(&action), 0, 0);
            _userNotif = rc == 0 ? 1 : 2;
        }
        return _userNotif == 1;
    }

    /// <summary>The kernel's sizes of the notification structures, or null where it has none.</summary>
    public static SeccompNotifSizes? NotificationSizes()
    {
        SeccompNotifSizes sizes;
        return Libc.Syscall(SyscallNumbers.ForCurrentArchitecture().Seccomp, Libc.SECCOMP_GET_NOTIF_SIZES, 0, (nint)(&sizes), 0, 0) == 0 ? sizes : null;
    }

    /// <summary>
    /// Whether the kernel knows a filter flag (or combination): seccomp(SET_MODE_FILTER, flags, NULL) checks them before it reads
    /// the program, so a known flag fails with EFAULT and an unknown one with EINVAL. Nothing is installed.
    /// </summary>
    public static bool FlagKnown(uint flag)
    {
        var rc = Libc.Syscall(SyscallNumbers.ForCurrentArchitecture().Seccomp, Libc.SECCOMP_SET_MODE_FILTER, (nint)flag, 0, 0, 0);
        return rc < 0 && Libc.Errno == Libc.EFAULT;
    }
}
