using System.Diagnostics;
using System.Text.Json;
using Sandbox.Oci;
using Sandbox.Tests.Shared;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// `process.terminal` with `--console-socket` on run, create and exec: the pty master arrives over the socket (as
/// runc's recvtty and podman's conmon receive it), the process has the slave as its controlling terminal and stdio.
/// </summary>
public class TerminalTests
{
    private static readonly Lazy<string> Receiver = new(CompileReceiver);

    /// <summary>A console socket listener: prints the name sent with the master, types its second argument, then copies the terminal's output.</summary>
    private static string CompileReceiver()
    {
        var dir = ProcessScratch.Create("sandbox-recvtty-");
        var source = Path.Combine(dir, "recvtty.c");
        File.WriteAllText(source, """
            #include <fcntl.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/socket.h>
            #include <sys/un.h>
            #include <unistd.h>
            int main(int argc, char **argv) {
              int s = socket(AF_UNIX, SOCK_STREAM, 0);
              struct sockaddr_un a = {0};
              a.sun_family = AF_UNIX;
              strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
              if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) { perror("bind"); return 1; }
              char ready[256];
              snprintf(ready, sizeof ready, "%s.ready", argv[1]);
              close(open(ready, O_CREAT | O_WRONLY, 0600));
              int c = accept(s, 0, 0);
              char name[64] = {0}, ctl[CMSG_SPACE(sizeof(int))];
              struct iovec iov = { name, sizeof name - 1 };
              struct msghdr m = {0};
              m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
              if (recvmsg(c, &m, 0) <= 0) { perror("recvmsg"); return 1; }
              struct cmsghdr *h = CMSG_FIRSTHDR(&m);
              if (!h || h->cmsg_type != SCM_RIGHTS) { fprintf(stderr, "no descriptor\n"); return 1; }
              int master;
              memcpy(&master, CMSG_DATA(h), sizeof master);
              printf("name=%s\n", name);
              fflush(stdout);
              if (argc > 2) write(master, argv[2], strlen(argv[2]));
              char buf[4096];
              ssize_t n;
              while ((n = read(master, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
              return 0;
            }
            """);
        var exe = Path.Combine(dir, "recvtty");
        CProgram.Compile(source, exe);
        return exe;
    }

    /// <summary>A receiver listening on a socket in the bundle's directory, ready once it returns.</summary>
    private static (Process Receiver, string Socket) Listen(TestBundle b, string input)
    {
        var socket = Path.Combine(b.Dir, "console.sock");
        var p = Process.Start(new ProcessStartInfo(Receiver.Value, [socket, input]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        SandboxHost.WaitUntil(() => File.Exists(socket + ".ready") || p.HasExited, TimeSpan.FromSeconds(10), "the console socket to listen");
        if (p.HasExited)
        {
            Assert.Fail("the console socket receiver failed: " + p.StandardError.ReadToEnd());
        }
        return (p, socket);
    }

    /// <summary>What the receiver got: the pty's name, then everything the terminal showed (CR LF as LF).</summary>
    private static (string Name, string Output) Received(Process p)
    {
        var stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            p.Kill();
            Assert.Fail("the terminal was never closed");
        }
        var text = stdout.Result.Replace("\r\n", "\n", StringComparison.Ordinal);
        var first = text.IndexOf('\n', StringComparison.Ordinal);
        Assert.True(text.StartsWith("name=", StringComparison.Ordinal), text + p.StandardError.ReadToEnd()); // it has exited
        return (text[5..first], text[(first + 1)..]);
    }

    private const string Probe = "read line; echo got:$line; tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty; stty size; "
        + "ls -l $(tty) | awk '{print $3}'";

    [PrivilegedFact]
    public void Run_sends_the_pty_master_and_the_process_has_the_terminal()
    {
        using var b = new TestBundle();
        b.Sh(Probe);
        b.Config = b.Config with { Process = b.Process with { Terminal = true, ConsoleSize = new OciBox { Height = 33, Width = 101 } } };
        var (receiver, socket) = Listen(b, "ping\n");
        using (receiver)
        {
            var r = b.Run("--console-socket", socket);
            Assert.True(r.ExitCode == 0, r.ToString());
            var (name, output) = Received(receiver);
            Assert.Matches("^/dev/pts/[0-9]+$", name);
            // The typed line is echoed by the terminal, then read from stdin; tty names the pty sent.
            Assert.Contains("ping\ngot:ping\n" + name + "\nall-tty\n33 101\nroot\n", output, StringComparison.Ordinal);
        }
    }

    [PrivilegedFact]
    public void Create_sends_the_master_before_it_returns_and_exec_gets_a_terminal_of_its_own()
    {
        using var b = new TestBundle();
        b.Sh("read line; echo first:$line; sleep 600");
        b.Config = b.Config with { Process = b.Process with { Terminal = true } };
        var (first, socket) = Listen(b, "one\n");
        using (first)
        {
            var created = b.Cli(["create", "--console-socket", socket, "--bundle", b.Dir, b.Id]);
            Assert.True(created.ExitCode == 0, created.ToString());
            Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);

            File.Delete(socket);
            File.Delete(socket + ".ready");
            var (second, socket2) = Listen(b, "two\n");
            using (second)
            {
                var r = b.Cli(["exec", "--tty", "--console-socket", socket2, b.Id, "sh", "-c", Probe.Replace("stty size; ", "", StringComparison.Ordinal)]);
                Assert.True(r.ExitCode == 0, r.ToString());
                var (name, output) = Received(second);
                Assert.Contains("two\ngot:two\n" + name + "\nall-tty\nroot\n", output, StringComparison.Ordinal);
            }
            Assert.Equal(0, b.Cli(["kill", b.Id, "KILL"]).ExitCode);
            var (firstName, firstOutput) = Received(first);
            Assert.Matches("^/dev/pts/[0-9]+$", firstName);
            Assert.Contains("one\nfirst:one\n", firstOutput, StringComparison.Ordinal);
        }
    }

    [PrivilegedFact]
    public void A_detached_terminal_needs_a_console_socket_and_a_socket_needs_a_terminal()
    {
        using var b = new TestBundle();
        b.Sh("true");
        b.Config = b.Config with { Process = b.Process with { Terminal = true } };
        var r = b.Cli(["create", "--bundle", b.Dir, b.Id]);
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(ErrorCodes.Usage, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("--console-socket", r.Stderr, StringComparison.Ordinal);

        // exec in the foreground keeps the terminal itself, as run does; detached, it has nobody to give it to.
        b.Config = b.Config with { Process = b.Process with { Terminal = false, Args = ["sleep", "600"] } };
        Assert.Equal(0, b.Cli(["create", "--bundle", b.Dir, b.Id]).ExitCode);
        Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);
        var exec = b.Cli(["exec", "--tty", b.Id, "sh", "-c", "tty"]);
        Assert.True(exec.ExitCode == 0, exec.ToString());
        Assert.Matches("^/dev/pts/[0-9]+\r\n$", exec.Stdout);
        exec = b.Cli(["exec", "--tty", "--detach", b.Id, "true"]);
        Assert.Equal(125, exec.ExitCode);
        Assert.Contains("--console-socket", exec.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, b.Cli(["delete", "--force", b.Id]).ExitCode);

        b.Config = b.Config with { Process = b.Process with { Terminal = false } };
        r = b.Run("--console-socket", Path.Combine(b.Dir, "nobody-listens"));
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("terminal", r.Stderr, StringComparison.Ordinal);

        b.Config = b.Config with { Process = b.Process with { Terminal = true } };
        r = b.Run("--console-socket", Path.Combine(b.Dir, "nobody-listens"));
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("connect: ENOENT", r.Stderr, StringComparison.Ordinal);
        Assert.Empty(b.StateEntries);
    }

    [PrivilegedFact]
    public void Run_without_a_console_socket_joins_the_terminal_to_its_own_stdio()
    {
        // As runc runs it in the foreground: the pty's output on sandbox's stdout (CR LF, as a terminal writes it).
        using var b = new TestBundle();
        b.Sh("tty; [ -t 0 ] && echo tty-in; exit 3");
        b.Config = b.Config with { Process = b.Process with { Terminal = true } };
        var r = b.Run();
        Assert.Equal(3, r.ExitCode);
        Assert.Equal("/dev/pts/0\r\ntty-in\r\n", r.Stdout);
    }

    [PrivilegedFact]
    public void A_rootless_container_gets_its_terminal_from_its_own_devpts()
    {
        const string nobody = "65534";
        using var b = new TestBundle(rootless: true, uid: 65534);
        var state = b.SharedStateRoot();
        b.Sh("tty; [ -t 0 ] && echo tty-in; ls -ln $(tty) | awk '{print $3}'");
        b.Config = b.Config with { Process = b.Process with { Terminal = true } };
        b.Write();
        var r = SandboxHost.Run(["--root", state, "run", "--bundle", b.Dir, b.Id], asUser: nobody);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("/dev/pts/0\r\ntty-in\r\n0\r\n", r.Stdout);
    }

    [PrivilegedFact]
    public void A_process_file_with_a_terminal_gets_one_from_exec()
    {
        using var b = new TestBundle();
        b.WithArgs("sleep", "600");
        Assert.Equal(0, b.Cli(["create", "--bundle", b.Dir, b.Id]).ExitCode);
        Assert.Equal(0, b.Cli(["start", b.Id]).ExitCode);
        var file = Path.Combine(b.Dir, "process.json");
        var process = new OciProcess { Terminal = true, Args = ["sh", "-c", "tty; [ -t 0 ] && echo tty-in"], Cwd = "/", Env = ["PATH=/bin"] };
        File.WriteAllText(file, JsonSerializer.Serialize(process, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
        var (receiver, socket) = Listen(b, "");
        using (receiver)
        {
            var r = b.Cli(["exec", "--process", file, "--console-socket", socket, b.Id]);
            Assert.True(r.ExitCode == 0, r.ToString());
            var (name, output) = Received(receiver);
            Assert.Equal(name + "\ntty-in\n", output);
        }
    }
}
