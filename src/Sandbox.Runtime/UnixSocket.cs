using System.Text;
using Sandbox.Runtime.Interop;

namespace Sandbox.Runtime;

/// <summary>A connected AF_UNIX stream socket to a path (the seccomp agent's listenerPath, a console socket).</summary>
internal static unsafe class UnixSocket
{
    /// <summary>The socket, close-on-exec; <paramref name="failed"/> makes the error for what failed and its errno.</summary>
    public static int Connect(string path, Func<string, int, SandboxException> failed)
    {
        var pathBytes = Encoding.UTF8.GetBytes(path);
        if (pathBytes.Length >= 108)
        {
            throw failed("the path is longer than a unix socket path may be (107 bytes)", Libc.ENAMETOOLONG);
        }
        var socket = Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        if (socket < 0)
        {
            throw failed("socket", Libc.Errno);
        }
        var address = stackalloc byte[110];
        new Span<byte>(address, 110).Clear();
        address[0] = (byte)Libc.AF_UNIX;
        pathBytes.CopyTo(new Span<byte>(address + 2, 108));
        if (Libc.ConnectBlocking(socket, address, (uint)(2 + pathBytes.Length + 1)) != 0)
        {
            var errno = Libc.Errno;
            Libc.Close(socket);
            throw failed("connect", errno);
        }
        return socket;
    }
}
