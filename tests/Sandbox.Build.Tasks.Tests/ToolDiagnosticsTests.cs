namespace Sandbox.Build.Tasks.Tests;

public class ToolDiagnosticsTests
{
    [Fact]
    public void Every_sandbox_yaml_problem_becomes_a_located_error_and_the_summary_hint_is_dropped()
    {
        var d = ToolDiagnostics.Parse([
            "sandbox: SBX4005: /home/me/app/sandbox.yaml:3:1: SBX4005: unknown key `hostnmae` at the top level (hint: did you mean `hostname`?)",
            "/home/me/app/sandbox.yaml:12:5: SBX4009: `mounts[0].source` /home/me/app/dat does not exist (hint: create the path)",
            "  hint: fix the 2 problems listed above",
        ]);
        Assert.Equal(2, d.Count);
        Assert.Equal(new ToolDiagnostic("SBX4005", "unknown key `hostnmae` at the top level (hint: did you mean `hostname`?)", "/home/me/app/sandbox.yaml", 3, 1), d[0]);
        Assert.Equal(new ToolDiagnostic("SBX4009", "`mounts[0].source` /home/me/app/dat does not exist (hint: create the path)", "/home/me/app/sandbox.yaml", 12, 5), d[1]);
    }

    [Fact]
    public void Each_sandbox_yaml_problem_takes_the_hint_line_after_it()
    {
        var d = ToolDiagnostics.Parse([
            "/home/me/app/sandbox.yaml:3:1: SBX4005: unknown key `hostnmae` at the top level",
            "  hint: did you mean `hostname`?",
            "/home/me/app/sandbox.yaml:12:5: SBX4009: `mounts[0].source` /home/me/app/dat does not exist",
            "  hint: create the path",
            "/home/me/app/sandbox.yaml:14:3: SBX4008: `limits.time` 30 has no unit",
        ]);
        Assert.Equal(
            [
                new ToolDiagnostic("SBX4005", "unknown key `hostnmae` at the top level (hint: did you mean `hostname`?)", "/home/me/app/sandbox.yaml", 3, 1),
                new ToolDiagnostic("SBX4009", "`mounts[0].source` /home/me/app/dat does not exist (hint: create the path)", "/home/me/app/sandbox.yaml", 12, 5),
                new ToolDiagnostic("SBX4008", "`limits.time` 30 has no unit", "/home/me/app/sandbox.yaml", 14, 3),
            ], d);
    }

    [Fact]
    public void A_single_spec_problem_keeps_its_inline_hint_once()
    {
        var d = ToolDiagnostics.Parse([
            "sandbox: SBX4003: /p/sandbox.yaml:1:1: SBX4003: `version` is missing (hint: add `version: 1`)",
            "  hint: add `version: 1`",
        ]);
        var only = Assert.Single(d);
        Assert.Equal("`version` is missing (hint: add `version: 1`)", only.Message);
        Assert.Equal(("/p/sandbox.yaml", 1, 1), (only.File, only.Line, only.Column));
    }

    [Fact]
    public void A_path_with_colons_is_kept_whole()
    {
        var d = Assert.Single(ToolDiagnostics.Parse(["/srv/a:b/c:1:2/sandbox.yaml:7:11: SBX4008: `limits.time` 30 has no unit"]));
        Assert.Equal(("/srv/a:b/c:1:2/sandbox.yaml", 7, 11, "SBX4008"), (d.File, d.Line, d.Column, d.Code));
    }

    [Fact]
    public void Other_errors_keep_their_code_and_take_the_hint_from_the_next_line()
    {
        var d = ToolDiagnostics.Parse([
            "sandbox: SBX1005: /p/sandbox.yaml: base: dotnet, but no .NET installation was found",
            "  hint: install the .NET runtime, or set DOTNET_ROOT",
        ]);
        var only = Assert.Single(d);
        Assert.Equal("SBX1005", only.Code);
        Assert.Null(only.File);
        Assert.Equal("/p/sandbox.yaml: base: dotnet, but no .NET installation was found (hint: install the .NET runtime, or set DOTNET_ROOT)", only.Message);
    }

    [Fact]
    public void Lines_that_are_not_errors_give_nothing()
    {
        Assert.Empty(ToolDiagnostics.Parse(["Unhandled exception. System.NullReferenceException", "   at Foo()", "  hint: stray", "sandbox: oops"]));
    }
}
