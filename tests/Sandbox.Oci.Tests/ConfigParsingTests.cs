using System.Text;
using Sandbox.Oci;

namespace Sandbox.Oci.Tests;

public class ConfigParsingTests
{
    internal const string Minimal = """
        {
          "ociVersion": "1.0.2",
          "root": { "path": "rootfs", "readonly": true },
          "process": { "args": ["/bin/sh", "-c", "true"], "cwd": "/", "env": ["PATH=/bin"],
                       "user": { "uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 18 },
                       "rlimits": [ { "type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048 } ],
                       "capabilities": { "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"] },
                       "noNewPrivileges": true, "oomScoreAdj": 100 },
          "hostname": "box",
          "mounts": [ { "destination": "/proc", "type": "proc", "source": "proc" },
                      { "destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "ro"] } ],
          "linux": { "namespaces": [ { "type": "pid" }, { "type": "network", "path": "/proc/1/ns/net" } ],
                     "uidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ],
                     "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
                     "rootfsPropagation": "rslave", "sysctl": { "net.ipv4.ip_forward": "0" } },
          "annotations": { "org.example": "x" },
          "someFutureField": { "nested": [1, 2, 3] }
        }
        """;

    private static OciConfig Parse(string json) => OciConfigLoader.Parse(Encoding.UTF8.GetBytes(json), "config.json");

    private static SandboxException Fails(string json) => Assert.Throws<SandboxException>(() => Parse(json));

    [Fact]
    public void Reads_every_field_sandbox_uses_and_ignores_unknown_ones()
    {
        var c = Parse(Minimal);
        Assert.Equal("1.0.2", c.OciVersion);
        Assert.Equal("rootfs", c.Root!.Path);
        Assert.True(c.Root.Readonly);
        Assert.Equal(["/bin/sh", "-c", "true"], c.Process!.Args!);
        Assert.Equal(1000u, c.Process.User!.Uid);
        Assert.Equal(100u, c.Process.User.Gid);
        Assert.Equal([5u, 6u], c.Process.User.AdditionalGids!);
        Assert.Equal(18u, c.Process.User.Umask);
        Assert.Equal("RLIMIT_NOFILE", c.Process.Rlimits![0].Type);
        Assert.Equal(2048ul, c.Process.Rlimits[0].Hard);
        Assert.Equal(["CAP_KILL"], c.Process.Capabilities!.Bounding!);
        Assert.True(c.Process.NoNewPrivileges);
        Assert.Equal(100, c.Process.OomScoreAdj);
        Assert.Equal("box", c.Hostname);
        Assert.Equal(["rbind", "ro"], c.Mounts![1].Options!);
        Assert.Equal("/proc/1/ns/net", c.Linux!.Namespaces![1].Path);
        Assert.Equal(1000u, c.Linux.UidMappings![0].HostId);
        Assert.Equal("rslave", c.Linux.RootfsPropagation);
        Assert.Equal("0", c.Linux.Sysctl!["net.ipv4.ip_forward"]);
        Assert.Equal("x", c.Annotations!["org.example"]);
    }

    [Fact]
    public void Malformed_json_names_line_column_and_path()
    {
        var e = Fails("{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": { \"args\": [\"a\" \"b\"] }\n}");
        Assert.Equal(ErrorCodes.ConfigMalformed, e.Code);
        Assert.Contains("config.json:3:", e.Message, StringComparison.Ordinal);
        Assert.Contains("$.process.args", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_type_names_the_json_path()
    {
        var e = Fails("""{ "ociVersion": "1.0.2", "root": { "path": "r" }, "process": { "args": ["a"], "cwd": "/", "user": { "uid": "root" } } }""");
        Assert.Equal(ErrorCodes.ConfigMalformed, e.Code);
        Assert.Contains("$.process.user.uid", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("1.0.2-dev", true)]
    [InlineData("1.1.0", true)]
    [InlineData("1.2.1", true)]
    [InlineData("1.3.0", true)]
    [InlineData("1.4.0", false)]
    [InlineData("0.9.0", false)]
    [InlineData("2.0.0", false)]
    [InlineData("1.0", false)]
    [InlineData("banana", false)]
    public void Versions_1_0_to_1_3_are_accepted(string version, bool ok) => Assert.Equal(ok, OciVersions.IsSupported(version));

    [Fact]
    public void An_unsupported_version_is_refused_with_its_code()
    {
        var e = Fails(Minimal.Replace("\"1.0.2\"", "\"1.9.0\"", StringComparison.Ordinal));
        Assert.Equal(ErrorCodes.ConfigVersion, e.Code);
        Assert.Contains("$.ociVersion", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_namespace_type_is_refused_with_its_path()
    {
        var e = Fails(Minimal.Replace("{ \"type\": \"pid\" }", "{ \"type\": \"pidd\" }", StringComparison.Ordinal));
        Assert.Equal(ErrorCodes.NamespaceUnknown, e.Code);
        Assert.Contains("$.linux.namespaces[0].type", e.Message, StringComparison.Ordinal);
        Assert.Contains("pidd", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mounts_id_mappings_come_in_pairs_of_non_empty_ranges()
    {
        var bind = """{ "destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "ro"] }""";
        var e = Fails(Minimal.Replace(bind, """{ "destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "idmap"], "uidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ] }""", StringComparison.Ordinal));
        Assert.Contains("$.mounts[1]: uidMappings and gidMappings go together", e.Message, StringComparison.Ordinal);
        e = Fails(Minimal.Replace(bind, """{ "destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "idmap"], "uidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ], "gidMappings": [ { "containerID": 0, "hostID": 1000, "size": 0 } ] }""", StringComparison.Ordinal));
        Assert.Contains("$.mounts[1].gidMappings[0].size", e.Message, StringComparison.Ordinal);
        var ok = Parse(Minimal.Replace(bind, """{ "destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "ridmap"], "uidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ], "gidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ] }""", StringComparison.Ordinal));
        Assert.Equal(1000u, ok.Mounts![1].GidMappings![0].HostId);
    }

    [Fact]
    public void V1_memory_settings_are_accepted_within_their_ranges()
    {
        var linux = "\"linux\": { ";
        var ok = Parse(Minimal.Replace(linux, linux + "\"resources\": { \"memory\": { \"swappiness\": 0, \"disableOOMKiller\": true, \"kernelTCP\": 1048576, \"kernel\": 4194304 } }, ", StringComparison.Ordinal));
        Assert.True(ok.Linux!.Resources!.Memory!.DisableOomKiller);
        var e = Fails(Minimal.Replace(linux, linux + "\"resources\": { \"memory\": { \"swappiness\": 101, \"kernelTCP\": -2 } }, ", StringComparison.Ordinal));
        Assert.Equal(ErrorCodes.ResourceInvalid, e.Code);
        Assert.Contains("$.linux.resources.memory.swappiness: 101 is outside 0..100", e.Message, StringComparison.Ordinal);
        Assert.Contains("$.linux.resources.memory.kernelTCP", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void All_problems_are_reported_at_once()
    {
        var e = Fails("""
            { "ociVersion": "1.0.2", "root": { "path": "r" },
              "process": { "args": [], "cwd": "relative", "rlimits": [ { "type": "RLIMIT_BOGUS", "soft": 5, "hard": 1 } ],
                           "capabilities": { "effective": ["CAP_FLY"] } },
              "linux": { "namespaces": [ { "type": "pid" }, { "type": "pid" } ], "devices": [ { "type": "x", "path": "dev/x" } ] } }
            """);
        foreach (var path in new[]
                 {
                     "$.process.args", "$.process.cwd", "$.process.rlimits[0].type", "$.process.rlimits[0]:",
                     "$.process.capabilities.effective[0]", "$.linux.namespaces[1].type", "$.linux.devices[0].type", "$.linux.devices[0].path",
                 })
        {
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Limits_that_cannot_be_enforced_are_refused_not_dropped_and_profiles_are_read_typed()
    {
        var e = Fails(Minimal.Replace("\"rootfsPropagation\"", "\"resources\": { \"hugepageLimits\": [ { \"pageSize\": \"2MB\", \"limit\": 1 } ], \"devices\": [ { \"allow\": false, \"access\": \"rwm\" } ] }, \"rootfsPropagation\"", StringComparison.Ordinal));
        Assert.Equal(ErrorCodes.Unsupported, e.Code);
        Assert.Contains("$.linux.resources.hugepageLimits", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("$.linux.resources.devices", e.Message, StringComparison.Ordinal); // enforced by the device cgroup

        // Device rules are read and checked: type a, c or b; access a combination of r, w and m.
        var bad = Fails(Minimal.Replace("\"rootfsPropagation\"", "\"resources\": { \"devices\": [ { \"allow\": true, \"type\": \"x\", \"access\": \"rwq\" } ] }, \"rootfsPropagation\"", StringComparison.Ordinal));
        Assert.Equal(ErrorCodes.ResourceInvalid, bad.Code);
        Assert.Contains("$.linux.resources.devices[0].type", bad.Message, StringComparison.Ordinal);
        Assert.Contains("$.linux.resources.devices[0].access", bad.Message, StringComparison.Ordinal);

        var c = Parse(Minimal.Replace("\"rootfsPropagation\"", "\"seccomp\": { \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [ { \"index\": 1, \"value\": 2, \"valueTwo\": 3, \"op\": \"SCMP_CMP_MASKED_EQ\" } ] } ] }, \"resources\": { \"memory\": { \"limit\": 33554432, \"swap\": 33554432 }, \"pids\": { \"limit\": 10 } }, \"rootfsPropagation\"", StringComparison.Ordinal));
        Assert.Equal("SCMP_ACT_ERRNO", c.Linux!.Seccomp!.DefaultAction);
        Assert.Equal(3ul, c.Linux.Seccomp.Syscalls![0].Args![0].ValueTwo);
        Assert.Equal(33554432, c.Linux.Resources!.Memory!.Limit);
        Assert.Equal(10, c.Linux.Resources.Pids!.Limit);
    }

    [Fact]
    public void Block_io_throttles_are_read_and_per_device_weights_refused()
    {
        var c = Parse(Minimal.Replace("\"rootfsPropagation\"", "\"resources\": { \"blockIO\": { \"throttleReadBpsDevice\": [ { \"major\": 8, \"minor\": 0, \"rate\": 1048576 } ], \"throttleWriteIOPSDevice\": [ { \"major\": 8, \"minor\": 16, \"rate\": 100 } ] } }, \"rootfsPropagation\"", StringComparison.Ordinal));
        Assert.Equal(new OciThrottleDevice { Major = 8, Minor = 0, Rate = 1048576 }, c.Linux!.Resources!.BlockIo!.ThrottleReadBpsDevice!.Single());
        Assert.Equal(100ul, c.Linux.Resources.BlockIo.ThrottleWriteIOPSDevice!.Single().Rate);
        var e = Fails(Minimal.Replace("\"rootfsPropagation\"", "\"resources\": { \"blockIO\": { \"weightDevice\": [ { \"major\": 8, \"minor\": 0, \"weight\": 500 } ], \"throttleReadBpsDevice\": [ { \"major\": -1, \"minor\": 0, \"rate\": 1 } ] } }, \"rootfsPropagation\"", StringComparison.Ordinal));
        Assert.Contains("$.linux.resources.blockIO (weight and the throttles are supported, not leafWeight or weightDevice)", e.Message, StringComparison.Ordinal);
        Assert.Contains("$.linux.resources.blockIO.throttleReadBpsDevice[0]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_execution_domain_is_linux_or_linux32_without_flags()
    {
        var c = Parse(Minimal.Replace("\"rootfsPropagation\"", "\"personality\": { \"domain\": \"LINUX32\" }, \"rootfsPropagation\"", StringComparison.Ordinal));
        Assert.Equal("LINUX32", c.Linux!.Personality!.Domain);
        var e = Fails(Minimal.Replace("\"rootfsPropagation\"", "\"personality\": { \"domain\": \"SVR4\", \"flags\": [\"x\"] }, \"rootfsPropagation\"", StringComparison.Ordinal));
        Assert.Contains("$.linux.personality.domain: unknown execution domain \"SVR4\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("$.linux.personality.flags", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_process_and_root_are_errors()
    {
        var e = Fails("""{ "ociVersion": "1.0.2" }""");
        Assert.Contains("$.root.path", e.Message, StringComparison.Ordinal);
        Assert.Contains("$.process", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_null_document_is_an_error_not_a_crash()
    {
        Assert.Equal(ErrorCodes.ConfigMalformed, Fails("null").Code);
        Assert.Equal(ErrorCodes.ConfigMalformed, Fails("").Code);
        Assert.Equal(ErrorCodes.ConfigMalformed, Fails("[1,2]").Code);
    }

    [Fact]
    public void A_missing_bundle_config_says_how_to_make_one()
    {
        var dir = Directory.CreateTempSubdirectory();
        try
        {
            var e = Assert.Throws<SandboxException>(() => OciConfigLoader.LoadBundle(dir.FullName));
            Assert.Equal(ErrorCodes.ConfigMissing, e.Code);
            Assert.Contains("sandbox spec", e.Hint, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void The_default_config_round_trips_and_is_valid()
    {
        foreach (var rootless in new[] { false, true })
        {
            var json = OciConfigLoader.Serialize(DefaultConfig.Create(rootless, 1000, 1000));
            var back = Parse(json);
            Assert.Equal(rootless, back.Linux!.Namespaces!.Any(n => n.Type == "user"));
            Assert.Equal(OciConfigLoader.Serialize(back), json);
            Assert.Contains("\"containerID\"", rootless ? json : "\"containerID\"", StringComparison.Ordinal);
        }
    }

    [Fact]
    public void State_serializes_as_the_spec_names_it()
    {
        var json = OciConfigLoader.Serialize(new OciState { Id = "c1", Status = OciStatus.Running, Pid = 42, Bundle = "/b" });
        Assert.Contains("\"ociVersion\"", json, StringComparison.Ordinal);
        Assert.Contains("\"status\": \"running\"", json, StringComparison.Ordinal);
        Assert.Contains("\"pid\": 42", json, StringComparison.Ordinal);
        Assert.DoesNotContain("annotations", json, StringComparison.Ordinal);
        var stopped = OciConfigLoader.Serialize(new OciState { Id = "c1", Status = OciStatus.Stopped, Bundle = "/b" });
        Assert.DoesNotContain("\"pid\"", stopped, StringComparison.Ordinal);
    }
}
