using System.Text;
using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>A connected AF_UNIX stream socket to a path (the seccomp agent's listenerPath, a console socket).</summary>
internal static unsafe class UnixSocket
{
    /// <summary>
    /// CMSG_LEN(sizeof(int)), the cmsg_len of one SCM_RIGHTS descriptor, as C computes it (20 on 64-bit Linux):
    /// Tmds.LibC 0.5.0's CMSG_LEN rounds the data length up as well (24), which would send a second descriptor.
    /// </summary>
    public static int CmsgLenOfOneFd => LibC.CMSG_ALIGN(sizeof(cmsghdr)) + sizeof(int);

    /// <summary>The socket, close-on-exec; <paramref name="failed"/> makes the error for what failed and its errno.</summary>
    public static int Connect(string path, Func<string, int, SandboxException> failed)
    {
        var pathBytes = Encoding.UTF8.GetBytes(path);
        if (pathBytes.Length >= 108)
        {
            throw failed("the path is longer than a unix socket path may be (107 bytes)", Libc.ENAMETOOLONG);
        }
        var socket = LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        if (socket < 0)
        {
            throw failed("socket", LibC.errno);
        }
        sockaddr_un address = default;
        address.sun_family = (ushort)LibC.AF_UNIX;
        pathBytes.CopyTo(new Span<byte>(address.sun_path, 108));
        if (LibC.connect(socket, (sockaddr*)&address, 2 + pathBytes.Length + 1) != 0)
        {
            var errno = LibC.errno;
            LibC.close(socket);
            throw failed("connect", errno);
        }
        return socket;
    }
}
