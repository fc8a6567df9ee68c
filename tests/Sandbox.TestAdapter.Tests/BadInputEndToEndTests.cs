using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Sandbox.Build.Tasks.Tests;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// `dotnet test` of a generated xunit v2 project with Sandbox.TestAdapter fed what goes wrong in practice: a
/// sandbox.yaml with errors, a runtime that went missing after the build, tests that print megabytes, a test that
/// leaves a daemon behind, and a host that refuses user namespaces to an ordinary user.
/// </summary>
public sealed class BadInputEndToEndTests : IClassFixture<BadInputEndToEndTests.Project>
{
    private const string HostVariable = "SANDBOX_BADINPUT_HOST_VARIABLE";

    // The project's own Main (GenerateProgramFile=false): `dotnet exec bad.dll daemon MARKER` is the daemon a test
    // leaves behind, so it needs nothing in the sandbox but the .NET the agent runs on (the dotnet base has no shell).
    private const string Tests = """
        using System.Diagnostics;
        using Xunit;
        using Xunit.Abstractions;
        namespace Bad;
        public static class Program
        {
            public const string Marker = "{{MARKER}}";
            public static int Main(string[] args)
            {
                if (args.Length > 0 && args[0] == "daemon") { Thread.Sleep(Timeout.Infinite); }
                return 0;
            }
        }
        public class Quiet(ITestOutputHelper o)
        {
            [Fact] public void One() => o.WriteLine($"quiet one; host variable: {Environment.GetEnvironmentVariable("SANDBOX_BADINPUT_HOST_VARIABLE") ?? "absent"}");
            [Fact] public void Two() => o.WriteLine("quiet two");
            [Fact] public void Fails() => Assert.Fail("quiet fails");
        }
        public class Loud(ITestOutputHelper o)
        {
            [Fact]
            public void Console_20_MB()
            {
                var line = new string('c', 1023) + "\n";
                for (var i = 0; i < 20 * 1024; i++) { Console.Write(line); }
                Console.Out.Flush();
            }
            [Fact]
            public void Output_5_MB()
            {
                var line = new string('o', 1023);
                for (var i = 0; i < 5 * 1024; i++) { o.WriteLine(line); }
                o.WriteLine("end of the output");
            }
        }
        public class OverCap(ITestOutputHelper o)
        {
            // 20 MiB of plain text: over the protocol's 16 MiB line as it is.
            [Fact]
            public void Output_20_MB()
            {
                var line = new string('p', 1023);
                for (var i = 0; i < 20 * 1024; i++) { o.WriteLine(line); }
                o.WriteLine("end of the output");
            }
            // 3 MiB of markup characters: under the cap as text, but JSON escapes each of <"&'> as \u00XX, six bytes.
            [Fact]
            public void Markup_3_MB()
            {
                var line = string.Concat(Enumerable.Repeat("<\"&'>", 200));
                for (var i = 0; i < 3 * 1024; i++) { o.WriteLine(line); }
                o.WriteLine("end of the output");
            }
        }
        public class Daemon(ITestOutputHelper o)
        {
            [Fact]
            public void Starts_a_background_process_and_returns()
            {
                var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
                foreach (var a in new[] { "exec", typeof(Program).Assembly.Location, "daemon", Program.Marker }) { psi.ArgumentList.Add(a); }
                // Not waited for, not killed: it inherits the agent's stdout and stderr and sleeps forever.
                var p = Process.Start(psi)!;
                Thread.Sleep(1000);
                Assert.False(p.HasExited, "the daemon ended by itself");
                Assert.Contains(Program.Marker, File.ReadAllText($"/proc/{p.Id}/cmdline"));
                o.WriteLine($"daemon {p.Id} runs; /bin/sh in the sandbox: {File.Exists("/bin/sh")}");
            }
        }
        """;

    public sealed class Project : IDisposable
    {
        public Project()
        {
            Packages = new PackageFixture();
            Dir = TestProject.Write(Path.Combine(Packages.Root, "bad"), "bad", References(Packages.Version),
                Tests.Replace("{{MARKER}}", Marker, StringComparison.Ordinal), "<Nullable>enable</Nullable><GenerateProgramFile>false</GenerateProgramFile>");
            Build = Packages.Dotnet(Dir, "build", "-nologo");
            Assert.True(Build.ExitCode == 0, Build.ToString());
            Directory.CreateDirectory(TempDirectory);
        }

        public static string References(string version) => """
            <PackageReference Include="xunit" Version="2.9.3" />
            <PackageReference Include="xunit.runner.visualstudio" Version="3.1.5" />
            """ + TestProject.SandboxReference(version);

        public PackageFixture Packages { get; }
        public string Dir { get; }
        public string Output => Path.Combine(Dir, "bin/Debug/net10.0");
        public string Manifest => Path.Combine(Output, "bad.sandbox.json");
        public CommandResult Build { get; }
        public string TempDirectory => Path.Combine(Packages.Root, "tmp");
        /// <summary>The daemon's argument: no other process on the host has it.</summary>
        public string Marker { get; } = "sbx-daemon-" + Guid.NewGuid().ToString("N");
        private int _runs;

        /// <summary>`dotnet test --no-build` with a filter and runsettings arguments: its output, the TRX file's results (none when it wrote none) and how long it took.</summary>
        internal (CommandResult Output, List<TrxResult> Results, TimeSpan Took) Test(string filter, params string[] settings)
        {
            var trx = Path.Combine(Packages.Root, $"run{Interlocked.Increment(ref _runs)}.trx");
            var clock = Stopwatch.StartNew();
            var output = Packages.Dotnet(Dir, new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = null, ["TMPDIR"] = TempDirectory, [HostVariable] = "present" },
                ["test", "--no-build", "--filter", filter, "--logger", $"trx;LogFileName={trx}", "--", .. settings]);
            return (output, File.Exists(trx) ? TrxResult.Read(trx) : [], clock.Elapsed);
        }

        public void Dispose() => Packages.Dispose();
    }

    private readonly Project _project;

    public BadInputEndToEndTests(Project project) => _project = project;

    private static string Outcomes(IEnumerable<TrxResult> results) => string.Join(", ", results.Select(r => $"{r.Name}:{r.Outcome}").Order(StringComparer.Ordinal));

    [PrivilegedFact]
    public void A_sandbox_yaml_with_errors_fails_dotnet_test_at_each_errors_line_and_column_and_runs_nothing()
    {
        var dir = TestProject.Write(Path.Combine(_project.Packages.Root, "badyaml"), "badyaml", Project.References(_project.Packages.Version),
            "namespace BadYaml; public class T { [Xunit.Fact] public void Runs() { } }");
        File.WriteAllText(Path.Combine(dir, "sandbox.yaml"), """
            version: 1
            base: dotnet
            hostnmae: box
            limits:
              memory: lots
            test:
              isolation: sometimes
            """);
        var trx = Path.Combine(_project.Packages.Root, "badyaml.trx");
        var r = _project.Packages.Dotnet(dir, new Dictionary<string, string?> { ["SANDBOX_DISABLE"] = null, ["TMPDIR"] = _project.TempDirectory },
            "test", "--logger", $"trx;LogFileName={trx}");
        Assert.True(r.ExitCode != 0, r.ToString());
        // MSBuild's file(line,col): error CODE: the unknown key, the size that does not parse, the isolation that is no isolation.
        Assert.Matches(@"sandbox\.yaml\(3,1\): error SBX4005: [^\n]*hostnmae", r.Output);
        Assert.Matches(@"sandbox\.yaml\(5,11\): error SBX4008: [^\n]*lots", r.Output);
        Assert.Matches(@"sandbox\.yaml\(7,14\): error SBX4007: [^\n]*sometimes", r.Output);
        Assert.False(File.Exists(trx), "a TRX file was written: tests ran\n" + r);
        Assert.DoesNotContain("Total tests", r.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "bin/Debug/net10.0/badyaml.sandbox.json")), "the manifest was written although the spec is wrong");
    }

    [PrivilegedFact]
    public void Hidden_adapters_gone_after_the_build_is_SBX5021_with_the_fix_and_no_test_runs()
    {
        // The agent loads the framework's adapter before its request comes: a failure to is still said, after it.
        var hidden = Path.Combine(_project.Output, ".sandbox", "adapters");
        var aside = Path.Combine(_project.Packages.Root, "adapters-aside");
        Directory.Move(hidden, aside);
        try
        {
            Directory.CreateDirectory(hidden);
            var (output, results, _) = _project.Test("FullyQualifiedName~Bad.Quiet");
            Assert.True(output.ExitCode != 0, output.ToString());
            Assert.Contains("SBX5021: no framework test adapter in", output.Output, StringComparison.Ordinal);
            Assert.Contains("rebuild the test project", output.Output, StringComparison.Ordinal);
            Assert.True(results.Count == 0, Outcomes(results) + "\n" + output);
        }
        finally
        {
            Directory.Delete(hidden, recursive: true);
            Directory.Move(aside, hidden);
        }
    }

    [PrivilegedFact]
    public void A_runtime_missing_after_the_build_is_SBX5027_with_the_path_and_the_fix_and_AllowUnsandboxed_runs_unsandboxed_with_SBX5028_on_every_result()
    {
        var original = File.ReadAllText(_project.Manifest);
        var missing = Path.Combine(_project.Packages.Root, "gone", "sandbox");
        var manifest = JsonNode.Parse(original)!.AsObject();
        Assert.True(File.Exists((string)manifest["sandbox"]!), original);
        manifest["sandbox"] = missing;
        File.WriteAllText(_project.Manifest, manifest.ToJsonString());
        try
        {
            var (refused, refusedResults, _) = _project.Test("FullyQualifiedName~Bad.Quiet");
            Assert.True(refused.ExitCode != 0, refused.ToString());
            Assert.Contains($"SBX5027: bad.dll cannot run in a sandbox on this host: the runtime {missing} is missing: rebuild the test project", refused.Output, StringComparison.Ordinal);
            Assert.Contains("Sandbox.AllowUnsandboxed=true", refused.Output, StringComparison.Ordinal);
            Assert.True(refusedResults.Count == 0, Outcomes(refusedResults) + "\n" + refused);
            Assert.DoesNotContain("host variable:", refused.Output, StringComparison.Ordinal);

            var (allowed, results, _) = _project.Test("FullyQualifiedName~Bad.Quiet", "Sandbox.AllowUnsandboxed=true");
            Assert.True(allowed.ExitCode != 0, allowed.ToString()); // Quiet.Fails fails
            Assert.Contains($"SBX5028: bad.dll runs UNSANDBOXED (AllowUnsandboxed): the runtime {missing} is missing", allowed.Output, StringComparison.Ordinal);
            Assert.True(results.Count == 3, Outcomes(results) + "\n" + allowed);
            Assert.Equal("Bad.Quiet.Fails:Failed, Bad.Quiet.One:Passed, Bad.Quiet.Two:Passed", Outcomes(results));
            Assert.All(results, r => Assert.Contains(r.TextMessages, m => m.StartsWith("SBX5028 warning: this test ran UNSANDBOXED (AllowUnsandboxed): ", StringComparison.Ordinal) && m.Contains(missing, StringComparison.Ordinal)));
            Assert.All(results, r => Assert.DoesNotContain(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
            // Unsandboxed for real: the host's environment reaches the test.
            Assert.Contains("host variable: present", results.Single(r => r.Name == "Bad.Quiet.One").StdOut, StringComparison.Ordinal);
        }
        finally
        {
            File.WriteAllText(_project.Manifest, original);
        }
    }

    [PrivilegedFact]
    public void Tests_that_print_megabytes_pass_and_leave_the_other_results_intact()
    {
        var (output, results, took) = _project.Test("FullyQualifiedName~Bad.Loud|FullyQualifiedName~Bad.Quiet");
        Assert.True(results.Count == 5, Outcomes(results) + "\n" + Tail(output));
        Assert.Equal("Bad.Loud.Console_20_MB:Passed, Bad.Loud.Output_5_MB:Passed, Bad.Quiet.Fails:Failed, Bad.Quiet.One:Passed, Bad.Quiet.Two:Passed", Outcomes(results));
        var five = results.Single(r => r.Name == "Bad.Loud.Output_5_MB").StdOut;
        Assert.True(five.Length >= 5 * 1024 * 1024, $"{five.Length} characters of output");
        Assert.EndsWith("end of the output", five.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal("quiet fails", results.Single(r => r.Name == "Bad.Quiet.Fails").Message);
        Assert.Equal("quiet one; host variable: absent", results.Single(r => r.Name == "Bad.Quiet.One").StdOut.Trim());
        Assert.Equal("quiet two", results.Single(r => r.Name == "Bad.Quiet.Two").StdOut.Trim());
        Assert.All(results, r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
        Assert.DoesNotContain("SBX502", output.Output, StringComparison.Ordinal);
        Assert.True(took < TimeSpan.FromMinutes(2), $"took {took}");
    }

    [PrivilegedFact]
    public void A_result_larger_than_the_protocol_line_is_cut_to_fit_with_a_note_and_still_passes()
    {
        var (output, results, _) = _project.Test("FullyQualifiedName~Bad.OverCap|FullyQualifiedName~Bad.Quiet");
        Assert.True(results.Count == 5, Outcomes(results) + "\n" + Tail(output));
        Assert.True(Outcomes(results) == "Bad.OverCap.Markup_3_MB:Passed, Bad.OverCap.Output_20_MB:Passed, Bad.Quiet.Fails:Failed, Bad.Quiet.One:Passed, Bad.Quiet.Two:Passed",
            Outcomes(results) + "\n" + string.Join("\n", results.Select(r => $"{r.Name}: {r.Message} [{r.StdOut.Length} chars of output]")) + "\n" + Tail(output));
        Assert.DoesNotContain("SBX5023", output.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("SBX5024", output.Output, StringComparison.Ordinal);
        foreach (var name in new[] { "Bad.OverCap.Output_20_MB", "Bad.OverCap.Markup_3_MB" })
        {
            var stdout = results.Single(r => r.Name == name).StdOut;
            Assert.Matches(@"… \d+ bytes dropped", stdout);
            // The start and the end are kept.
            Assert.StartsWith(name.EndsWith("20_MB", StringComparison.Ordinal) ? "ppp" : "<\"&'>", stdout, StringComparison.Ordinal);
            Assert.EndsWith("end of the output", stdout.TrimEnd(), StringComparison.Ordinal);
            Assert.True(stdout.Length < LineChannel.MaxLineBytes, $"{name}: {stdout.Length} characters");
        }
        Assert.Equal("quiet fails", results.Single(r => r.Name == "Bad.Quiet.Fails").Message);
        Assert.All(results, r => Assert.Contains(r.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_agent_cuts_the_middle_of_a_result_too_large_for_a_protocol_line_and_leaves_a_small_one_alone()
    {
        static TestResultDto Result(string output) => new()
        {
            TestCase = new() { Id = Guid.NewGuid(), FullyQualifiedName = "Bad.T.Loud", DisplayName = "Loud", ExecutorUri = "executor://xunit/VsTestRunner2/netcoreapp", Source = "/x/bad.dll" },
            Outcome = 1,
            Messages = [new("StdOutMsgs", output)],
        };
        var small = Result(new string('s', 1_000_000));
        Assert.Same(small, Sandbox.TestAgent.ResultLimit.Fit(small));
        // 5 M characters of markup: 30 MB as JSON, each of them escaped to six bytes.
        var markup = string.Concat(Enumerable.Repeat("<\"&'>", 1_000_000)) + "end";
        var fitted = Sandbox.TestAgent.ResultLimit.Fit(Result(markup));
        var line = LineChannel.Serialize(new AgentMessage { Type = MessageTypes.Result, Result = fitted });
        Assert.InRange(line.Length, Sandbox.TestAgent.ResultLimit.MaxResultLineBytes / 2, Sandbox.TestAgent.ResultLimit.MaxResultLineBytes);
        Assert.Equal(1, fitted.Outcome);
        var text = Assert.Single(fitted.Messages).Text;
        Assert.StartsWith("<\"&'><\"&'>", text, StringComparison.Ordinal);
        Assert.EndsWith("<\"&'>end", text, StringComparison.Ordinal);
        var note = System.Text.RegularExpressions.Regex.Match(text, @"\n… (\d+) bytes dropped \(Sandbox: this result was larger than the agent protocol's 16 MiB line\) …\n");
        Assert.True(note.Success, text[..200]);
        // What was dropped is what is missing (ASCII: a byte a character).
        Assert.Equal(markup.Length - (text.Length - note.Length), long.Parse(note.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [PrivilegedFact]
    public void A_test_that_leaves_a_daemon_passes_the_run_ends_promptly_and_the_daemon_is_gone()
    {
        var (baseline, baselineResults, baselineTook) = _project.Test("FullyQualifiedName=Bad.Quiet.Two");
        Assert.True(baselineResults.Count == 1, baseline.ToString());
        var (output, results, took) = _project.Test("FullyQualifiedName~Bad.Daemon");
        var survivors = HostProcesses.With(_project.Marker);
        Assert.True(survivors.Count == 0, "left on the host: " + string.Join("; ", survivors) + "\n" + output);
        var result = Assert.Single(results);
        Assert.True(result.Outcome == "Passed", result.Message + "\n" + output);
        Assert.Matches(@"daemon \d+ runs", result.StdOut);
        Assert.Contains(result.TextMessages, m => m.StartsWith("Sandbox: peak memory", StringComparison.Ordinal));
        // A sandbox that waited for its daemon would end only when the adapter gives up on it (a minute).
        Assert.True(took < baselineTook + TimeSpan.FromSeconds(30), $"the run took {took}, one quiet test {baselineTook}");
        Assert.Empty(Directory.GetDirectories(_project.TempDirectory, "sandbox-test-*"));
    }

    [PrivilegedFact]
    public void A_host_that_refuses_user_namespaces_to_the_user_is_SBX5027_with_sandbox_doctors_reason()
    {
        var user = "sbxbi" + Guid.NewGuid().ToString("N")[..8];
        var home = Directory.CreateTempSubdirectory("sandbox-badinput-user-").FullName;
        Assert.Equal(0, Command("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", user).ExitCode);
        var uid = Command("id", "-u", user).Output.Trim();
        try
        {
            var gid = Command("id", "-g", user).Output.Trim();
            Assert.Equal(0, Command("chown", $"{uid}:{gid}", home).ExitCode);
            string[] asUser = ["setpriv", $"--reuid={uid}", $"--regid={gid}", "--clear-groups", "--"];
            var sandbox = (string)JsonNode.Parse(File.ReadAllText(_project.Manifest))!["sandbox"]!;
            // NuGet extracted it (into this class's own cache) executable by its owner, root, only.
            File.SetUnixFileMode(sandbox, File.GetUnixFileMode(sandbox) | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

            // The same user on this host as it is: user namespaces work, so what follows is the limit's doing.
            var free = DoctorLine(UserRun(home, [.. asUser, sandbox, "doctor"], limitUserNamespaces: false));
            Assert.Contains(" ok ", free, StringComparison.Ordinal);
            var limited = DoctorLine(UserRun(home, [.. asUser, sandbox, "doctor"], limitUserNamespaces: true));
            Assert.DoesNotContain(" ok ", limited, StringComparison.Ordinal);

            var trx = Path.Combine(home, "refused.trx");
            var r = UserRun(home, [.. asUser, "dotnet", "test", _project.Dir, "--no-build", "--filter", "FullyQualifiedName~Bad.Quiet",
                "--results-directory", Path.Combine(home, "results"), "--logger", $"trx;LogFileName={trx}"], limitUserNamespaces: true);
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.True(r.Output.Contains("SBX5027: bad.dll cannot run in a sandbox on this host: sandbox doctor says: " + limited.Trim(), StringComparison.Ordinal), $"{limited}\n{r}");
            Assert.Contains("or run the tests as root", r.Output, StringComparison.Ordinal);
            Assert.True(!File.Exists(trx) || TrxResult.Read(trx).Count == 0, r.ToString());
            Assert.DoesNotContain("host variable:", r.Output, StringComparison.Ordinal);
        }
        finally
        {
            // The user's state root too, which `sandbox doctor` and the adapter made (XDG_RUNTIME_DIR is unset).
            Command("rm", "-rf", "--one-file-system", home, $"/tmp/sandbox-{uid}");
            Command("userdel", user);
        }
    }

    private static string DoctorLine(CommandResult doctor) =>
        doctor.Output.Split('\n').FirstOrDefault(l => l.StartsWith("user namespaces:", StringComparison.Ordinal)) ?? throw new InvalidOperationException("no user namespaces line:\n" + doctor);

    /// <summary>
    /// <paramref name="command"/> (a setpriv to the user) with the user's environment; with
    /// <paramref name="limitUserNamespaces"/>, inside a user namespace of root's (every id mapped to itself) whose own
    /// user.max_user_namespaces is 0, so no namespace below it can have a user namespace: the host's sysctl is untouched.
    /// </summary>
    private CommandResult UserRun(string home, string[] command, bool limitUserNamespaces)
    {
        var psi = new ProcessStartInfo(limitUserNamespaces ? "unshare" : command[0]) { WorkingDirectory = home, RedirectStandardOutput = true, RedirectStandardError = true };
        IEnumerable<string> args = limitUserNamespaces
            // The first shell was exec'd before its ids were mapped, with no capabilities; the second, run as root of the namespace, has them.
            ? ["--user", "--", "sh", "-c",
                "while [ -z \"$(cat /proc/self/gid_map)\" ]; do sleep 0.05; done; exec sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"' sh \"$@\"",
                "sh", .. command]
            : command[1..];
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var name in new[] { "XDG_RUNTIME_DIR", "SANDBOX_DISABLE", "DOTNET_CLI_HOME", "SANDBOX_CACHE" })
        {
            psi.Environment.Remove(name);
        }
        psi.Environment["HOME"] = home;
        psi.Environment["TMPDIR"] = home;
        psi.Environment["NUGET_PACKAGES"] = _project.Packages.NuGetCache;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER"] = "1";
        psi.Environment[HostVariable] = "present";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (limitUserNamespaces)
        {
            var ours = new FileInfo("/proc/self/ns/user").LinkTarget;
            var clock = Stopwatch.StartNew();
            while (new FileInfo($"/proc/{p.Id}/ns/user").LinkTarget == ours && !p.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(20);
            }
            File.WriteAllText($"/proc/{p.Id}/uid_map", "0 0 4294967295\n");
            File.WriteAllText($"/proc/{p.Id}/gid_map", "0 0 4294967295\n");
        }
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{string.Join(' ', command)} did not finish in 5 minutes");
        }
        p.WaitForExit();
        return new CommandResult(p.ExitCode, stdout.Result + stderr.Result);
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

    /// <summary>The end of a run's output: a failed megabyte run's whole output would bury the message.</summary>
    private static string Tail(CommandResult r) => r.Output.Length <= 8000 ? r.ToString() : $"exit {r.ExitCode}\n[…]{r.Output[^8000..]}";
}
