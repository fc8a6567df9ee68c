namespace Sandbox.Spec.Tests;

public sealed class ValidSpecTests(SpecDirectory dir) : IClassFixture<SpecDirectory>
{
    [Fact]
    public void A_full_spec_maps_to_the_model_field_by_field()
    {
        const string yaml = """
            version: 1
            base: dotnet
            hostname: build-01.example
            user: { uid: 0, gid: 4294967294 }
            workdir: /work/
            readOnlyRoot: false
            network: host
            env:
              set:
                PORT: 8080
                DEBUG: true
                EMPTY: ""
                _NAME: "a b"
              pass: [HOME, DOTNET_*]
            mounts:
              - source: ./data
                target: /data
              - source: config.json
                target: /etc/app/config.json
                writable: true
            tmpfs:
              - target: /tmp
                size: 64Mi
              - target: /cache
                size: 1.5Gi
              - target: /run
                size: 1000
                mode: 700
              - target: /var
                size: 1k
                mode: "0o1750"
            files:
              - source: ./data
                target: /opt/data
            etc:
              passwd: false
              group: False
              hosts: true
              resolvConf: FALSE
              nsswitch: false
              extraHosts:
                db.local: 127.0.0.1
                v6.local: "fe80::1"
            limits:
              memory: 512Mi
              cpus: 1500m
              pids: 256
              time: 1h30m
            seccomp: ./profile.json
            capabilities: [CAP_NET_BIND_SERVICE, CAP_KILL]
            command: [dotnet, app.dll, 42]
            build:
              inputs: ["src/**/*.cs", "*.csproj"]
              outputs: [out/, obj/cache]
            test:
              isolation: class
              parallel: 4
              testTimeout: 1.5s
              timeout: 1h30m
              enabled: false
              allowUnsandboxed: TRUE
            """;

        var spec = dir.Parse(yaml);

        Assert.Equal(dir.SpecPath, spec.SourcePath);
        Assert.Equal(1, spec.Version);
        Assert.Equal(BaseImage.Dotnet, spec.Base);
        Assert.Equal("build-01.example", spec.Hostname);
        Assert.Equal(0u, spec.Uid);
        Assert.Equal(4294967294u, spec.Gid);
        Assert.Equal("/work", spec.WorkingDirectory);
        Assert.False(spec.ReadOnlyRoot);
        Assert.Equal(NetworkMode.Host, spec.Network);
        Assert.Equal(
            new Dictionary<string, string> { ["PORT"] = "8080", ["DEBUG"] = "true", ["EMPTY"] = "", ["_NAME"] = "a b" },
            spec.Environment);
        Assert.Equal(["HOME", "DOTNET_*"], spec.PassEnvironment);

        Assert.Equal(2, spec.Mounts.Count);
        Assert.Equal(new HostMount(Path.Combine(dir.Root, "data"), "/data", false, At(16, 5)), spec.Mounts[0]);
        Assert.Equal(new HostMount(Path.Combine(dir.Root, "config.json"), "/etc/app/config.json", true, At(18, 5)), spec.Mounts[1]);

        Assert.Equal(
            [
                new TmpfsMount("/tmp", 64L * 1024 * 1024, 0x3FF, At(22, 5)),
                new TmpfsMount("/cache", 1610612736, Convert.ToUInt32("755", 8), At(24, 5)),
                new TmpfsMount("/run", 1000, Convert.ToUInt32("700", 8), At(26, 5)),
                new TmpfsMount("/var", 1000, Convert.ToUInt32("1750", 8), At(29, 5)),
            ],
            spec.Tmpfs);

        Assert.Equal([new CopiedPath(Path.Combine(dir.Root, "data"), "/opt/data", At(33, 5))], spec.Files);

        Assert.False(spec.Etc.Passwd);
        Assert.False(spec.Etc.Group);
        Assert.True(spec.Etc.Hosts);
        Assert.False(spec.Etc.ResolvConf);
        Assert.False(spec.Etc.NsswitchConf);
        Assert.Equal(new Dictionary<string, string> { ["db.local"] = "127.0.0.1", ["v6.local"] = "fe80::1" }, spec.Etc.ExtraHosts);

        Assert.Equal(512L * 1024 * 1024, spec.Limits.MemoryBytes);
        Assert.Equal(1.5, spec.Limits.Cpus);
        Assert.Equal(256, spec.Limits.Pids);
        Assert.Equal(TimeSpan.FromMinutes(90), spec.Limits.WallTime);

        Assert.Equal(Path.Combine(dir.Root, "profile.json"), spec.Seccomp);
        Assert.Equal(["CAP_NET_BIND_SERVICE", "CAP_KILL"], spec.Capabilities);
        Assert.Equal(["dotnet", "app.dll", "42"], spec.Command);

        Assert.NotNull(spec.Build);
        Assert.Equal(["src/**/*.cs", "*.csproj"], spec.Build.Inputs);
        Assert.Equal(["out/", "obj/cache"], spec.Build.Outputs);
        Assert.Equal(At(53, 3), spec.Build.Location);

        Assert.Equal(
            new TestSettings
            {
                Isolation = TestIsolation.Class,
                Parallel = 4,
                TestTimeout = TimeSpan.FromMilliseconds(1500),
                Timeout = TimeSpan.FromMinutes(90),
                Enabled = false,
                AllowUnsandboxed = true,
            },
            spec.Test);
    }

    [Fact]
    public void A_spec_of_only_a_version_gets_every_default()
    {
        var spec = dir.Parse("version: 1\n");

        var defaults = new SandboxSpec { SourcePath = dir.SpecPath };
        Assert.Equal(defaults.Base, spec.Base);
        Assert.Equal("sandbox", spec.Hostname);
        Assert.Equal((1000u, 1000u), (spec.Uid, spec.Gid));
        Assert.Equal("/", spec.WorkingDirectory);
        Assert.True(spec.ReadOnlyRoot);
        Assert.Equal(NetworkMode.None, spec.Network);
        Assert.Empty(spec.Environment);
        Assert.Empty(spec.PassEnvironment);
        Assert.Empty(spec.Mounts);
        Assert.Empty(spec.Tmpfs);
        Assert.Empty(spec.Files);
        Assert.Equal(new EtcFiles().Passwd, spec.Etc.Passwd);
        Assert.True(spec.Etc.Passwd && spec.Etc.Group && spec.Etc.Hosts && spec.Etc.ResolvConf && spec.Etc.NsswitchConf);
        Assert.Empty(spec.Etc.ExtraHosts);
        Assert.Equal(new ResourceLimits(), spec.Limits);
        Assert.Equal("default", spec.Seccomp);
        Assert.Empty(spec.Capabilities);
        Assert.Null(spec.Command);
        Assert.Null(spec.Build);
        Assert.Null(spec.Test);
    }

    [Fact]
    public void An_empty_test_mapping_gets_every_test_default()
    {
        var documented = new TestSettings
        {
            Isolation = TestIsolation.Assembly, Parallel = null, TestTimeout = null, Timeout = null, Enabled = true, AllowUnsandboxed = false,
        };

        Assert.Equal(documented, dir.Parse("version: 1\ntest: {}\n").Test);
    }

    [Theory]
    [InlineData("assembly", TestIsolation.Assembly)]
    [InlineData("class", TestIsolation.Class)]
    [InlineData("test", TestIsolation.Test)]
    public void Each_isolation_is_read_by_name(string name, TestIsolation isolation) =>
        Assert.Equal(isolation, dir.Parse($"version: 1\ntest:\n  isolation: {name}\n").Test!.Isolation);

    [Theory]
    [InlineData("1", 1)]
    [InlineData("\"16\"", 16)]
    [InlineData("2147483647", int.MaxValue)]
    public void Parallel_is_a_positive_integer(string text, int parallel) =>
        Assert.Equal(parallel, dir.Parse($"version: 1\ntest:\n  parallel: {text}\n").Test!.Parallel);

    [Fact]
    public void Test_durations_parse_as_the_other_durations_do()
    {
        var test = dir.Parse("version: 1\ntest:\n  testTimeout: 500ms\n  timeout: 1m30s\n").Test!;

        Assert.Equal(TimeSpan.FromMilliseconds(500), test.TestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(90), test.Timeout);
    }

    [Fact]
    public void Empty_sections_and_lists_count_as_absent()
    {
        var spec = dir.Parse("version: 1\nuser:\nenv:\n  set:\n  pass: ~\nmounts: null\netc:\nlimits:\ncommand:\nbuild:\ntest:\n");

        Assert.Equal(1000u, spec.Uid);
        Assert.Empty(spec.Environment);
        Assert.Empty(spec.Mounts);
        Assert.Null(spec.Command);
        Assert.Null(spec.Build);
        Assert.Null(spec.Test);
    }

    [Fact]
    public void Relative_host_paths_resolve_against_the_spec_directory_not_the_working_directory()
    {
        var elsewhere = Path.Combine(dir.Root, "nested", "deeper");
        Directory.CreateDirectory(elsewhere);

        var spec = SpecParser.Parse("version: 1\nmounts:\n  - { source: ../../data, target: /data }\n", Path.Combine(elsewhere, "sandbox.yaml"));

        Assert.Equal(Path.Combine(dir.Root, "data"), spec.Mounts[0].HostPath);
    }

    [Fact]
    public void Load_reads_the_file_and_makes_its_path_absolute()
    {
        var path = Path.Combine(dir.Root, "loaded.yaml");
        File.WriteAllText(path, "version: 1\nhostname: loaded\n");
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);

        var spec = SpecParser.Load(relative);

        Assert.Equal(path, spec.SourcePath);
        Assert.Equal("loaded", spec.Hostname);
    }

    [Theory]
    [InlineData("\"1\"")]
    [InlineData("'1'")]
    public void A_quoted_version_is_still_version_1(string version) =>
        Assert.Equal(1, dir.Parse($"version: {version}\n").Version);

    [Theory]
    [InlineData("HOME")]
    [InlineData("DOTNET_*")]
    [InlineData("_X1")]
    public void Pass_patterns_are_names_or_prefixes(string pattern) =>
        Assert.Equal([pattern], dir.Parse($"version: 1\nenv:\n  pass: [\"{pattern}\"]\n").PassEnvironment);

    [Fact]
    public void A_pass_prefix_may_cover_a_name_that_set_fixes()
    {
        var spec = dir.Parse("version: 1\nenv:\n  set: { DOTNET_ROOT: /usr/share/dotnet }\n  pass: [DOTNET_*]\n");

        Assert.Equal("/usr/share/dotnet", spec.Environment["DOTNET_ROOT"]);
    }

    [Theory]
    [InlineData("default")]
    [InlineData("hermetic")]
    [InlineData("unconfined")]
    public void Built_in_seccomp_profiles_are_kept_by_name(string profile) =>
        Assert.Equal(profile, dir.Parse($"version: 1\nseccomp: {profile}\n").Seccomp);

    [Fact]
    public void Nested_targets_are_not_duplicates()
    {
        var spec = dir.Parse("version: 1\nmounts:\n  - { source: data, target: /data }\ntmpfs:\n  - { target: /data/cache, size: 1Mi }\n");

        Assert.Equal("/data/cache", spec.Tmpfs[0].ContainerPath);
    }

    private SourceLocation At(int line, int column) => new(dir.SpecPath, line, column);
}
