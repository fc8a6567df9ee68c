namespace Sandbox.Spec.Tests;

/// <summary>Bad input of any shape ends in a SpecException: never another exception, a crash or a hang.</summary>
public sealed class RobustnessTests(SpecDirectory dir) : IClassFixture<SpecDirectory>
{
    [Theory]
    [InlineData(40)]
    [InlineData(1_000_000)]
    public void Deep_nesting_is_a_syntax_error_not_a_stack_overflow(int depth)
    {
        var yaml = "version: 1\ncommand: " + new string('[', depth) + new string(']', depth) + "\n";

        var error = Assert.Single(dir.Errors(yaml));

        Assert.Equal(SpecErrorCodes.Syntax, error.Code);
        Assert.Equal(2, error.Location.Line);
    }

    [Fact]
    public void Nesting_within_the_limit_is_reported_as_a_wrong_type()
    {
        var yaml = "version: 1\ncommand: " + new string('[', 20) + new string(']', 20) + "\n";

        Assert.Equal(SpecErrorCodes.WrongType, Assert.Single(dir.Errors(yaml)).Code);
    }

    [Theory]
    [InlineData("version: 1\n? &x [1, *x]\n: 1\n", 2, 3)]
    [InlineData("version: 1\ncommand: &x [a]\n? *x\n: 1\n", 3, 3)]
    [InlineData("version: 1\n? {a: 1}\n: 1\n", 2, 3)]
    public void Collections_and_aliases_as_keys_are_syntax_errors(string yaml, int line, int column)
    {
        var error = Assert.Single(dir.Errors(yaml));

        Assert.Equal((SpecErrorCodes.Syntax, line, column), (error.Code, error.Location.Line, error.Location.Column));
    }

    [Fact]
    public void Anchors_and_aliases_of_values_work()
    {
        var spec = dir.Parse("version: 1\nhostname: &name box\nenv:\n  set: { HOST: *name }\n");

        Assert.Equal("box", spec.Environment["HOST"]);
    }

    [Fact]
    public void A_self_referencing_value_is_a_wrong_type_not_a_loop()
    {
        var error = Assert.Single(dir.Errors("version: 1\ncommand: &x [a, *x]\n"));

        // An alias is the anchored node itself, so the error points where the anchor is.
        Assert.Equal((SpecErrorCodes.WrongType, 2, 10), (error.Code, error.Location.Line, error.Location.Column));
    }

    [Fact]
    public void An_undefined_alias_is_a_syntax_error() =>
        Assert.Equal(SpecErrorCodes.Syntax, Assert.Single(dir.Errors("version: 1\nhostname: *nowhere\n")).Code);

    [Fact]
    public void A_nul_character_is_refused_where_no_string_can_hold_it() =>
        Assert.Equal(SpecErrorCodes.WrongType, Assert.Single(dir.Errors("version: 1\ncommand: [\"a\\0b\"]\n")).Code);

    [Fact]
    public void A_huge_unknown_key_gets_the_list_of_keys_quickly()
    {
        var error = Assert.Single(dir.Errors("version: 1\n" + new string('k', 1000) + ": 1\n"));

        Assert.Equal(SpecErrorCodes.UnknownKey, error.Code);
        Assert.StartsWith("keys allowed at the top level:", error.Hint, StringComparison.Ordinal);
        Assert.True(error.Message.Length < 200);
    }

    [Fact]
    public void A_scanner_failure_without_a_position_is_still_a_syntax_error()
    {
        var error = Assert.Single(dir.Errors("version: 1\nlimits: {[memory: 1Gi}\n"));

        Assert.Equal((SpecErrorCodes.Syntax, 2), (error.Code, error.Location.Line));
    }

    [Fact]
    public void Tabs_for_indentation_are_a_syntax_error() =>
        Assert.Equal(SpecErrorCodes.Syntax, Assert.Single(dir.Errors("version: 1\netc:\n\tpasswd: false\n")).Code);

    [Fact]
    public void Windows_line_endings_and_a_byte_order_mark_are_fine() =>
        Assert.Equal("box", dir.Parse("\uFEFFversion: 1\r\nhostname: box\r\n").Hostname);

    [Fact]
    public void Mangled_specs_only_ever_throw_SpecException()
    {
        const string valid = """
            version: 1
            base: dotnet
            user: { uid: 1000, gid: 1000 }
            env:
              set: { A: "1", B: two }
              pass: [HOME, DOTNET_*]
            mounts:
              - source: ./data
                target: /data
                writable: true
            tmpfs:
              - { target: /tmp, size: 64Mi, mode: "1777" }
            etc:
              extraHosts: { db.local: 127.0.0.1 }
            limits: { memory: 1Gi, cpus: 1500m, pids: 10, time: 1h30m }
            seccomp: ./profile.json
            capabilities: [CAP_KILL]
            command: [dotnet, "app.dll"]
            build: { inputs: ["**/*.cs"], outputs: [out/] }
            """;
        const string noise = " \n\t:-[]{},#&*!|>'\"%@`?~.\\/0aZ\u00e9";
        var random = new Random(20260101);

        for (var round = 0; round < 3000; round++)
        {
            var text = valid.ToCharArray().ToList();
            for (var edit = random.Next(1, 6); edit > 0; edit--)
            {
                var at = random.Next(text.Count);
                switch (random.Next(3))
                {
                    case 0:
                        text.RemoveAt(at);
                        break;
                    case 1:
                        text.Insert(at, noise[random.Next(noise.Length)]);
                        break;
                    default:
                        text[at] = noise[random.Next(noise.Length)];
                        break;
                }
            }

            var yaml = new string([.. text]);
            try
            {
                dir.Parse(yaml);
            }
            catch (SpecException e)
            {
                Assert.NotEmpty(e.Errors);
                Assert.All(e.Errors, error => Assert.True(error.Location.Line >= 1 && error.Location.Column >= 1, yaml));
            }
        }
    }
}
