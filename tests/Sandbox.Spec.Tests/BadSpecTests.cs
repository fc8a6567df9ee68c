namespace Sandbox.Spec.Tests;

public sealed class BadSpecTests(SpecDirectory dir) : IClassFixture<SpecDirectory>
{
    // Each row: a spec with exactly one problem, the code it must get, and where (1-based line and column): the key for
    // an unknown key, the value for a bad value, the entry for a missing key.
    [Theory]
    [InlineData("version: 1\nbase: [dotnet\n", SpecErrorCodes.Syntax, 3, 1)]
    [InlineData("version: 1\nversion: 1\n", SpecErrorCodes.Syntax, 2, 1)]
    [InlineData("version: 1\nhostname: \"open\n", SpecErrorCodes.Syntax, 2, 11)]
    [InlineData("", SpecErrorCodes.NotAMapping, 1, 1)]
    [InlineData("# nothing but a comment\n", SpecErrorCodes.NotAMapping, 1, 1)]
    [InlineData("- version: 1\n", SpecErrorCodes.NotAMapping, 1, 1)]
    [InlineData("version 1\n", SpecErrorCodes.NotAMapping, 1, 1)]
    [InlineData("version: 1\n---\nversion: 1\n", SpecErrorCodes.NotAMapping, 3, 1)]
    [InlineData("base: dotnet\n", SpecErrorCodes.VersionMissing, 1, 1)]
    [InlineData("version: 2\n", SpecErrorCodes.VersionUnknown, 1, 10)]
    [InlineData("version: 1\nhostnmae: box\n", SpecErrorCodes.UnknownKey, 2, 1)]
    [InlineData("version: 1\netc:\n  pasword: true\n", SpecErrorCodes.UnknownKey, 3, 3)]
    [InlineData("version: 1\nmounts:\n  - source: ./data\n    target: /data\n    readonly: true\n", SpecErrorCodes.UnknownKey, 5, 5)]
    [InlineData("version: 1\nhostname: [a, b]\n", SpecErrorCodes.WrongType, 2, 11)]
    [InlineData("version: 1\nreadOnlyRoot: yes\n", SpecErrorCodes.WrongType, 2, 15)]
    [InlineData("version: 1\nuser: { uid: abc }\n", SpecErrorCodes.WrongType, 2, 14)]
    [InlineData("version: 1\nenv: [HOME]\n", SpecErrorCodes.WrongType, 2, 6)]
    [InlineData("version: 1\nmounts:\n  source: ./data\n", SpecErrorCodes.WrongType, 3, 3)]
    [InlineData("version: 1\nenv:\n  set:\n    EMPTY:\n", SpecErrorCodes.WrongType, 4, 11)]
    [InlineData("version: 1\nnetwork: bridge\n", SpecErrorCodes.InvalidChoice, 2, 10)]
    [InlineData("version: 1\nbase: ubuntu\n", SpecErrorCodes.InvalidChoice, 2, 7)]
    [InlineData("version: 1\nseccomp: hermtic\n", SpecErrorCodes.InvalidChoice, 2, 10)]
    [InlineData("version: 1\nlimits:\n  memory: 10X\n", SpecErrorCodes.InvalidQuantity, 3, 11)]
    [InlineData("version: 1\nlimits:\n  time: 30\n", SpecErrorCodes.InvalidQuantity, 3, 9)]
    [InlineData("version: 1\nlimits:\n  cpus: 0\n", SpecErrorCodes.InvalidQuantity, 3, 9)]
    [InlineData("version: 1\ntmpfs:\n  - target: /tmp\n    size: -1\n", SpecErrorCodes.InvalidQuantity, 4, 11)]
    [InlineData("version: 1\nmounts:\n  - source: ./nope\n    target: /nope\n", SpecErrorCodes.HostPathMissing, 3, 13)]
    [InlineData("version: 1\nfiles:\n  - source: missing.txt\n    target: /etc/missing.txt\n", SpecErrorCodes.HostPathMissing, 3, 13)]
    [InlineData("version: 1\nseccomp: ./missing.json\n", SpecErrorCodes.HostPathMissing, 2, 10)]
    [InlineData("version: 1\nseccomp: ./data/\n", SpecErrorCodes.HostPathMissing, 2, 10)]
    [InlineData("version: 1\nmounts:\n  - source: ./data\n    target: data\n", SpecErrorCodes.ContainerPathInvalid, 4, 13)]
    [InlineData("version: 1\nworkdir: work\n", SpecErrorCodes.ContainerPathInvalid, 2, 10)]
    [InlineData("version: 1\nfiles:\n  - source: config.json\n    target: /etc/../config.json\n", SpecErrorCodes.ContainerPathInvalid, 4, 13)]
    [InlineData("version: 1\nmounts:\n  - source: ./data\n    target: /data\ntmpfs:\n  - target: /data/\n    size: 1Mi\n", SpecErrorCodes.DuplicateTarget, 6, 13)]
    [InlineData("version: 1\nfiles:\n  - { source: config.json, target: /c.json }\n  - { source: data, target: //c.json }\n", SpecErrorCodes.DuplicateTarget, 4, 29)]
    [InlineData("version: 1\ntmpfs:\n  - target: /\n    size: 1Mi\n", SpecErrorCodes.TargetIsRoot, 3, 13)]
    [InlineData("version: 1\nmounts:\n  - source: ./data\n    target: /.\n", SpecErrorCodes.TargetIsRoot, 4, 13)]
    [InlineData("version: 1\ntmpfs:\n  - target: /tmp\n", SpecErrorCodes.RequiredKeyMissing, 3, 5)]
    [InlineData("version: 1\nbuild:\n  inputs: [src]\n", SpecErrorCodes.RequiredKeyMissing, 3, 3)]
    [InlineData("version: 1\nhostname: my_host\n", SpecErrorCodes.InvalidHostname, 2, 11)]
    [InlineData("version: 1\netc:\n  extraHosts:\n    -db: 10.0.0.1\n", SpecErrorCodes.InvalidHostname, 4, 5)]
    [InlineData("version: 1\nenv:\n  set: { 1BAD: x }\n", SpecErrorCodes.InvalidEnvName, 3, 10)]
    [InlineData("version: 1\nenv:\n  pass: [\"*\"]\n", SpecErrorCodes.InvalidEnvName, 3, 10)]
    [InlineData("version: 1\nenv:\n  set: { HOME: /root }\n  pass: [HOME]\n", SpecErrorCodes.EnvConflict, 4, 10)]
    [InlineData("version: 1\ncapabilities: [CAP_NET_BIND]\n", SpecErrorCodes.CapabilityUnknown, 2, 16)]
    [InlineData("version: 1\ncapabilities: [CAP_CHOWN, CAP_KILL, CAP_CHOWN]\n", SpecErrorCodes.DuplicateEntry, 2, 37)]
    [InlineData("version: 1\nenv:\n  pass: [HOME, HOME]\n", SpecErrorCodes.DuplicateEntry, 3, 16)]
    [InlineData("version: 1\netc:\n  extraHosts: { db.local: 300.1.1.1 }\n", SpecErrorCodes.InvalidAddress, 3, 27)]
    [InlineData("version: 1\netc:\n  extraHosts: { db.local: 127.1 }\n", SpecErrorCodes.InvalidAddress, 3, 27)]
    [InlineData("version: 1\ntmpfs:\n  - target: /tmp\n    size: 1Mi\n    mode: 999\n", SpecErrorCodes.InvalidMode, 5, 11)]
    [InlineData("version: 1\ncommand: []\n", SpecErrorCodes.EmptyValue, 2, 10)]
    [InlineData("version: 1\ncommand: ['', x]\n", SpecErrorCodes.EmptyValue, 2, 11)]
    [InlineData("version: 1\nbuild:\n  inputs: []\n  outputs: [out]\n", SpecErrorCodes.EmptyValue, 3, 11)]
    [InlineData("version: 1\nbuild:\n  inputs: [src]\n  outputs: [../out]\n", SpecErrorCodes.PathEscapes, 4, 13)]
    [InlineData("version: 1\nbuild:\n  inputs: [src]\n  outputs: [/tmp/out]\n", SpecErrorCodes.PathEscapes, 4, 13)]
    [InlineData("version: 1\nuser: { uid: -1 }\n", SpecErrorCodes.OutOfRange, 2, 14)]
    [InlineData("version: 1\nuser: { gid: 4294967295 }\n", SpecErrorCodes.OutOfRange, 2, 14)]
    [InlineData("version: 1\nlimits:\n  pids: 0\n", SpecErrorCodes.OutOfRange, 3, 9)]
    [InlineData("version: 1\ntest:\n  isolaton: class\n", SpecErrorCodes.UnknownKey, 3, 3)]
    [InlineData("version: 1\ntest:\n  retries: 3\n", SpecErrorCodes.UnknownKey, 3, 3)]
    [InlineData("version: 1\ntest: [class]\n", SpecErrorCodes.WrongType, 2, 7)]
    [InlineData("version: 1\ntest: class\n", SpecErrorCodes.WrongType, 2, 7)]
    [InlineData("version: 1\ntest:\n  isolation: [class]\n", SpecErrorCodes.WrongType, 3, 14)]
    [InlineData("version: 1\ntest:\n  parallel: many\n", SpecErrorCodes.WrongType, 3, 13)]
    [InlineData("version: 1\ntest:\n  parallel: 1.5\n", SpecErrorCodes.WrongType, 3, 13)]
    [InlineData("version: 1\ntest:\n  parallel:\n", SpecErrorCodes.WrongType, 3, 12)]
    [InlineData("version: 1\ntest:\n  enabled: yes\n", SpecErrorCodes.WrongType, 3, 12)]
    [InlineData("version: 1\ntest:\n  allowUnsandboxed: 1\n", SpecErrorCodes.WrongType, 3, 21)]
    [InlineData("version: 1\ntest:\n  timeout: [10m]\n", SpecErrorCodes.WrongType, 3, 12)]
    [InlineData("version: 1\ntest:\n  isolation: process\n", SpecErrorCodes.InvalidChoice, 3, 14)]
    [InlineData("version: 1\ntest:\n  isolation: Class\n", SpecErrorCodes.InvalidChoice, 3, 14)]
    [InlineData("version: 1\ntest:\n  testTimeout: 30\n", SpecErrorCodes.InvalidQuantity, 3, 16)]
    [InlineData("version: 1\ntest:\n  testTimeout: 0s\n", SpecErrorCodes.InvalidQuantity, 3, 16)]
    [InlineData("version: 1\ntest:\n  testTimeout: -5s\n", SpecErrorCodes.InvalidQuantity, 3, 16)]
    [InlineData("version: 1\ntest:\n  timeout: 10 minutes\n", SpecErrorCodes.InvalidQuantity, 3, 12)]
    [InlineData("version: 1\ntest:\n  timeout: 0ms\n", SpecErrorCodes.InvalidQuantity, 3, 12)]
    [InlineData("version: 1\ntest:\n  timeout: 30s1m\n", SpecErrorCodes.InvalidQuantity, 3, 12)]
    [InlineData("version: 1\ntest:\n  parallel: 0\n", SpecErrorCodes.OutOfRange, 3, 13)]
    [InlineData("version: 1\ntest:\n  parallel: -4\n", SpecErrorCodes.OutOfRange, 3, 13)]
    [InlineData("version: 1\ntest:\n  parallel: 2147483648\n", SpecErrorCodes.OutOfRange, 3, 13)]
    public void A_spec_with_one_problem_gets_its_code_and_position(string yaml, string code, int line, int column)
    {
        var error = Assert.Single(dir.Errors(yaml));

        Assert.Equal((code, line, column), (error.Code, error.Location.Line, error.Location.Column));
        Assert.Equal(dir.SpecPath, error.Location.File);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        Assert.False(string.IsNullOrWhiteSpace(error.Hint));
    }

    [Fact]
    public void All_problems_of_a_file_come_in_one_exception_in_file_order()
    {
        const string yaml = """
            version: 1
            hostname: -bad-
            network: bridge
            limits:
              memory: lots
              cpu: 2
            mounts:
              - source: ./absent
                target: relative
            capabilities: [CAP_FOO]
            """;

        var exception = Assert.Throws<SpecException>(() => dir.Parse(yaml));

        Assert.Equal(
            [
                (SpecErrorCodes.InvalidHostname, 2),
                (SpecErrorCodes.InvalidChoice, 3),
                (SpecErrorCodes.InvalidQuantity, 5),
                (SpecErrorCodes.UnknownKey, 6),
                (SpecErrorCodes.HostPathMissing, 8),
                (SpecErrorCodes.ContainerPathInvalid, 9),
                (SpecErrorCodes.CapabilityUnknown, 10),
            ],
            exception.Errors.Select(e => (e.Code, e.Location.Line)));
        Assert.Equal(exception.Errors.Count, exception.Message.Split('\n').Length);
    }

    [Fact]
    public void The_message_has_one_compiler_style_line_per_error()
    {
        var exception = Assert.Throws<SpecException>(() => SpecParser.Parse("version: 1\nhostnmae: box\nnetwork: bridge\n", "dir/sandbox.yaml"));

        Assert.Equal(
            [
                "dir/sandbox.yaml:2:1: SBX4005: unknown key `hostnmae` at the top level (hint: did you mean `hostname`?)",
                "dir/sandbox.yaml:3:10: SBX4007: `network` is 'bridge', which is not a known value (hint: allowed: none, host)",
            ],
            exception.Message.Split('\n'));
    }

    [Theory]
    [InlineData("version: 1\nhostnmae: box\n", "hostname")]
    [InlineData("version: 1\nReadOnlyRoot: true\n", "readOnlyRoot")]
    [InlineData("version: 1\nlimits:\n  memroy: 1Gi\n", "memory")]
    [InlineData("version: 1\nlimits:\n  cpu: 1\n", "cpus")]
    [InlineData("version: 1\netc:\n  resolvconf: false\n", "resolvConf")]
    [InlineData("version: 1\nnetwork: hots\n", "host")]
    [InlineData("version: 1\ncapabilities: [net_bind_service]\n", "CAP_NET_BIND_SERVICE")]
    [InlineData("version: 1\ncapabilities: [CAP_SYS_ADMN]\n", "CAP_SYS_ADMIN")]
    [InlineData("version: 1\ntets:\n  parallel: 2\n", "test")]
    [InlineData("version: 1\ntest:\n  testtimeout: 30s\n", "testTimeout")]
    [InlineData("version: 1\ntest:\n  allowUnsanboxed: true\n", "allowUnsandboxed")]
    [InlineData("version: 1\ntest:\n  isolation: clas\n", "class")]
    public void A_near_miss_gets_a_did_you_mean_hint(string yaml, string suggestion)
    {
        var error = Assert.Single(dir.Errors(yaml));

        Assert.Contains($"did you mean `{suggestion}`?", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_far_from_every_valid_one_gets_the_list_of_valid_keys()
    {
        var error = Assert.Single(dir.Errors("version: 1\nlimits:\n  bandwidth: 1M\n"));

        Assert.Equal("keys allowed in `limits`: memory, cpus, pids, time", error.Hint);
    }

    [Fact]
    public void Every_problem_of_the_test_section_is_reported_at_once_with_the_names_it_allows()
    {
        var errors = dir.Errors("version: 1\ntest:\n  isolation: fork\n  parallel: 0\n  testTimeout: 30\n  timeout: 0s\n  enabled: no\n  allowUnsandboxed: maybe\n  colour: red\n");

        Assert.Equal(
            [
                (SpecErrorCodes.InvalidChoice, 3, 14),
                (SpecErrorCodes.OutOfRange, 4, 13),
                (SpecErrorCodes.InvalidQuantity, 5, 16),
                (SpecErrorCodes.InvalidQuantity, 6, 12),
                (SpecErrorCodes.WrongType, 7, 12),
                (SpecErrorCodes.WrongType, 8, 21),
                (SpecErrorCodes.UnknownKey, 9, 3),
            ],
            errors.Select(e => (e.Code, e.Location.Line, e.Location.Column)));
        Assert.Equal("`test.isolation` is 'fork', which is not a known value", errors[0].Message);
        Assert.Equal("allowed: assembly, class, test", errors[0].Hint);
        Assert.Equal("`test.parallel` is 0, but must be at least 1", errors[1].Message);
        Assert.StartsWith("`test.testTimeout`: ", errors[2].Message, StringComparison.Ordinal);
        Assert.StartsWith("`test.timeout`: ", errors[3].Message, StringComparison.Ordinal);
        Assert.Equal("keys allowed in `test`: isolation, parallel, testTimeout, timeout, enabled, allowUnsandboxed", errors[6].Hint);
    }

    [Fact]
    public void A_missing_file_is_reported_with_a_code_not_an_io_exception()
    {
        var path = Path.Combine(dir.Root, "absent.yaml");

        var error = Assert.Single(Assert.Throws<SpecException>(() => SpecParser.Load(path)).Errors);

        Assert.Equal(SpecErrorCodes.FileUnreadable, error.Code);
        Assert.Equal(path, error.Location.File);
    }

    [Fact]
    public void A_directory_given_as_the_file_is_reported_with_a_code()
    {
        var error = Assert.Single(Assert.Throws<SpecException>(() => SpecParser.Load(dir.Root)).Errors);

        Assert.Equal(SpecErrorCodes.FileUnreadable, error.Code);
    }

    [Theory]
    [InlineData("/dev/zero", "is a character device, not a regular file")]
    [InlineData("fifo", "is a FIFO, not a regular file")]
    [InlineData("zero-link", "is a character device, not a regular file")]
    [InlineData("huge.yaml", "holds more than 4 MiB")]
    public void A_device_fifo_or_huge_file_is_unreadable_at_once(string name, string why)
    {
        var path = Path.IsPathRooted(name) ? name : Path.Combine(dir.Root, name);
        switch (name)
        {
            case "fifo":
                using (var p = System.Diagnostics.Process.Start("mkfifo", [path])!)
                {
                    p.WaitForExit();
                }
                break;
            case "zero-link":
                File.CreateSymbolicLink(path, "/dev/zero");
                break;
            case "huge.yaml":
                using (var f = File.Create(path))
                {
                    f.SetLength(5 * 1024 * 1024);
                }
                break;
        }

        // A FIFO would block a plain open forever: the guard only catches that hang.
        var load = Task.Run(() => SpecParser.Load(path));
        var thrown = Assert.Throws<AggregateException>(() => load.Wait(TimeSpan.FromMinutes(1)));
        var error = Assert.Single(Assert.IsType<SpecException>(thrown.InnerException).Errors);

        Assert.Equal((SpecErrorCodes.FileUnreadable, path, 1, 1), (error.Code, error.Location.File, error.Location.Line, error.Location.Column));
        Assert.StartsWith($"cannot read the file: {path}: {why}", error.Message, StringComparison.Ordinal);
    }
}
