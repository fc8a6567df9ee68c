using System.Text.Json;
using Sandbox.Oci;
using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>
/// Hands a seccomp listener to the agent at linux.seccomp.listenerPath, as the runtime-spec says: a new AF_UNIX
/// SOCK_STREAM connection per container, one message whose data is the container process state (ociVersion, fds,
/// pid, metadata, state) and whose SCM_RIGHTS carries the listener, named "seccompFd" in fds. A failure is an error.
/// </summary>
internal static unsafe class ListenerForwarder
{
    public static void Send(string path, int listener, byte[] processState)
    {
        var socket = -1;
        try
        {
            socket = UnixSocket.Connect(path, (what, errno) => errno == Libc.ENAMETOOLONG
                ? new SandboxException(ErrorCodes.SeccompInvalid, $"$.linux.seccomp.listenerPath: {path} is longer than a unix socket path may be (107 bytes)",
                    "use a shorter path")
                : Failed(path, what, errno));
            fixed (byte* data = processState)
            {
                var space = LibC.CMSG_SPACE(sizeof(int));
                var control = stackalloc byte[space];
                new Span<byte>(control, space).Clear();
                var iov = new iovec { iov_base = data, iov_len = processState.Length };
                var msg = new msghdr { msg_iov = &iov, msg_iovlen = 1, msg_control = control, msg_controllen = space };
                var cmsg = LibC.CMSG_FIRSTHDR(&msg);
                cmsg->cmsg_len = UnixSocket.CmsgLenOfOneFd;
                cmsg->cmsg_level = LibC.SOL_SOCKET;
                cmsg->cmsg_type = LibC.SCM_RIGHTS;
                *(int*)LibC.CMSG_DATA(cmsg) = listener;
                long sent = LibC.sendmsg(socket, &msg, LibC.MSG_NOSIGNAL);
                if (sent < 0)
                {
                    throw Failed(path, "sendmsg", LibC.errno);
                }
                var rest = processState.AsSpan((int)sent);
                while (!rest.IsEmpty)
                {
                    fixed (byte* r = rest)
                    {
                        long n = LibC.write(socket, r, rest.Length);
                        if (n <= 0)
                        {
                            throw Failed(path, "write", LibC.errno);
                        }
                        rest = rest[(int)n..];
                    }
                }
            }
        }
        finally
        {
            if (socket >= 0)
            {
                LibC.close(socket);
            }
            LibC.close(listener);
        }
    }

    /// <summary>The container process state the agent receives.</summary>
    public static byte[] ProcessState(string ociVersion, int pid, string? metadata, byte[] state)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, JsonWriting.Options()))
        {
            w.WriteStartObject();
            w.WriteString("ociVersion", ociVersion);
            w.WriteStartArray("fds");
            w.WriteStringValue("seccompFd");
            w.WriteEndArray();
            w.WriteNumber("pid", pid);
            if (metadata is not null)
            {
                w.WriteString("metadata", metadata);
            }
            w.WritePropertyName("state");
            w.WriteRawValue(state, skipInputValidation: true);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static SandboxException Failed(string path, string what, int errno) =>
        new(ErrorCodes.SetupFailed, $"hand the seccomp listener to {path}: {what}: {Libc.Describe(errno)}",
            "start the seccomp agent that listens on linux.seccomp.listenerPath, or remove the SCMP_ACT_NOTIFY rules");
}
