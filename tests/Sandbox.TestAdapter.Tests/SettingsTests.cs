using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Sandbox.TestAdapter;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAdapter.Tests;

/// <summary>Where a run's settings come from (defaults, sandbox.yaml's test: section, runsettings, environment, the
/// MSBuild switch), which one wins, and how the tests of an assembly are grouped into sandboxes.</summary>
public sealed class SettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-adapter-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string? NoEnvironment(string _) => null;

    private string Source(string name)
    {
        Directory.CreateDirectory(Path.Combine(_dir, name));
        return Path.Combine(_dir, name, "proj.dll");
    }

    private static SandboxSettings Resolve(string? xml, string source, ProjectTestSettings? project = null, Func<string, string?>? env = null) =>
        RunSandboxSettings.Parse(xml, env ?? NoEnvironment).For(source, project);

    [Fact]
    public void Without_settings_tests_are_sandboxed_one_sandbox_per_assembly_one_sandbox_per_CPU_at_once_with_no_timeouts()
    {
        var s = Resolve(null, Source("a"));
        Assert.True(s.Enabled);
        Assert.Equal("assembly", s.Isolation);
        Assert.Equal(Environment.ProcessorCount, s.EffectiveParallel);
        Assert.Null(s.Timeout);
        Assert.Null(s.TestTimeout);
        Assert.False(s.AllowUnsandboxed);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("true")]
    public void SANDBOX_DISABLE_turns_it_off_over_everything(string value)
    {
        var project = new ProjectTestSettings("/p/sandbox.yaml", true, null, null, null, null, null);
        var s = Resolve("<RunSettings><Sandbox><Enabled>true</Enabled></Sandbox></RunSettings>", Source("a"), project, n => n == "SANDBOX_DISABLE" ? value : null);
        Assert.False(s.Enabled);
        Assert.Equal("SANDBOX_DISABLE=1", s.DisabledBy);
    }

    [Fact]
    public void The_runsettings_section_is_read_as_dotnet_test_dash_dash_writes_it()
    {
        // `dotnet test -- Sandbox.Enabled=false Sandbox.Isolation=Test ...` becomes these nested elements.
        const string xml = "<RunSettings><RunConfiguration /><Sandbox><Enabled>False</Enabled><Isolation>Test</Isolation><Timeout>1m30s</Timeout>"
            + "<TestTimeout>500ms</TestTimeout><Parallel>3</Parallel><AllowUnsandboxed>true</AllowUnsandboxed></Sandbox></RunSettings>";
        var s = Resolve(xml, Source("a"));
        Assert.False(s.Enabled);
        Assert.Equal("the runsettings' Sandbox.Enabled=false", s.DisabledBy);
        Assert.Equal("test", s.Isolation);
        Assert.Equal(TimeSpan.FromSeconds(90), s.Timeout);
        Assert.Equal(TimeSpan.FromMilliseconds(500), s.TestTimeout);
        Assert.Equal(3, s.EffectiveParallel);
        Assert.True(s.AllowUnsandboxed);
    }

    [Fact]
    public void Runsettings_win_over_the_sandbox_yaml_test_section_key_by_key()
    {
        var project = new ProjectTestSettings("/p/sandbox.yaml", null, "class", 2, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(3), true);
        var s = Resolve("<RunSettings><Sandbox><Isolation>test</Isolation><TestTimeout>7</TestTimeout></Sandbox></RunSettings>", Source("a"), project);
        Assert.Equal("test", s.Isolation);
        Assert.Equal(TimeSpan.FromSeconds(7), s.TestTimeout);
        Assert.Equal(2, s.EffectiveParallel);
        Assert.Equal(TimeSpan.FromMinutes(3), s.Timeout);
        Assert.True(s.AllowUnsandboxed);
        Assert.True(s.Enabled);
    }

    [Fact]
    public void Enabled_false_in_sandbox_yaml_runs_unsandboxed_and_says_where_it_was_said()
    {
        var s = Resolve(null, Source("a"), new ProjectTestSettings("/p/sandbox.yaml", false, null, null, null, null, null));
        Assert.False(s.Enabled);
        Assert.Equal("enabled: false in /p/sandbox.yaml", s.DisabledBy);
    }

    [Theory]
    [InlineData("<Isolation>method</Isolation>", "Sandbox.Isolation: 'method' is not an isolation: use assembly, class or test")]
    [InlineData("<Parallel>0</Parallel>", "Sandbox.Parallel: '0' is not a positive whole number")]
    [InlineData("<Parallel>two</Parallel>", "Sandbox.Parallel: 'two' is not a positive whole number")]
    [InlineData("<TestTimeout>soon</TestTimeout>", "Sandbox.TestTimeout: 'soon' is not a duration")]
    [InlineData("<Timeout>0s</Timeout>", "Sandbox.Timeout: '0s' is not a duration")]
    [InlineData("<Enabled>maybe</Enabled>", "Sandbox.Enabled: 'maybe' is not true or false")]
    public void A_wrong_setting_is_an_error_with_its_code_that_says_what_to_write(string element, string message)
    {
        var e = Assert.Throws<AdapterException>(() => RunSandboxSettings.Parse($"<RunSettings><Sandbox>{element}</Sandbox></RunSettings>", NoEnvironment));
        Assert.Equal("SBX5026", e.Code);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_project_built_with_SandboxEnabled_false_runs_unsandboxed_and_only_that_project()
    {
        var off = Source("off");
        var on = Source("on");
        Directory.CreateDirectory(Path.Combine(_dir, "off/.sandbox"));
        File.WriteAllText(SandboxSettings.DisabledMarker(off), "SandboxEnabled=false");
        var run = RunSandboxSettings.Parse(null, NoEnvironment);
        Assert.False(run.For(off, null).Enabled);
        Assert.Equal("the MSBuild property SandboxEnabled=false", run.For(off, null).DisabledBy);
        Assert.True(run.For(on, null).Enabled);
    }

    [Fact]
    public void The_bundles_test_json_is_read_and_a_broken_one_is_an_error_naming_the_file()
    {
        var bundle = Directory.CreateDirectory(Path.Combine(_dir, "bundle")).FullName;
        Assert.Null(ProjectTestSettings.Read(bundle));
        File.WriteAllText(Path.Combine(bundle, "test.json"),
            """{"version":1,"source":"/p/sandbox.yaml","isolation":"class","parallel":4,"testTimeoutMs":30000,"timeoutMs":null,"enabled":true,"allowUnsandboxed":false}""");
        var t = ProjectTestSettings.Read(bundle)!;
        Assert.Equal(new ProjectTestSettings("/p/sandbox.yaml", true, "class", 4, TimeSpan.FromSeconds(30), null, false), t);
        File.WriteAllText(Path.Combine(bundle, "test.json"), """{"isolation":"method"}""");
        var e = Assert.Throws<AdapterException>(() => ProjectTestSettings.Read(bundle));
        Assert.Equal("SBX5025", e.Code);
        Assert.Contains(Path.Combine(bundle, "test.json"), e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("250ms", 250)]
    [InlineData("2.5", 2_500)]
    [InlineData("1h", 3_600_000)]
    public void Durations_read_as_sandbox_run_reads_them(string text, double ms)
    {
        Assert.True(Durations.TryParse(text, out var d));
        Assert.Equal(ms, d.TotalMilliseconds);
        Assert.Equal($"{(long)ms}ms", Durations.ForCommandLine(d));
    }

    private static TestCase Case(string fqn, string? managedType = null)
    {
        var t = new TestCase(fqn, new Uri("executor://x"), "/o/proj.dll");
        if (managedType is not null)
        {
            t.SetPropertyValue(TestProperty.Register("TestCase.ManagedType", "ManagedType", typeof(string), typeof(TestCase)), managedType);
        }
        return t;
    }

    [Theory]
    [InlineData("Ns.Class.Method", null, "Ns.Class")]
    [InlineData("Ns.Outer+Inner.Method", null, "Ns.Outer+Inner")]
    [InlineData("Ns.Class.Method(1,\"a.b\")", null, "Ns.Class")]
    [InlineData("Ns.Class.Method", "Ns.Generic`1", "Ns.Generic`1")]
    public void A_class_is_the_frameworks_managed_type_or_the_name_up_to_the_method(string fqn, string? managedType, string expected) =>
        Assert.Equal(expected, SandboxTestAdapter.ClassOf(Case(fqn, managedType)));

    [Fact]
    public void Explicit_tests_are_left_out_where_a_run_by_sources_becomes_a_run_of_test_cases()
    {
        TestCaseDto Dto(params PropertyDto[] p) => new() { Id = Guid.NewGuid(), FullyQualifiedName = "N.C.M", DisplayName = "M", ExecutorUri = "executor://x", Source = "/o/p.dll", Properties = [.. p] };
        Assert.True(GroupPlan.RunsBySource(Dto()));
        Assert.False(GroupPlan.RunsBySource(Dto(new PropertyDto { Id = "TestObject.Traits", Kind = "pairs", Pairs = [new("Explicit", "")] })));
        Assert.True(GroupPlan.RunsBySource(Dto(new PropertyDto { Id = "TestObject.Traits", Kind = "pairs", Pairs = [new("Category", "Slow")] })));
    }
}

/// <summary>What the adapter concludes from the host before its first sandbox (HostCheck), with `sandbox doctor` played by a script.</summary>
public sealed class HostCheckTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-hostcheck-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Doctor(string name, string userNamespacesLine)
    {
        var path = Path.Combine(_dir, name);
        ExecutableFile.Write(path, $"#!/bin/sh\n[ \"$1\" = doctor ] || exit 2\necho 'kernel:                      ok  6.1'\necho '{userNamespacesLine}'\nexit 1\n");
        return path;
    }

    [Fact]
    public void An_ordinary_user_without_user_namespaces_is_told_doctors_finding_and_the_fix()
    {
        var problem = HostCheck.Problem(Doctor("no", "user namespaces:             NO  unshare(CLONE_NEWUSER): EPERM (Operation not permitted)"), 1000);
        Assert.NotNull(problem);
        Assert.Contains("sandbox doctor says: user namespaces:             NO  unshare(CLONE_NEWUSER): EPERM", problem, StringComparison.Ordinal);
        Assert.Contains("sysctl user.max_user_namespaces", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void User_namespaces_that_work_or_root_need_no_check()
    {
        Assert.Null(HostCheck.Problem(Doctor("ok", "user namespaces:             ok  user.max_user_namespaces=100"), 1000));
        Assert.Null(HostCheck.Problem(Doctor("no-but-root", "user namespaces:             NO  whatever"), 0));
    }

    [Fact]
    public void A_missing_runtime_is_named()
    {
        var missing = Path.Combine(_dir, "gone", "sandbox");
        Assert.Contains($"the runtime {missing} is missing", HostCheck.Problem(missing, 0), StringComparison.Ordinal);
    }
}
