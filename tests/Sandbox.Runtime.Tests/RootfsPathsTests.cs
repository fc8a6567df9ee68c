using Sandbox.Runtime;

namespace Sandbox.Runtime.Tests;

public class RootfsPathsTests
{
    [Theory]
    [InlineData("/proc", "proc")]
    [InlineData("/dev//pts/", "dev/pts")]
    [InlineData("/a/./b/../c", "a/c")]
    [InlineData("/../../etc", "etc")]
    [InlineData("/", ".")]
    [InlineData("relative/x", "relative/x")]
    public void Destinations_are_made_relative_to_the_rootfs_without_climbing_out(string dest, string rel) =>
        Assert.Equal(rel, RootfsPaths.Relative(dest));

    [Fact]
    public void A_relative_symlink_that_climbs_out_of_the_rootfs_is_refused()
    {
        using var b = new Fixtures.TempBundle();
        Directory.CreateSymbolicLink(Path.Combine(b.Rootfs, "evil"), "../../../../../etc");
        var e = Assert.Throws<SandboxException>(() => RootfsPaths.CheckDestination(b.Rootfs, "/evil/x", "$.mounts[0].destination"));
        Assert.Equal(ErrorCodes.MountEscapes, e.Code);
        Assert.Contains("/evil -> ../../../../../etc", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Symlinks_that_stay_inside_are_followed_and_absolute_ones_are_read_in_the_rootfs()
    {
        using var b = new Fixtures.TempBundle();
        Directory.CreateDirectory(Path.Combine(b.Rootfs, "usr/lib"));
        Directory.CreateSymbolicLink(Path.Combine(b.Rootfs, "lib"), "usr/lib");
        Directory.CreateSymbolicLink(Path.Combine(b.Rootfs, "abs"), "/usr/lib");
        Directory.CreateSymbolicLink(Path.Combine(b.Rootfs, "usr/lib/up"), "../../lib");
        RootfsPaths.CheckDestination(b.Rootfs, "/lib/x", "$");
        RootfsPaths.CheckDestination(b.Rootfs, "/abs/x", "$");
        RootfsPaths.CheckDestination(b.Rootfs, "/lib/up/y", "$");
        RootfsPaths.CheckDestination(b.Rootfs, "/not/there/yet", "$");
    }

    [Fact]
    public void A_symlink_loop_is_an_error_not_a_hang()
    {
        using var b = new Fixtures.TempBundle();
        Directory.CreateSymbolicLink(Path.Combine(b.Rootfs, "a"), "b");
        Directory.CreateSymbolicLink(Path.Combine(b.Rootfs, "b"), "a");
        Assert.Equal(ErrorCodes.MountEscapes, Assert.Throws<SandboxException>(() => RootfsPaths.CheckDestination(b.Rootfs, "/a/x", "$")).Code);
    }
}
