using System.Text.Json;
using Microsoft.Build.Framework;

namespace Sandbox.Build.Tasks.Tests;

/// <summary>The task with stand-ins for `sandbox-build`: shell scripts that print what the real one prints.</summary>
public sealed class SandboxBuildBundleTests : IDisposable
{
    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private readonly string _project = Directory.CreateTempSubdirectory("sandbox-task-").FullName;
    private readonly FakeBuildEngine _engine = new();

    public SandboxBuildBundleTests()
    {
        Directory.CreateDirectory(Path.Combine(_project, "bin/Debug/net10.0"));
        Directory.CreateDirectory(Path.Combine(_project, "tools"));
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);

    /// <summary>A stand-in `sandbox-build` running <paramref name="body"/>, and a `sandbox` beside it.</summary>
    private void Tools(string body, UnixFileMode mode = (UnixFileMode)0x1ed)
    {
        var build = Path.Combine(_project, "tools/sandbox-build");
        ExecutableFile.Write(build, "#!/bin/sh\n" + body + "\n", mode);
        ExecutableFile.Write(Path.Combine(_project, "tools/sandbox"), "#!/bin/sh\nexit 0\n", mode);
    }

    /// <summary>The task as the targets call it, with relative paths that only the project directory resolves.</summary>
    private SandboxBuildBundle Task(string? spec = null) => new()
    {
        BuildEngine = _engine,
        TaskEnvironment = TaskEnvironment.CreateWithProjectDirectoryAndEnvironment(_project,
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["SANDBOX_FAKE"] = "from-the-project" }),
        SpecFile = spec,
        DefaultSpecTemplate = TemplatePath,
        DefaultSpecFile = "obj/sandbox/sandbox.yaml",
        OutputDirectory = "bin/Debug/net10.0/",
        BundleDirectory = "obj/sandbox/bundle",
        ManifestFile = "bin/Debug/net10.0/app.sandbox.json",
        ToolsDirectory = "tools",
        ToolCopyDirectory = "obj/sandbox/tools",
    };

    internal static string TemplatePath => Path.Combine(AppContext.BaseDirectory, "Sandbox.Build.default.yaml");

    [Fact]
    public void Success_writes_the_default_spec_starts_sandbox_build_in_the_project_environment_and_writes_the_manifest()
    {
        // The stand-in records its arguments, directory and environment, then prints a digest as sandbox-build does.
        Tools($"printf '%s\\n' \"$@\" > \"$PWD/args\"; echo \"$SANDBOX_FAKE\" > \"$PWD/env\"; echo {Digest}");
        var task = Task();
        Assert.True(task.Execute(), _engine.ErrorsText);
        Assert.Equal(Digest, task.BundleDigest);

        var spec = Path.Combine(_project, "obj/sandbox/sandbox.yaml");
        var bundle = Path.Combine(_project, "obj/sandbox/bundle");
        Assert.Equal(["build", spec, "-o", bundle], File.ReadAllLines(Path.Combine(_project, "args")));
        Assert.Equal("from-the-project", File.ReadAllText(Path.Combine(_project, "env")).Trim());

        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(_project, "bin/Debug/net10.0/app.sandbox.json")));
        var m = manifest.RootElement;
        Assert.Equal(1, m.GetProperty("version").GetInt32());
        Assert.Equal(bundle, m.GetProperty("bundle").GetString());
        Assert.Equal(Digest, m.GetProperty("digest").GetString());
        Assert.Equal(spec, m.GetProperty("spec").GetString());
        Assert.True(m.GetProperty("defaultSpec").GetBoolean());
        Assert.Equal(Path.Combine(_project, "bin/Debug/net10.0/"), m.GetProperty("outputDirectory").GetString());
        Assert.Equal(Path.Combine(_project, "tools/sandbox"), m.GetProperty("sandbox").GetString());
        Assert.Equal(Path.Combine(_project, "tools/sandbox-build"), m.GetProperty("sandboxBuild").GetString());
    }

    /// <summary>
    /// A descriptor open for writing on the tool makes exec fail with ETXTBSY; in a multi-threaded build it is a
    /// child of another task, forked while the tool's copy was being written, and gone when that child execs.
    /// </summary>
    [Fact]
    public void A_tool_busy_for_a_moment_is_started_once_it_is_free()
    {
        Tools($"echo {Digest}");
        var writer = new FileStream(Path.Combine(_project, "tools/sandbox-build"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        using var release = new Timer(_ => writer.Dispose(), null, 200, Timeout.Infinite);
        var task = Task();
        Assert.True(task.Execute(), _engine.ErrorsText);
        Assert.Equal(Digest, task.BundleDigest);
    }

    [Fact]
    public void A_spec_error_becomes_an_msbuild_error_at_its_file_line_and_column()
    {
        var yaml = Path.Combine(_project, "sandbox.yaml");
        File.WriteAllText(yaml, "version: 1\n");
        Tools($"""
            echo "sandbox: SBX4005: {yaml}:12:5: SBX4005: unknown key \`hostnmae\` at the top level (hint: did you mean \`hostname\`?)" >&2
            echo "{yaml}:14:3: SBX4008: \`limits.time\` 30 has no unit" >&2
            echo "  hint: fix the 2 problems listed above" >&2
            exit 125
            """);
        Assert.False(Task("sandbox.yaml").Execute());
        Assert.Equal(2, _engine.Errors.Count);
        var first = _engine.Errors[0];
        Assert.Equal((yaml, 12, 5, "SBX4005"), (first.File, first.LineNumber, first.ColumnNumber, first.Code));
        Assert.Equal("unknown key `hostnmae` at the top level (hint: did you mean `hostname`?)", first.Message);
        Assert.Equal((yaml, 14, 3, "SBX4008"), (_engine.Errors[1].File, _engine.Errors[1].LineNumber, _engine.Errors[1].ColumnNumber, _engine.Errors[1].Code));
        Assert.False(File.Exists(Path.Combine(_project, "bin/Debug/net10.0/app.sandbox.json")));
    }

    [Fact]
    public void A_runtime_error_keeps_its_code_and_hint()
    {
        Tools("""
            echo "sandbox: SBX3008: /x: Permission denied" >&2
            echo "  hint: check the paths and permissions named above" >&2
            exit 125
            """);
        Assert.False(Task().Execute());
        var e = Assert.Single(_engine.Errors);
        Assert.Equal("SBX3008", e.Code);
        Assert.Equal("/x: Permission denied (hint: check the paths and permissions named above)", e.Message);
    }

    [Fact]
    public void A_failure_without_an_error_line_says_so_with_the_exit_code_and_the_output()
    {
        Tools("echo 'Segmentation fault' >&2; exit 139");
        Assert.False(Task().Execute());
        var e = Assert.Single(_engine.Errors);
        Assert.Equal("SBX5004", e.Code);
        Assert.Contains("exited with code 139: Segmentation fault", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_success_without_a_digest_is_an_error()
    {
        Tools("echo done");
        Assert.False(Task().Execute());
        Assert.Equal("SBX5006", Assert.Single(_engine.Errors).Code);
    }

    [Fact]
    public void A_missing_tool_is_an_error_that_says_what_to_do()
    {
        Assert.False(Task().Execute());
        var e = Assert.Single(_engine.Errors);
        Assert.Equal("SBX5002", e.Code);
        Assert.Contains(Path.Combine(_project, "tools/sandbox"), e.Message, StringComparison.Ordinal);
        Assert.Contains("SandboxEnabled=false", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_spec_is_an_error()
    {
        Tools($"echo {Digest}");
        Assert.False(Task("nope/sandbox.yaml").Execute());
        var e = Assert.Single(_engine.Errors);
        Assert.Equal("SBX5005", e.Code);
        Assert.Contains(Path.Combine(_project, "nope/sandbox.yaml"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tools_this_user_cannot_execute_are_run_from_executable_copies_in_obj()
    {
        // 0644, as in a NuGet cache another user restored (NuGet writes 0744): not executable, not even for root.
        Tools($"echo {Digest}", (UnixFileMode)0x1a4);
        var task = Task();
        Assert.True(task.Execute(), _engine.ErrorsText);
        var copy = Path.Combine(_project, "obj/sandbox/tools/sandbox-build");
        Assert.Equal((UnixFileMode)0x1ed, File.GetUnixFileMode(copy));
        Assert.Equal((UnixFileMode)0x1a4, File.GetUnixFileMode(Path.Combine(_project, "tools/sandbox-build")));
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(_project, "bin/Debug/net10.0/app.sandbox.json")));
        Assert.Equal(Path.Combine(_project, "obj/sandbox/tools/sandbox"), manifest.RootElement.GetProperty("sandbox").GetString());
        Assert.Equal(copy, manifest.RootElement.GetProperty("sandboxBuild").GetString());
    }

    [Fact]
    public void Cancel_kills_a_sandbox_build_that_hangs()
    {
        Tools("sleep 300");
        var task = Task();
        bool? result = null;
        var run = new Thread(() => result = task.Execute());
        run.Start();
        SpinWait.SpinUntil(() => File.Exists(Path.Combine(_project, "obj/sandbox/sandbox.yaml")), TimeSpan.FromSeconds(10));
        Thread.Sleep(200);
        task.Cancel();
        Assert.True(run.Join(TimeSpan.FromSeconds(30)), "Execute did not return after Cancel");
        Assert.False(result);
    }
}
