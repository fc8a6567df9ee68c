using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>
/// The user namespace an id-mapped mount takes its mapping from: a child is cloned into a new user namespace, the
/// parent writes the maps and keeps a descriptor of the namespace, and the child exits. The namespace lives as long
/// as the descriptor (and the mounts made with it).
/// </summary>
internal static unsafe class IdmapNamespace
{
    /// <summary>A descriptor (close-on-exec) of a new user namespace with these maps.</summary>
    public static int Create(IReadOnlyList<IdMap> uidMap, IReadOnlyList<IdMap> gidMap)
    {
        var plan = new SetupPlan
        {
            CloneFlags = Libc.CLONE_NEWUSER,
            Steps = [new WaitForParentStep(), new ExitStep(0)],
            UidMap = uidMap,
            GidMap = gidMap,
        };
        var fd = -1;
        var error = 0;
        using var program = ChildProgram.Create(plan);
        // The namespace is taken while the child waits for its maps: they are written to the same namespace after.
        int pid;
        try
        {
            pid = ContainerLauncher.Launch(plan, program, _ => [], (p, _) =>
            {
                var path = NativeString($"/proc/{p}/ns/user");
                fixed (byte* s = path)
                {
                    fd = LibC.open(s, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
                }
                error = fd < 0 ? LibC.errno : 0;
            });
        }
        catch
        {
            if (fd >= 0)
            {
                LibC.close(fd);
            }
            throw;
        }
        int status;
        Libc.Wait4Blocking(pid, &status, 0, null);
        if (fd < 0)
        {
            throw new SandboxException(ErrorCodes.SetupFailed, $"open the user namespace for an id-mapped mount: {Libc.Describe(error)}",
                "id-mapped mounts need user namespaces: check `sandbox doctor`");
        }
        return fd;
    }

    private static byte[] NativeString(string s) => System.Text.Encoding.UTF8.GetBytes(s + "\0");
}
