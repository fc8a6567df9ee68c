using System.Buffers.Binary;
using System.Net;
using Sandbox.Runtime.Interop;
using Tmds.Linux;
using Sandbox.Seccomp;

namespace Sandbox.Runtime;

/// <summary>
/// Answers the seccomp notifications of a recording filter (<see cref="CompiledFilter.Profile"/>) on a thread of
/// `sandbox run`: each notified call is one the profile denies, so the answer is the profile's errno, found by
/// running the profile's own filter on the call. connect() and sendto() with an address arrive too when the filter
/// inspects addresses: they go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE) when the profile would let socket() create the
/// address's family, and are refused with the errno socket() would get otherwise. The kernel documents that CONTINUE
/// must not decide security, since the memory read can race; it does not here: socket() is refused by the filter
/// itself, and the address check only adds a refusal and a record for descriptors the container got from outside.
/// </summary>
internal sealed unsafe class SeccompSupervisor : IDisposable
{
    private int _listener = -1;
    private readonly CompiledFilter _filter;
    private readonly int _wakeRead = -1, _wakeWrite = -1;
    private readonly Thread? _thread;
    private readonly Dictionary<(string Name, int Errno), long> _denied = [];
    private readonly Dictionary<(string Name, string Family, string Address), long> _addresses = [];
    private bool _stopped;
    private byte* _notif, _resp;
    private int _notifSize, _respSize;

    private SeccompSupervisor(CompiledFilter filter, int wakeRead, int wakeWrite, bool threaded)
    {
        _filter = filter;
        _wakeRead = wakeRead;
        _wakeWrite = wakeWrite;
        _thread = threaded ? new Thread(Loop, 256 * 1024) { IsBackground = true, Name = "seccomp supervisor" } : null;
    }

    /// <summary>
    /// A supervisor whose notifications the caller's own wait answers (<see cref="Listener"/>, <see cref="AnswerOne"/>):
    /// `sandbox run` polls the listener with its signalfd while it waits for the container, so no thread is started.
    /// A thread's start cost a run with a report 0.5-1 ms (measured), most of it .NET's Thread.Start spinning with
    /// sched_yield until the new thread runs, while the container's setup kept both cores busy.
    /// </summary>
    public static SeccompSupervisor Inline(CompiledFilter filter) => new(filter, -1, -1, threaded: false);

    /// <summary>
    /// Starts the thread, which waits for <see cref="Attach"/>'s listener: for a run whose main thread may block before
    /// it waits for the container (poststart hooks, which could wait for a container that waits for an answer).
    /// Started as soon as the container's first process exists, while it sets up, so that the container, which waits
    /// for the listener's hand-over, does not wait for the thread's start too.
    /// </summary>
    public static SeccompSupervisor Prepare(CompiledFilter filter)
    {
        var wake = stackalloc int[2];
        if (LibC.pipe2(wake, LibC.O_CLOEXEC) != 0)
        {
            throw new SandboxException(ErrorCodes.SetupFailed, $"pipe for the seccomp supervisor: {Libc.Describe(LibC.errno)}", "raise the open-file limit");
        }
        var s = new SeccompSupervisor(filter, wake[0], wake[1], threaded: true);
        s._thread!.Start();
        return s;
    }

    /// <summary>
    /// Hands over the listener descriptor (the supervisor owns it from here on): a thread answers on it until
    /// <see cref="Stop"/>; an inline one when its caller's poll finds it readable.
    /// </summary>
    public void Attach(int listener)
    {
        Volatile.Write(ref _listener, listener);
        if (_thread is null)
        {
            Begin();
            return;
        }
        byte b = Attached;
        if (LibC.write(_wakeWrite, &b, 1) != 1)
        {
            throw new SandboxException(ErrorCodes.SetupFailed, $"hand the seccomp listener to its supervisor: {Libc.Describe(LibC.errno)}", "report this as a bug");
        }
    }

    /// <summary>The listener to poll for an inline supervisor; -1 before <see cref="Attach"/>, or once it is stopped.</summary>
    public int Listener => _thread is null && !_stopped ? _listener : -1;

    /// <summary>Answers one notification of an inline supervisor, whose listener <see cref="Listener"/> polled readable.</summary>
    public void AnswerOne() => Answer((SeccompNotif*)_notif, _notifSize, (SeccompNotifResp*)_resp, _respSize);

    /// <summary>The buffers the answers use, and the kernel's wake-up hint; on the thread that answers.</summary>
    private void Begin()
    {
        // A hint only: kernels before 6.6 refuse it, and answers are the same either way.
        Libc.IoctlBlocking(_listener, Libc.SECCOMP_IOCTL_NOTIF_SET_FLAGS, (void*)Libc.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
        // The kernel may know a larger seccomp_notif than this build: receive into a buffer of its size.
        var sizes = SeccompHost.NotificationSizes();
        _notifSize = Math.Max(sizeof(SeccompNotif), sizes?.Notif ?? 0);
        _respSize = Math.Max(sizeof(SeccompNotifResp), sizes?.NotifResp ?? 0);
        _notif = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)_notifSize);
        _resp = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)_respSize);
    }

    private const byte Attached = 2, Stopping = 1;

    /// <summary>Whether <see cref="Attach"/> gave it a listener: only then does its summary say what the filter denied.</summary>
    public bool IsAttached => Volatile.Read(ref _listener) >= 0;

    /// <summary>Stops answering (the container is gone) and returns what was recorded.</summary>
    public SeccompSummary Stop()
    {
        if (!_stopped)
        {
            _stopped = true;
            if (_thread is not null)
            {
                byte b = Stopping;
                LibC.write(_wakeWrite, &b, 1);
                _thread.Join();
            }
        }
        // Most frequent first, then by name. Sorted by hand: OrderBy/ThenBy resolve generic virtual methods at run time
        // in a NativeAOT binary (measured: 0.66 ms of every run with a report).
        var denied = new List<KeyValuePair<(string Name, int Errno), long>>(_denied);
        denied.Sort(static (a, b) => a.Value != b.Value ? b.Value.CompareTo(a.Value)
            : string.CompareOrdinal(a.Key.Name, b.Key.Name) is var byName && byName != 0 ? byName : a.Key.Errno.CompareTo(b.Key.Errno));
        var addresses = new List<KeyValuePair<(string Name, string Family, string Address), long>>(_addresses);
        addresses.Sort(static (a, b) => a.Value != b.Value ? b.Value.CompareTo(a.Value)
            : string.CompareOrdinal(a.Key.Address, b.Key.Address) is var byAddress && byAddress != 0 ? byAddress
            : string.CompareOrdinal(a.Key.Name, b.Key.Name) is var byName && byName != 0 ? byName : string.CompareOrdinal(a.Key.Family, b.Key.Family));
        var deniedCalls = new List<DeniedCall>(denied.Count);
        foreach (var (key, count) in denied)
        {
            deniedCalls.Add(new DeniedCall { Syscall = key.Name, Errno = key.Errno, ErrnoName = Libc.ErrnoName(key.Errno), Count = count });
        }
        var blocked = new List<BlockedAddress>(addresses.Count);
        foreach (var (key, count) in addresses)
        {
            blocked.Add(new BlockedAddress { Syscall = key.Name, Family = key.Family, Address = key.Address, Count = count });
        }
        return new SeccompSummary
        {
            Filtered = true,
            ViolationsRecorded = true,
            Denied = deniedCalls,
            BlockedAddresses = blocked,
        };
    }

    public void Dispose()
    {
        Stop();
        if (_listener >= 0)
        {
            LibC.close(_listener);
            _listener = -1;
        }
        if (_thread is not null)
        {
            LibC.close(_wakeRead);
            LibC.close(_wakeWrite);
        }
        System.Runtime.InteropServices.NativeMemory.Free(_notif);
        System.Runtime.InteropServices.NativeMemory.Free(_resp);
        _notif = _resp = null;
    }

    private void Loop()
    {
        // First the listener (Attach), or the end (Stop) when setup failed before the container sent one.
        byte first = 0;
        while (true)
        {
            var n = (long)LibC.read(_wakeRead, &first, 1);
            if (n == 1 || (n < 0 && LibC.errno != LibC.EINTR) || n == 0)
            {
                break;
            }
        }
        if (first != Attached)
        {
            return;
        }
        Begin(); // freed by Dispose, after Stop's Join
        var fds = stackalloc pollfd[2];
        while (true)
        {
            fds[0] = new pollfd { fd = _listener, events = LibC.POLLIN };
            fds[1] = new pollfd { fd = _wakeRead, events = LibC.POLLIN };
            if (LibC.poll(fds, 2, -1) < 0)
            {
                if (LibC.errno == LibC.EINTR)
                {
                    continue;
                }
                return;
            }
            if ((fds[0].revents & LibC.POLLIN) != 0)
            {
                AnswerOne();
                continue;
            }
            if (fds[1].revents != 0 || fds[0].revents != 0)
            {
                return; // asked to stop, or every process under the filter is gone (POLLHUP)
            }
        }
    }

    private void Answer(SeccompNotif* n, int notifSize, SeccompNotifResp* r, int respSize)
    {
        System.Runtime.InteropServices.NativeMemory.Clear(n, (nuint)notifSize);
        if (Libc.IoctlBlocking(_listener, Libc.SECCOMP_IOCTL_NOTIF_RECV, n) != 0)
        {
            return; // ENOENT: the caller died before we read it; EINTR: poll again
        }
        var args = new ulong[6];
        for (var i = 0; i < 6; i++)
        {
            args[i] = n->Data.Args[i];
        }
        var call = new SeccompData(n->Data.Nr, n->Data.Arch, args);
        var name = SyscallName(call.Arch, call.Nr);
        System.Runtime.InteropServices.NativeMemory.Clear(r, (nuint)respSize);
        r->Id = n->Id;
        var verdict = BpfInterpreter.Run(_filter.Profile!, call);
        if (_filter.InspectsAddresses && name is "connect" or "sendto" && verdict == SeccompAction.Allow)
        {
            var (pointer, length) = name == "connect" ? (args[1], args[2]) : (args[4], args[5]);
            var address = ReadAddress((int)n->Pid, pointer, length);
            ulong id = n->Id;
            var family = address?.Family ?? 0;
            var socketVerdict = address is null ? SeccompAction.Allow
                : BpfInterpreter.Run(_filter.Profile!, new SeccompData(SyscallNumber(call.Arch, "socket"), call.Arch, [family, 0, 0, 0, 0, 0]));
            if (socketVerdict == SeccompAction.Allow || Libc.IoctlBlocking(_listener, Libc.SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0)
            {
                r->Flags = Libc.SECCOMP_USER_NOTIF_FLAG_CONTINUE; // an allowed family, an unreadable address (the call gets EFAULT), or a dead caller
            }
            else
            {
                var errno = (socketVerdict & 0xffff0000) == SeccompAction.Errno ? (int)(socketVerdict & 0xffff) : Libc.EPERM;
                r->Error = -errno;
                var key = (name, address!.Value.FamilyName, address.Value.Text);
                _addresses[key] = _addresses.GetValueOrDefault(key) + 1;
            }
        }
        else if (SeccompCompiler.IsRecordedDenial(verdict))
        {
            var errno = (int)(verdict & 0xffff);
            r->Error = -errno;
            _denied[(name, errno)] = _denied.GetValueOrDefault((name, errno)) + 1;
        }
        else
        {
            r->Flags = Libc.SECCOMP_USER_NOTIF_FLAG_CONTINUE; // cannot happen with a filter this compiler made
        }
        Libc.IoctlBlocking(_listener, Libc.SECCOMP_IOCTL_NOTIF_SEND, r); // ENOENT when the caller died meanwhile
    }

    private readonly Dictionary<(uint Arch, int Nr), string> _names = [];

    private string SyscallName(uint audit, int nr)
    {
        if (!_names.TryGetValue((audit, nr), out var name))
        {
            var arch = audit == SeccompArch.Aarch64.AuditArch ? SeccompArch.Aarch64 : SeccompArch.X86_64;
            name = arch.Table.FirstOrDefault(t => t.Number == nr).Name ?? $"syscall {nr}";
            _names[(audit, nr)] = name;
        }
        return name;
    }

    private static int SyscallNumber(uint audit, string name) =>
        (audit == SeccompArch.Aarch64.AuditArch ? SeccompArch.Aarch64 : SeccompArch.X86_64).Numbers.GetValueOrDefault(name, -1);

    internal readonly record struct SocketAddress(ulong Family, string FamilyName, string Text);

    /// <summary>Reads a sockaddr from the caller's memory; null when there is none or it cannot be read.</summary>
    private static SocketAddress? ReadAddress(int pid, ulong pointer, ulong length)
    {
        if (pointer == 0 || length < 2)
        {
            return null;
        }
        var buffer = new byte[(int)Math.Min(length, 128)];
        fixed (byte* b = buffer)
        {
            var local = new IoVec { Base = b, Length = (nuint)buffer.Length };
            var remote = new IoVec { Base = (void*)pointer, Length = (nuint)buffer.Length };
            if (Libc.ProcessVmReadv(pid, &local, 1, &remote, 1, 0) != buffer.Length)
            {
                return null;
            }
        }
        return Describe(buffer);
    }

    /// <summary>A sockaddr as people write it: 10.1.2.3:80, [2001:db8::1]:53, a unix path, or the family number.</summary>
    internal static SocketAddress Describe(ReadOnlySpan<byte> sa)
    {
        var family = BinaryPrimitives.ReadUInt16LittleEndian(sa);
        switch (family)
        {
            case 2 when sa.Length >= 8:
                return new(family, "AF_INET", $"{new IPAddress(sa[4..8])}:{BinaryPrimitives.ReadUInt16BigEndian(sa[2..])}");
            case 10 when sa.Length >= 24:
                return new(family, "AF_INET6", $"[{new IPAddress(sa[8..24])}]:{BinaryPrimitives.ReadUInt16BigEndian(sa[2..])}");
            case 1:
                {
                    var path = sa[2..];
                    var end = path.IndexOf((byte)0);
                    var text = path.Length > 0 && path[0] == 0 ? "@" + System.Text.Encoding.UTF8.GetString(path[1..].TrimEnd((byte)0))
                        : System.Text.Encoding.UTF8.GetString(end >= 0 ? path[..end] : path);
                    return new(family, "AF_UNIX", text);
                }
            case 16:
                return new(family, "AF_NETLINK", "netlink");
            default:
                return new(family, $"family {family}", $"family {family}");
        }
    }
}
