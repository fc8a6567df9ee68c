// The floor: the least a C# (NativeAOT) program can do to run /bin/true the way the startup benchmark's bundle asks
// (user, pid, network, ipc, uts, mount and cgroup namespaces; uid/gid maps; loopback up; hostname; the rootfs
// bound, /proc, a tmpfs /dev, pivot_root) and nothing else: no config to read, no state, no devices, no checks,
// no error reporting. `floor` with no argument measures the runtime's own start and exit. What sandbox adds over
// this is what sandbox costs; what this costs over bubblewrap is what C# on NativeAOT costs.
// `floor ROOTFS [--bind SOURCE TARGET]... [--fs TYPE TARGET]... [--env NAME=VALUE]... [-- PROGRAM ARG...]` runs another
// program the same way, with host directories bound at their targets (which must exist in ROOTFS), filesystems of
// those types (tmpfs, sysfs, mqueue) mounted at theirs after /proc and /dev (a target under /dev is made first), and
// that environment: build.sh runs the .NET hello world in a sandbox.yaml bundle's rootfs with the bundle's mounts, to
// compare overheads on the same program.
using System.Runtime.InteropServices;

#pragma warning disable CA1416 // Linux only, like everything in eng/bench

if (args.Length == 0)
{
    return 0;
}
return Floor.Run(args[0], args[1..]);

internal static unsafe partial class Floor
{
    private const long CloneFlags = 0x10000000 | 0x20000000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x00020000 | 0x02000000 | 17;

    public static int Run(string rootfs, string[] rest)
    {
        var binds = new List<(nint Source, nint Target)>();
        var filesystems = new List<(nint Type, nint Target, bool UnderDev)>();
        var env = new List<nint>();
        var command = new List<nint>();
        for (var i = 0; i < rest.Length; i++)
        {
            if (rest[i] == "--bind" && i + 2 < rest.Length)
            {
                binds.Add((Marshal.StringToHGlobalAnsi(rest[i + 1]), Marshal.StringToHGlobalAnsi("." + rest[i + 2])));
                i += 2;
            }
            else if (rest[i] == "--fs" && i + 2 < rest.Length)
            {
                filesystems.Add((Marshal.StringToHGlobalAnsi(rest[i + 1]), Marshal.StringToHGlobalAnsi("." + rest[i + 2]), rest[i + 2].StartsWith("/dev/", StringComparison.Ordinal)));
                i += 2;
            }
            else if (rest[i] == "--env" && i + 1 < rest.Length)
            {
                env.Add(Marshal.StringToHGlobalAnsi(rest[++i]));
            }
            else if (rest[i] == "--")
            {
                command.AddRange(rest[(i + 1)..].Select(a => Marshal.StringToHGlobalAnsi(a)));
                break;
            }
        }
        var root = Marshal.StringToHGlobalAnsi(rootfs);
        var proc = Marshal.StringToHGlobalAnsi("proc");
        var tmpfs = Marshal.StringToHGlobalAnsi("tmpfs");
        var dev = Marshal.StringToHGlobalAnsi("dev");
        var dot = Marshal.StringToHGlobalAnsi(".");
        var slash = Marshal.StringToHGlobalAnsi("/");
        var name = Marshal.StringToHGlobalAnsi("floor");
        var lo = Marshal.StringToHGlobalAnsi("lo");
        if (command.Count == 0)
        {
            command.Add(Marshal.StringToHGlobalAnsi("/bin/true"));
        }
        var program = command[0];
        var argv = stackalloc nint[command.Count + 1];
        for (var i = 0; i < command.Count; i++)
        {
            argv[i] = command[i];
        }
        argv[command.Count] = 0;
        var envp = stackalloc nint[env.Count + 1];
        for (var i = 0; i < env.Count; i++)
        {
            envp[i] = env[i];
        }
        envp[env.Count] = 0;
        var ifreq = stackalloc byte[40];
        var go = stackalloc int[2];
        if (Pipe2(go, 0x80000) != 0)
        {
            return 125;
        }
        var pid = Syscall(56, CloneFlags, 0, 0, 0, 0, 0);
        if (pid == 0)
        {
            byte b;
            Read(go[0], &b, 1);
            Sethostname(name, 5);
            var s = Socket(2, 2 | 0x80000, 0);
            Buffer.MemoryCopy((void*)lo, ifreq, 40, 3);
            *(short*)(ifreq + 16) = 1 | 0x40; // IFF_UP | IFF_RUNNING
            Ioctl(s, 0x8914, ifreq);
            Mount(0, slash, 0, 0x40000 | 0x4000, 0); // MS_REC | MS_PRIVATE
            Mount(root, root, 0, 0x1000 | 0x4000, 0); // MS_BIND | MS_REC
            Chdir(root);
            foreach (var (source, target) in binds)
            {
                Mount(source, target, 0, 0x1000 | 0x4000, 0); // MS_BIND | MS_REC
            }
            Mount(proc, proc, proc, 0, 0);
            Mount(tmpfs, dev, tmpfs, 2, 0);
            foreach (var (type, target, underDev) in filesystems)
            {
                if (underDev)
                {
                    Mkdir(target, 0x1ed);
                }
                Mount(type, target, type, 2, 0); // MS_NOSUID
            }
            Syscall(155, dot, dot, 0, 0, 0, 0); // pivot_root(".", ".")
            Umount2(dot, 2);
            Chdir(slash);
            Execve(program, argv, envp);
            Exit(127);
        }
        var map = "0 0 65536\n"u8;
        fixed (byte* m = map)
        {
            foreach (var file in new[] { $"/proc/{pid}/uid_map", $"/proc/{pid}/gid_map" })
            {
                var path = Marshal.StringToHGlobalAnsi(file);
                var fd = Open(path, 1, 0);
                Write(fd, m, map.Length);
                Close(fd);
            }
        }
        byte one = 1;
        Write(go[1], &one, 1);
        int status;
        Waitpid((int)pid, &status, 0);
        return (status >> 8) & 0xff;
    }

    [DllImport("libc", EntryPoint = "syscall")] private static extern long Syscall(long n, long a, long b, long c, long d, long e, long f);
    [DllImport("libc", EntryPoint = "mount")] private static extern int Mount(nint source, nint target, nint type, ulong flags, nint data);
    [DllImport("libc", EntryPoint = "umount2")] private static extern int Umount2(nint target, int flags);
    [DllImport("libc", EntryPoint = "mkdir")] private static extern int Mkdir(nint path, int mode);
    [DllImport("libc", EntryPoint = "chdir")] private static extern int Chdir(nint path);
    [DllImport("libc", EntryPoint = "execve")] private static extern int Execve(nint path, nint* argv, nint* envp);
    [DllImport("libc", EntryPoint = "sethostname")] private static extern int Sethostname(nint name, nint length);
    [DllImport("libc", EntryPoint = "socket")] private static extern int Socket(int domain, int type, int protocol);
    [DllImport("libc", EntryPoint = "ioctl")] private static extern int Ioctl(int fd, nuint request, void* arg);
    [DllImport("libc", EntryPoint = "open")] private static extern int Open(nint path, int flags, int mode);
    [DllImport("libc", EntryPoint = "read")] private static extern nint Read(int fd, void* buffer, nint count);
    [DllImport("libc", EntryPoint = "write")] private static extern nint Write(int fd, void* buffer, nint count);
    [DllImport("libc", EntryPoint = "close")] private static extern int Close(int fd);
    [DllImport("libc", EntryPoint = "pipe2")] private static extern int Pipe2(int* fds, int flags);
    [DllImport("libc", EntryPoint = "waitpid")] private static extern int Waitpid(int pid, int* status, int options);
    [DllImport("libc", EntryPoint = "_exit")] private static extern void Exit(int code);
}
