using System.Diagnostics;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// Small static C programs that attack from inside a container what busybox cannot reach (keyrings, io_uring,
/// raw descriptors), compiled once per test run with the system compiler into a directory the tests bind in.
/// </summary>
public static class Probes
{
    /// <summary>The directory holding every probe, to bind read-only at /probe.</summary>
    public static string Dir => LazyDir.Value;

    private static readonly Lazy<string> LazyDir = new(Build);

    private static readonly Dictionary<string, string> Sources = new()
    {
        // keys add NAME PAYLOAD: into the user keyring; keys find NAME: prints the payload or the errno.
        ["keys"] = """
            #include <stdio.h>
            #include <string.h>
            #include <errno.h>
            #include <unistd.h>
            #include <sys/syscall.h>
            #include <linux/keyctl.h>
            int main(int argc, char **argv) {
              if (argc == 4 && !strcmp(argv[1], "add")) {
                long k = syscall(SYS_add_key, "user", argv[2], argv[3], strlen(argv[3]), KEY_SPEC_USER_KEYRING);
                if (k < 0) { printf("add: errno %d\n", errno); return 1; }
                printf("added %ld\n", k); return 0;
              }
              if (argc == 3 && !strcmp(argv[1], "find")) {
                long k = syscall(SYS_request_key, "user", argv[2], NULL, 0);
                if (k < 0) { printf("find: errno %d\n", errno); return 1; }
                char buf[256]; long n = syscall(SYS_keyctl, KEYCTL_READ, k, buf, sizeof buf - 1);
                if (n < 0) { printf("read: errno %d\n", errno); return 1; }
                buf[n] = 0; printf("payload %s\n", buf); return 0;
              }
              if (argc == 3 && !strcmp(argv[1], "unlink")) {
                long k = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", argv[2], 0);
                if (k >= 0) syscall(SYS_keyctl, KEYCTL_UNLINK, k, KEY_SPEC_USER_KEYRING);
                return 0;
              }
              return 2;
            }
            """,
        // uring: sets up an io_uring instance, the way around a filter that sees socket() but not the ring's ops.
        ["uring"] = """
            #include <stdio.h>
            #include <string.h>
            #include <errno.h>
            #include <unistd.h>
            #include <sys/syscall.h>
            #include <linux/io_uring.h>
            int main(void) {
              struct io_uring_params p; memset(&p, 0, sizeof p);
              long fd = syscall(__NR_io_uring_setup, 4, &p);
              if (fd < 0) { printf("io_uring_setup: errno %d\n", errno); return 1; }
              printf("io_uring_setup: ok\n"); return 0;
            }
            """,
    };

    private static string Build()
    {
        var dir = ProcessScratch.Create("sandbox-probes-");
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ed);
        foreach (var (name, source) in Sources)
        {
            var c = Path.Combine(dir, name + ".c");
            File.WriteAllText(c, source);
            CProgram.Compile(c, Path.Combine(dir, name), "-static", "-O1");
        }
        return dir;
    }

    /// <summary>Runs a probe on the host, as the test process's user.</summary>
    public static string RunOnHost(string name, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(Path.Combine(Dir, name), args) { RedirectStandardOutput = true })!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }
}
