using System.Runtime.InteropServices;
using Sandbox.Oci;
using Xunit;

namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// Id-mapped mounts (runtime-spec 1.1 mounts[].uidMappings/gidMappings): a bind mount's source, or an overlay's lower
/// layers, seen with their on-disk owners mapped. The test adapter relies on the overlay form so that a sandbox's user
/// may overwrite, in its copy, the files root's build put in the output directory.
/// </summary>
public class IdmappedMountTests
{
    private static readonly List<OciIdMapping> RootAs1000 = [new() { ContainerId = 0, HostId = 1000, Size = 1 }];

    /// <summary>A directory as a root build leaves it: a read-only-for-others file and a subdirectory, owned by root.</summary>
    private static string RootOwnedTree(TestBundle b)
    {
        var dir = Directory.CreateDirectory(Path.Combine(b.Dir, "built")).FullName;
        File.WriteAllText(Path.Combine(dir, "settings.json"), "from the build\n");
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        return dir;
    }

    private static OciMount Overlay(TestBundle b, string lower, bool idmapped)
    {
        var upper = Directory.CreateDirectory(Path.Combine(b.Dir, "upper")).FullName;
        File.SetUnixFileMode(upper, (UnixFileMode)0x1ed);
        Assert.Equal(0, chown(upper, 1000, 1000)); // as the test adapter does: the upper layer's root is the user's
        var work = Directory.CreateDirectory(Path.Combine(b.Dir, "work")).FullName;
        return new OciMount
        {
            Destination = "/out", Type = "overlay", Source = "overlay",
            Options = [$"lowerdir={lower}", $"upperdir={upper}", $"workdir={work}", .. idmapped ? new[] { "idmap" } : []],
            UidMappings = idmapped ? RootAs1000 : null,
            GidMappings = idmapped ? RootAs1000 : null,
        };
    }

    private static void AsUser1000(TestBundle b, OciMount mount, string script)
    {
        b.Config = b.Config with
        {
            Mounts = [.. b.Config.Mounts!, mount],
            Process = b.Process with { User = new OciUser { Uid = 1000, Gid = 1000 } },
        };
        b.Sh(script);
    }

    private const string Overwrite = "stat -c '%u:%g' /out/settings.json; echo changed > /out/settings.json && echo added > /out/data/new && cat /out/settings.json";

    [PrivilegedFact]
    public void An_overlay_with_id_mapped_lower_layers_lets_the_mapped_user_overwrite_roots_files_in_the_copy_only()
    {
        using var b = new TestBundle();
        var lower = RootOwnedTree(b);
        AsUser1000(b, Overlay(b, lower, idmapped: true), Overwrite);
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["1000:1000", "changed"], r.Stdout.Trim().Split('\n'));
        // The host's tree is untouched and unmounted; the writes are in the upper layer.
        Assert.Equal("from the build\n", File.ReadAllText(Path.Combine(lower, "settings.json")));
        Assert.False(File.Exists(Path.Combine(lower, "data", "new")));
        Assert.Equal("changed\n", File.ReadAllText(Path.Combine(b.Dir, "upper", "settings.json")));
        Assert.DoesNotContain(lower, File.ReadAllText("/proc/self/mountinfo"), StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Without_the_mapping_the_same_user_cannot_overwrite_roots_files()
    {
        // The probe's off case: the same overlay and user, no uidMappings.
        using var b = new TestBundle();
        AsUser1000(b, Overlay(b, RootOwnedTree(b), idmapped: false), Overwrite);
        var r = b.Run();
        Assert.NotEqual(0, r.ExitCode);
        Assert.StartsWith("0:0", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Permission denied", r.Stderr, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void A_bind_mount_shows_its_source_with_the_mapped_owners()
    {
        using var b = new TestBundle();
        var dir = RootOwnedTree(b);
        AsUser1000(b, new OciMount
        {
            Destination = "/out", Type = "bind", Source = dir, Options = ["rbind", "ro", "idmap"],
            UidMappings = RootAs1000, GidMappings = RootAs1000,
        }, "stat -c '%u:%g' /out/settings.json /out/data; grep ' /out ' /proc/self/mountinfo");
        var r = b.Run();
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Trim().Split('\n');
        Assert.Equal(["1000:1000", "1000:1000"], lines[..2]);
        Assert.Contains("idmapped", lines[2], StringComparison.Ordinal);
        Assert.Contains(" ro,", lines[2], StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Mappings_on_other_mount_types_and_an_idmap_option_without_mappings_are_refused()
    {
        using var b = new TestBundle();
        b.Config = b.Config with
        {
            Mounts = [.. b.Config.Mounts!, new OciMount { Destination = "/t", Type = "tmpfs", Source = "tmpfs", UidMappings = RootAs1000, GidMappings = RootAs1000 }],
        };
        b.Sh("true");
        var r = b.Run();
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("an id-mapped mount of type \"tmpfs\"", r.Stderr, StringComparison.Ordinal);

        using var c = new TestBundle();
        c.Config = c.Config with { Mounts = [.. c.Config.Mounts!, new OciMount { Destination = "/t", Type = "bind", Source = c.Dir, Options = ["bind", "idmap"] }] };
        c.Sh("true");
        r = c.Run();
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("\"idmap\" without uidMappings and gidMappings", r.Stderr, StringComparison.Ordinal);
        Assert.Empty(c.StateEntries);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int chown(string path, uint uid, uint gid);
}
