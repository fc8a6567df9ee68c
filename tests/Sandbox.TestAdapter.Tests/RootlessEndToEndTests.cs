using System.Diagnostics;
using Sandbox.Build.Tasks.Tests;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// `dotnet build` and `dotnet test` as an ordinary user, as after `su` or `setpriv`: a throwaway user with a
/// directory of its own, no XDG_RUNTIME_DIR and no TMPDIR, runs an xunit v2 project with Sandbox.TestAdapter. Its
/// sandboxes are rootless (a user namespace mapping the user to root inside), the output directory's overlay has
/// the user's upper directory, and nothing of the user is left afterwards. Root is needed only to make the user.
/// </summary>
public sealed class RootlessEndToEndTests : IClassFixture<RootlessEndToEndTests.Runs>
{
    private readonly Runs _runs;

    public RootlessEndToEndTests(Runs runs) => _runs = runs;

    /// <summary>The user, its project built and tested once, then an attempt on its state root; all removed at the end.</summary>
    public sealed class Runs : IDisposable
    {
        public Runs()
        {
            try
            {
                var useradd = Command("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", User);
                Assert.True(useradd.ExitCode == 0, useradd.ToString());
                Uid = uint.Parse(Command("id", "-u", User).Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
                Gid = uint.Parse(Command("id", "-g", User).Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
                Root = Directory.CreateTempSubdirectory("sandbox-rootless-e2e-").FullName;
                File.SetUnixFileMode(Root, (UnixFileMode)0x1ed);
                Directory.CreateDirectory(Home);
                string version;
                using (var packages = new PackageFixture())
                {
                    version = packages.Version;
                }
                File.WriteAllText(Path.Combine(Root, "NuGet.config"), $"""
                    <?xml version="1.0" encoding="utf-8"?>
                    <configuration>
                      <packageSources>
                        <clear />
                        <add key="local" value="{Path.Combine(PackageFixture.RepoRoot, "artifacts/packages")}" />
                        <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
                      </packageSources>
                    </configuration>
                    """);
                File.WriteAllText(Path.Combine(Root, "Directory.Build.props"), "<Project />\n");
                File.WriteAllText(Path.Combine(Root, "Directory.Packages.props"), "<Project />\n");
                TestProject.Write(Project, "rootless",
                    """
                    <PackageReference Include="xunit" Version="2.9.3" />
                    <PackageReference Include="xunit.runner.visualstudio" Version="3.1.5" />
                    """ + TestProject.SandboxReference(version),
                    $$"""
                    using Xunit;
                    namespace Sample;
                    public class Rootless
                    {
                        [Fact] public void Passes() { }
                        [Fact]
                        public void Writes_beside_its_assembly()
                        {
                            var path = Path.Combine(AppContext.BaseDirectory, "written-by-test.txt");
                            File.WriteAllText(path, "x");
                            Assert.Equal("x", File.ReadAllText(path));
                        }
                        // Root in a user namespace that maps it to the user who ran dotnet test, and to nothing else.
                        [Fact] public void Runs_as_root_mapped_to_its_user() =>
                            Assert.Equal("0 {{Uid}} 1", string.Join(' ', File.ReadAllText("/proc/self/uid_map").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
                    }
                    """, "<AssemblyName>proj</AssemblyName>");
                Chown(Root);

                Build = AsUser(Project, "dotnet", "build", "-nologo");
                Test = AsUser(Project, "dotnet", "test", "--no-build", "--logger", $"trx;LogFileName={Root}/rootless.trx");
                WrittenFileReachedHost = File.Exists(Path.Combine(Project, "bin/Debug/net10.0/written-by-test.txt"));
                var deadline = Stopwatch.StartNew();
                while ((ProcessesLeft = ProcessesOfUser()).Count > 0 && deadline.Elapsed < TimeSpan.FromSeconds(10))
                {
                    Thread.Sleep(100);
                }
                RunDirectoriesLeft = [.. OwnedInTmp().Where(p => Path.GetFileName(p).StartsWith("sandbox-test-", StringComparison.Ordinal))];
                StateRootMode = Directory.Exists(StateRoot) ? File.GetUnixFileMode(StateRoot) : null;
                // The compiled-filter cache stays by design (docs/seccomp.md); a container's state directory may not.
                StateEntriesLeft = Directory.Exists(StateRoot)
                    ? [.. Directory.EnumerateFileSystemEntries(StateRoot).Where(e => Path.GetFileName(e) != ".seccomp-cache")] : [];

                // Another user (root here) creates the state root's name first, writable by all: `sandbox` must refuse it.
                Directory.Delete(StateRoot, recursive: true);
                Directory.CreateDirectory(StateRoot);
                File.SetUnixFileMode(StateRoot, (UnixFileMode)0x1ff);
                PlantedStateRoot = AsUser(Root, PackageFixture.SandboxExe, "state", "none");
                Directory.Delete(StateRoot);
                Directory.CreateSymbolicLink(StateRoot, Home);
                SymlinkedStateRoot = AsUser(Root, PackageFixture.SandboxExe, "state", "none");
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public string User { get; } = "sbxrl" + Guid.NewGuid().ToString("N")[..8];
        public uint Uid { get; }
        public uint Gid { get; }
        public string Root { get; } = "";
        public string Home => Path.Combine(Root, "home");
        public string Project => Path.Combine(Root, "project");
        /// <summary>Where `sandbox` keeps its state for this user when XDG_RUNTIME_DIR is unset.</summary>
        public string StateRoot => $"/tmp/sandbox-{Uid}";
        public CommandResult Build { get; } = new(-1, "");
        public CommandResult Test { get; } = new(-1, "");
        public bool WrittenFileReachedHost { get; }
        public List<int> ProcessesLeft { get; } = [];
        public List<string> RunDirectoriesLeft { get; } = [];
        public UnixFileMode? StateRootMode { get; }
        public List<string> StateEntriesLeft { get; } = [];
        public CommandResult PlantedStateRoot { get; } = new(-1, "");
        public CommandResult SymlinkedStateRoot { get; } = new(-1, "");

        /// <summary>`setpriv` to the user with the environment a `su` session has: its own HOME, no XDG_RUNTIME_DIR, no TMPDIR.</summary>
        private CommandResult AsUser(string dir, string program, params string[] args)
        {
            var psi = new ProcessStartInfo("setpriv") { WorkingDirectory = dir };
            foreach (var a in new[] { $"--reuid={Uid}", $"--regid={Gid}", "--clear-groups", "--", program }.Concat(args))
            {
                psi.ArgumentList.Add(a);
            }
            foreach (var name in new[] { "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "TMPDIR", "SANDBOX_CACHE", "SANDBOX_DISABLE", "DOTNET_CLI_HOME" })
            {
                psi.Environment.Remove(name);
            }
            psi.Environment["HOME"] = Home;
            psi.Environment["USER"] = User;
            psi.Environment["LOGNAME"] = User;
            psi.Environment["NUGET_PACKAGES"] = Path.Combine(Root, "nuget");
            psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            psi.Environment["DOTNET_NOLOGO"] = "1";
            psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
            psi.Environment["DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER"] = "1";
            return PackageFixture.Run(psi, TimeSpan.FromMinutes(6));
        }

        private static CommandResult Command(string program, params string[] args)
        {
            var psi = new ProcessStartInfo(program);
            foreach (var a in args)
            {
                psi.ArgumentList.Add(a);
            }
            return PackageFixture.Run(psi, TimeSpan.FromMinutes(1));
        }

        private void Chown(string path) => Assert.Equal(0, Command("chown", "-R", $"{Uid}:{Gid}", path).ExitCode);

        /// <summary>The pids of processes running as the user.</summary>
        private List<int> ProcessesOfUser()
        {
            var found = new List<int>();
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                try
                {
                    if (int.TryParse(Path.GetFileName(dir), out var pid)
                        && File.ReadLines(Path.Combine(dir, "status")).FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal)) is { } line
                        && line.Split('\t', StringSplitOptions.RemoveEmptyEntries).Skip(1).Contains(Uid.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                    {
                        found.Add(pid);
                    }
                }
                catch (IOException)
                {
                    // gone meanwhile
                }
            }
            return found;
        }

        /// <summary>What the user owns directly in /tmp (its run directories, its state root, MSBuild's and NuGet's scratch).</summary>
        private List<string> OwnedInTmp()
        {
            var r = Command("find", "/tmp", "-mindepth", "1", "-maxdepth", "1", "-uid", Uid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return [.. r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }

        public void Dispose()
        {
            if (Uid != 0)
            {
                foreach (var pid in ProcessesOfUser())
                {
                    // Only what this fixture's commands started runs as this user, created for the fixture.
                    Command("kill", "-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                foreach (var path in OwnedInTmp().Append(StateRoot))
                {
                    Command("rm", "-rf", "--one-file-system", path);
                }
            }
            if (Root.Length > 0)
            {
                Command("rm", "-rf", "--one-file-system", Root);
            }
            Command("userdel", User);
        }
    }

    [PrivilegedFact]
    public void An_ordinary_user_builds_and_tests_in_rootless_sandboxes()
    {
        Assert.True(_runs.Build.ExitCode == 0, _runs.Build.ToString());
        Assert.True(_runs.Test.ExitCode == 0, _runs.Test.ToString());
        var results = TrxResult.Read(Path.Combine(_runs.Root, "rootless.trx"));
        Assert.Equal(["Sample.Rootless.Passes", "Sample.Rootless.Runs_as_root_mapped_to_its_user", "Sample.Rootless.Writes_beside_its_assembly"],
            results.Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.All(results, r => Assert.Equal("Passed", r.Outcome));
        Assert.All(results, r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
    }

    [PrivilegedFact]
    public void A_file_written_beside_the_assembly_stays_in_the_sandbox_and_nothing_of_the_user_is_left()
    {
        Assert.True(_runs.Test.ExitCode == 0, _runs.Test.ToString());
        Assert.False(_runs.WrittenFileReachedHost, "the sandboxed test's file appeared in the user's output directory");
        Assert.Empty(_runs.ProcessesLeft);
        Assert.Empty(_runs.RunDirectoriesLeft);
        Assert.Equal((UnixFileMode)0x1c0, _runs.StateRootMode);
        Assert.Empty(_runs.StateEntriesLeft);
    }

    [PrivilegedFact]
    public void A_state_root_another_user_made_or_redirected_is_refused()
    {
        foreach (var r in new[] { _runs.PlantedStateRoot, _runs.SymlinkedStateRoot })
        {
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Contains("SBX3008", r.Output, StringComparison.Ordinal);
            Assert.Contains($"the state directory {_runs.StateRoot} is not a directory of uid {_runs.Uid}", r.Output, StringComparison.Ordinal);
        }
    }
}
