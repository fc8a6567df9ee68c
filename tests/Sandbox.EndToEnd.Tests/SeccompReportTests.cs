using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Sandbox.Oci;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// What the filter refused, in the RunReport (through seccomp user notification, answered by `sandbox run`), and
/// SCMP_ACT_NOTIFY profiles whose listener goes to an agent at listenerPath, as the runtime-spec describes.
/// </summary>
public unsafe class SeccompReportTests
{
    private static JsonElement Seccomp(TestBundle b, out RunResult result, params string[] extra)
    {
        var report = Path.Combine(b.Dir, "report.json");
        result = b.Run([.. extra, "--report", report]);
        Assert.True(File.Exists(report), result.ToString());
        return JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("seccomp");
    }

    private static void WithProfile(TestBundle b, OciSeccomp profile) =>
        b.Config = b.Config with { Linux = b.Config.Linux! with { Seccomp = profile } };

    private static Dictionary<string, (int Errno, long Count)> Denied(JsonElement s) =>
        s.GetProperty("denied").EnumerateArray().ToDictionary(d => d.GetProperty("syscall").GetString()!,
            d => (d.GetProperty("errno").GetInt32(), d.GetProperty("count").GetInt64()));

    [PrivilegedFact]
    public void The_report_lists_the_calls_the_default_profile_denied_by_name_with_counts()
    {
        using var b = new TestBundle();
        b.Sh("mount -t tmpfs none /tmp 2>&1; mount -t tmpfs none /tmp 2>&1; unshare -n true 2>&1; umount /proc 2>&1; echo end");
        var s = Seccomp(b, out var r, "--seccomp", "default");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("mount: permission denied", r.Stdout, StringComparison.Ordinal); // the program saw EPERM
        Assert.EndsWith("end", r.Stdout.Trim(), StringComparison.Ordinal);
        Assert.True(s.GetProperty("filtered").GetBoolean());
        Assert.True(s.GetProperty("violationsRecorded").GetBoolean(), s.ToString());
        var denied = Denied(s);
        Assert.Equal((1, 2L), denied["mount"]);
        Assert.Equal((1, 1L), denied["unshare"]);
        Assert.Equal((1, 1L), denied["umount2"]);
        Assert.Equal(3, denied.Count); // nothing else: clone3's ENOSYS is a fallback, not a violation
        // Most frequent first, then by name.
        Assert.Equal(["mount", "umount2", "unshare"], s.GetProperty("denied").EnumerateArray().Select(d => d.GetProperty("syscall").GetString()!));
    }

    [PrivilegedFact]
    public void The_profiles_errno_reaches_the_program_and_the_report()
    {
        using var b = new TestBundle();
        b.Sh("mkdir /tmp/d 2>&1; echo rc=$?; touch /tmp/f && echo touched");
        WithProfile(b, new OciSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            Syscalls = [new OciSyscallRule { Names = ["mkdir", "mkdirat"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 13 }],
        });
        var s = Seccomp(b, out var r);
        Assert.Contains("Permission denied", r.Stdout, StringComparison.Ordinal); // EACCES, as configured
        Assert.Contains("touched", r.Stdout, StringComparison.Ordinal);
        var (name, (errno, count)) = Assert.Single(Denied(s));
        Assert.StartsWith("mkdir", name, StringComparison.Ordinal);
        Assert.Equal(13, errno);
        Assert.Equal(1, count);
        Assert.Equal("EACCES", s.GetProperty("denied")[0].GetProperty("errnoName").GetString());
    }

    [PrivilegedFact]
    public void The_hermetic_profile_reports_inet_sockets_and_the_addresses_a_connect_or_sendto_tried_to_reach()
    {
        using var b = new TestBundle();
        b.Config = b.Config with
        {
            Mounts = [.. b.Config.Mounts!, new OciMount { Destination = "/root", Type = "bind", Source = Probe.Value, Options = ["bind", "ro"] }],
        };
        b.WithArgs("/root/probe");
        var s = Seccomp(b, out var r, "--seccomp", "hermetic");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Trim().Split('\n');
        Assert.Equal(["connect-inet EPERM", "sendto-inet6 EPERM", "connect-unix ok", "socket-inet EPERM"], lines);
        var denied = Denied(s);
        Assert.Equal((1, 1L), Assert.Contains("socket", denied));
        Assert.Single(denied);
        var blocked = s.GetProperty("blockedAddresses").EnumerateArray()
            .Select(a => $"{a.GetProperty("syscall").GetString()} {a.GetProperty("family").GetString()} {a.GetProperty("address").GetString()} {a.GetProperty("count").GetInt64()}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["connect AF_INET 10.1.2.3:80 1", "sendto AF_INET6 [2001:db8::1]:53 1"], blocked);

        // Without a report nothing is notified: the kernel answers the same calls itself (EINVAL for the mismatched
        // family), and socket() is still refused by the filter.
        var plain = b.Run("--seccomp", "hermetic");
        Assert.Equal(["connect-inet EINVAL", "sendto-inet6 EINVAL", "connect-unix ok", "socket-inet EPERM"], plain.Stdout.Trim().Split('\n'));
    }

    [PrivilegedFact]
    public void Concurrent_denials_from_many_processes_are_all_answered_and_counted()
    {
        using var b = new TestBundle();
        b.Sh("for i in $(seq 100); do (mount -t tmpfs x /tmp 2>/dev/null; mount -t tmpfs y /tmp 2>/dev/null) & done; wait; echo end");
        var s = Seccomp(b, out var r, "--seccomp", "default", "--timeout", "60s");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("end", r.Stdout.Trim());
        Assert.Equal((1, 200L), Denied(s)["mount"]);
    }

    [PrivilegedFact]
    public void A_timeout_ends_a_container_that_keeps_making_denied_calls_and_leaves_nothing()
    {
        using var b = new TestBundle();
        b.Sh("while true; do mount -t tmpfs x /tmp 2>/dev/null; done");
        var s = Seccomp(b, out var r, "--seccomp", "default", "--timeout", "1s");
        Assert.Equal(137, r.ExitCode);
        Assert.True(Denied(s)["mount"].Count > 10, s.ToString());
        Assert.Empty(b.StateEntries);
    }

    /// <summary>
    /// Sandbox inside a sandbox: an enclosing filter already has a listener, and a filter chain has one. The profile's
    /// own filter is installed then (the calls are still denied), and the report says denials went unrecorded; a
    /// profile whose NOTIFY rules need the listener is an error that says why.
    /// </summary>
    [PrivilegedFact]
    public void Under_an_enclosing_listener_the_profile_still_applies_and_the_report_says_why_nothing_was_recorded()
    {
        using var b = new TestBundle();
        b.Sh("mount -t tmpfs none /tmp 2>&1; echo end");
        b.Write();
        var report = Path.Combine(b.Dir, "report.json");
        var r = SandboxHost.Run([.. b.Global, "run", "--seccomp", "default", "--report", report, "--bundle", b.Dir, b.Id], prefix: [Helper("nest")]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("mount: permission denied", r.Stdout, StringComparison.Ordinal);
        var s = JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("seccomp");
        Assert.True(s.GetProperty("filtered").GetBoolean());
        Assert.False(s.GetProperty("violationsRecorded").GetBoolean());
        Assert.Contains("enclosing seccomp filter", s.GetProperty("note").GetString(), StringComparison.Ordinal);

        WithProfile(b, new OciSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            ListenerPath = Path.Combine(b.Dir, "agent.sock"),
            Syscalls = [new OciSyscallRule { Names = ["mkdir"], Action = "SCMP_ACT_NOTIFY" }],
        });
        b.Write();
        var refused = SandboxHost.Run([.. b.Global, "run", "--bundle", b.Dir, b.Id], prefix: [Helper("nest")]);
        Assert.Equal(125, refused.ExitCode);
        Assert.Contains("EBUSY", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("enclosing seccomp filter already has a listener", refused.Stderr, StringComparison.Ordinal);
        Assert.Empty(b.StateEntries);
    }

    [PrivilegedFact]
    public void Without_a_filter_the_report_says_so()
    {
        using var b = new TestBundle();
        b.Sh("true");
        var s = Seccomp(b, out _, "--seccomp", "unconfined");
        Assert.False(s.GetProperty("filtered").GetBoolean());
        Assert.False(s.GetProperty("violationsRecorded").GetBoolean());
    }

    /// <summary>
    /// The test is the seccomp agent: it listens on listenerPath, receives the container process state and the
    /// listener over SCM_RIGHTS, and answers each mkdir with "success" without making the directory.
    /// </summary>
    [PrivilegedFact]
    public void A_notify_rule_hands_the_listener_to_the_agent_at_listener_path_which_answers_the_calls()
    {
        using var b = new TestBundle();
        var socketPath = Path.Combine(b.Dir, "agent.sock");
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(socketPath));
        server.Listen(1);
        b.Sh("mkdir /tmp/made && echo mkdir-ok; [ -d /tmp/made ] && echo exists || echo absent");
        WithProfile(b, new OciSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            ListenerPath = socketPath,
            ListenerMetadata = "test-agent",
            Syscalls = [new OciSyscallRule { Names = ["mkdir", "mkdirat"], Action = "SCMP_ACT_NOTIFY" }],
        });
        var report = Path.Combine(b.Dir, "report.json");
        var run = Task.Run(() => b.Run("--report", report));
        var accept = server.AcceptAsync();
        Task.WaitAny([accept, run], TimeSpan.FromSeconds(30));
        Assert.True(accept.IsCompleted, "sandbox never connected to the agent: " + (run.IsCompleted ? run.Result.ToString() : "still running"));
        using var conn = accept.Result;
        var (payload, listener) = ReceiveWithFd((int)conn.Handle);
        Assert.True(listener >= 0, "no descriptor came with the container process state");
        var answered = AnswerWithSuccess(listener, () => run.IsCompleted);
        var r = run.Result;
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["mkdir-ok", "absent"], r.Stdout.Trim().Split('\n'));
        Assert.Equal(1, answered);
        var state = JsonDocument.Parse(payload).RootElement;
        Assert.Equal(["seccompFd"], state.GetProperty("fds").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("test-agent", state.GetProperty("metadata").GetString());
        Assert.True(state.GetProperty("pid").GetInt32() > 1);
        Assert.Equal(b.Id, state.GetProperty("state").GetProperty("id").GetString());
        Assert.Equal(state.GetProperty("pid").GetInt32(), state.GetProperty("state").GetProperty("pid").GetInt32());
        Assert.False(string.IsNullOrEmpty(state.GetProperty("ociVersion").GetString()));
        // One listener per filter chain, and it is the agent's: the report says that nothing was recorded, and why.
        var seccomp = JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("seccomp");
        Assert.False(seccomp.GetProperty("violationsRecorded").GetBoolean());
        Assert.Contains("listenerPath", seccomp.GetProperty("note").GetString(), StringComparison.Ordinal);
    }

    /// <summary>With `create`, the filter is installed before `create` returns, which hands the listener to the agent.</summary>
    [PrivilegedFact]
    public void A_created_container_hands_its_listener_over_during_create_and_the_agent_answers_after_start()
    {
        using var b = new TestBundle();
        var socketPath = Path.Combine(b.Dir, "agent.sock");
        var output = Path.Combine(b.Dir, "out");
        Directory.CreateDirectory(output);
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(socketPath));
        server.Listen(1);
        b.Config = b.Config with
        {
            Mounts = [.. b.Config.Mounts!, new OciMount { Destination = "/out", Type = "bind", Source = output, Options = ["bind", "rw"] }],
        };
        b.Sh("mkdir /tmp/made && echo mkdir-ok > /out/r; [ -d /tmp/made ] && echo exists >> /out/r || echo absent >> /out/r");
        WithProfile(b, new OciSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            ListenerPath = socketPath,
            Syscalls = [new OciSyscallRule { Names = ["mkdir", "mkdirat"], Action = "SCMP_ACT_NOTIFY" }],
        });
        var create = Task.Run(() => b.Cli(["create", "--bundle", b.Dir, b.Id]));
        var accept = server.AcceptAsync();
        Task.WaitAny([accept, create], TimeSpan.FromSeconds(30));
        // create returns once the listener is sent, which can be just before the accept completes here.
        accept.Wait(create.IsCompleted ? TimeSpan.FromSeconds(5) : TimeSpan.Zero);
        Assert.True(accept.IsCompleted, "create never connected to the agent: " + (create.IsCompleted ? create.Result.ToString() : "still running"));
        using var conn = accept.Result;
        var (payload, listener) = ReceiveWithFd((int)conn.Handle);
        Assert.True(listener >= 0);
        Assert.True(create.Result.ExitCode == 0, create.Result.ToString());
        Assert.Equal("creating", JsonDocument.Parse(payload).RootElement.GetProperty("state").GetProperty("status").GetString());
        var result = Path.Combine(output, "r");
        Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);
        var answered = AnswerWithSuccess(listener, () => File.Exists(result) && File.ReadAllLines(result).Length >= 2);
        Assert.Equal(["mkdir-ok", "absent"], File.ReadAllLines(result));
        Assert.Equal(1, answered);
        Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);
    }

    /// <summary>Answers every notification with success (return 0) until <paramref name="done"/>, then closes the listener.</summary>
    private static int AnswerWithSuccess(int listener, Func<bool> done)
    {
        var answered = 0;
        try
        {
            var watch = Stopwatch.StartNew();
            while (!done() && watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                var pfd = new PollFd { Fd = listener, Events = 1 };
                if (poll(&pfd, 1, 100) <= 0 || (pfd.Revents & 1) == 0)
                {
                    continue;
                }
                SeccompNotif n = default;
                if (ioctl(listener, 0xc0502100, &n) != 0)
                {
                    continue;
                }
                var resp = new SeccompNotifResp { Id = n.Id, Val = 0, Error = 0, Flags = 0 };
                Assert.Equal(0, ioctl(listener, 0xc0182101, &resp));
                answered++;
            }
        }
        finally
        {
            close(listener);
        }
        return answered;
    }

    [PrivilegedFact]
    public void A_notify_rule_whose_agent_is_not_listening_is_an_error_and_leaves_nothing()
    {
        using var b = new TestBundle();
        b.Sh("echo never");
        WithProfile(b, new OciSeccomp
        {
            DefaultAction = "SCMP_ACT_ALLOW",
            ListenerPath = Path.Combine(b.Dir, "nobody.sock"),
            Syscalls = [new OciSyscallRule { Names = ["mkdir"], Action = "SCMP_ACT_NOTIFY" }],
        });
        var r = b.Run();
        Assert.Equal(125, r.ExitCode);
        Assert.DoesNotContain("never", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("SBX", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("nobody.sock: connect: ENOENT", r.Stderr, StringComparison.Ordinal);
        Assert.Empty(b.StateEntries);
    }

    private static readonly Lazy<string> Probe = new(() => Path.GetDirectoryName(Helper("probe"))!);

    /// <summary>The test's C helpers, compiled static once per test run into a directory the containers may bind.</summary>
    private static readonly Dictionary<string, string> HelperSources = new()
    {
        // Makes the calls the hermetic profile must refuse and report, and one it must allow.
        ["probe"] = """
            #define _GNU_SOURCE
            #include <stdio.h>
            #include <string.h>
            #include <errno.h>
            #include <unistd.h>
            #include <sys/socket.h>
            #include <sys/un.h>
            #include <netinet/in.h>
            #include <arpa/inet.h>
            static const char *e(int rc) { return rc < 0 ? strerrorname_np(errno) : "ok"; }
            int main(void) {
              int u = socket(AF_UNIX, SOCK_STREAM, 0);
              struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(80) };
              inet_pton(AF_INET, "10.1.2.3", &in.sin_addr);
              printf("connect-inet %s\n", e(connect(u, (struct sockaddr *)&in, sizeof in)));
              int d = socket(AF_UNIX, SOCK_DGRAM, 0);
              struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(53) };
              inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
              printf("sendto-inet6 %s\n", e(sendto(d, "x", 1, 0, (struct sockaddr *)&in6, sizeof in6)));
              struct sockaddr_un un = { .sun_family = AF_UNIX };
              strcpy(un.sun_path, "/tmp/probe.sock");
              int l = socket(AF_UNIX, SOCK_STREAM, 0);
              int rc = bind(l, (struct sockaddr *)&un, sizeof un);
              if (rc == 0) rc = listen(l, 1);
              int c = socket(AF_UNIX, SOCK_STREAM, 0);
              if (rc == 0) rc = connect(c, (struct sockaddr *)&un, sizeof un);
              printf("connect-unix %s\n", e(rc));
              printf("socket-inet %s\n", e(socket(AF_INET, SOCK_STREAM, 0)));
              return 0;
            }
            """,
        // Starts its arguments under a seccomp filter that has a listener, kept open here until they exit.
        ["nest"] = """
            #include <stddef.h>
            #include <stdio.h>
            #include <unistd.h>
            #include <sys/wait.h>
            #include <sys/prctl.h>
            #include <sys/syscall.h>
            #include <linux/filter.h>
            #include <linux/seccomp.h>
            int main(int argc, char **argv) {
              struct sock_filter code[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_acct, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
              };
              struct sock_fprog prog = { sizeof code / sizeof code[0], code };
              int listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
              if (listener < 0) { perror("seccomp"); return 2; }
              pid_t pid = fork();
              if (pid == 0) { execv(argv[1], argv + 1); perror("execv"); _exit(127); }
              int status;
              waitpid(pid, &status, 0);
              return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            """,
    };

    private static readonly Dictionary<string, Lazy<string>> Helpers = HelperSources.ToDictionary(h => h.Key, h => new Lazy<string>(() => Compile(h.Key, h.Value)));

    private static string Helper(string name) => Helpers[name].Value;

    private static string Compile(string name, string source)
    {
        var dir = ProcessScratch.Create($"sandbox-helper-{name}-"); // one per test process, not one per run left in /tmp
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ed);
        var src = Path.Combine(dir, name + ".c");
        File.WriteAllText(src, source);
        var exe = Path.Combine(dir, name);
        using var cc = Process.Start(new ProcessStartInfo("cc", $"-static -O2 -o {exe} {src}") { RedirectStandardError = true })!;
        var err = cc.StandardError.ReadToEnd();
        cc.WaitForExit();
        Assert.True(cc.ExitCode == 0, "cc -static: " + err);
        return exe;
    }

    private static (byte[] Payload, int Fd) ReceiveWithFd(int socket)
    {
        var buffer = new byte[64 * 1024];
        var total = 0;
        var fd = -1;
        var cmsg = stackalloc byte[24];
        while (true)
        {
            fixed (byte* b = buffer)
            {
                new Span<byte>(cmsg, 24).Clear();
                var iov = new IoVec { Base = b + total, Length = (nuint)(buffer.Length - total) };
                var msg = new MsgHdr { Iov = &iov, IovLength = 1, Control = cmsg, ControlLength = 24 };
                var n = recvmsg(socket, &msg, 0);
                if (n <= 0)
                {
                    break;
                }
                if (fd < 0 && msg.ControlLength >= 20 && *(int*)(cmsg + 8) == 1 && *(int*)(cmsg + 12) == 1)
                {
                    fd = *(int*)(cmsg + 16);
                }
                total += (int)n;
            }
        }
        return (buffer[..total], fd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events, Revents;
    }

    [StructLayout(LayoutKind.Sequential, Size = 80)]
    private struct SeccompNotif
    {
        public ulong Id;
        public uint Pid, Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SeccompNotifResp
    {
        public ulong Id;
        public long Val;
        public int Error;
        public uint Flags;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern nint recvmsg(int fd, MsgHdr* msg, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int ioctl(int fd, nuint request, void* arg);

    [DllImport("libc", SetLastError = true)]
    private static extern int poll(PollFd* fds, nuint n, int timeout);

    [DllImport("libc")]
    private static extern int close(int fd);
}
