using System.Text.Json;
using Sandbox.Runtime.Interop;

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
                var cmsg = new CmsgFd { Length = CmsgFd.LengthOfOne, Level = Libc.SOL_SOCKET, Type = Libc.SCM_RIGHTS, Fd = listener };
                var iov = new IoVec { Base = data, Length = (nuint)processState.Length };
                var msg = new MsgHdr { Iov = &iov, IovLength = 1, Control = &cmsg, ControlLength = CmsgFd.Size };
                var sent = Libc.SendmsgBlocking(socket, &msg, Libc.MSG_NOSIGNAL);
                if (sent < 0)
                {
                    throw Failed(path, "sendmsg", Libc.Errno);
                }
                var rest = processState.AsSpan((int)sent);
                while (!rest.IsEmpty)
                {
                    fixed (byte* r = rest)
                    {
                        var n = Libc.Write(socket, r, rest.Length);
                        if (n <= 0)
                        {
                            throw Failed(path, "write", Libc.Errno);
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
                Libc.Close(socket);
            }
            Libc.Close(listener);
        }
    }

    /// <summary>The container process state the agent receives.</summary>
    public static byte[] ProcessState(string ociVersion, int pid, string? metadata, byte[] state)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
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
