using Sandbox.Runtime;
using static Sandbox.Runtime.Interop.Libc;

namespace Sandbox.Runtime.Tests;

public class MountOptionsTests
{
    [Fact]
    public void Flags_propagation_and_data_are_separated()
    {
        var o = MountOptions.Parse(["nosuid", "nodev", "noexec", "ro", "rslave", "mode=755", "size=1m"], "tmpfs", 0);
        Assert.Equal(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, o.Flags);
        Assert.Equal(MS_SLAVE | MS_REC, o.Propagation);
        Assert.Equal("mode=755,size=1m", o.Data);
        Assert.False(o.Bind);
    }

    [Fact]
    public void Later_options_override_earlier_ones()
    {
        Assert.Equal(0ul, MountOptions.Parse(["ro", "rw"], "tmpfs", 0).Flags);
        Assert.Equal(MS_NOEXEC, MountOptions.Parse(["exec", "noexec"], "tmpfs", 0).Flags);
    }

    [Fact]
    public void Bind_and_rbind_are_recognised_by_type_or_option()
    {
        Assert.True(MountOptions.Parse([], "bind", 0).Bind);
        var r = MountOptions.Parse(["rbind"], "none", 0);
        Assert.True(r.Bind);
        Assert.True(r.Recursive);
    }

    [Fact]
    public void Options_that_cannot_be_honoured_are_refused_with_their_path()
    {
        var e = Assert.Throws<SandboxException>(() => MountOptions.Parse(["rro"], "tmpfs", 3));
        Assert.Equal(ErrorCodes.Unsupported, e.Code);
        Assert.Contains("$.mounts[3].options", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tmpcopyup_fills_a_tmpfs_only_and_never_reaches_mount2()
    {
        var o = MountOptions.Parse(["nosuid", "tmpcopyup", "mode=755"], "tmpfs", 0);
        Assert.True(o.CopyUp);
        Assert.Equal("mode=755", o.Data);
        Assert.False(MountOptions.Parse(["nosuid"], "tmpfs", 0).CopyUp);
        foreach (var (options, type) in new (string[], string)[] { (["tmpcopyup"], "proc"), (["bind", "tmpcopyup"], "none"), (["tmpcopyup"], "bind") })
        {
            var e = Assert.Throws<SandboxException>(() => MountOptions.Parse(options, type, 2));
            Assert.Contains("$.mounts[2].options: \"tmpcopyup\"", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Filesystem_options_on_a_bind_mount_are_accepted_and_not_passed_on()
    {
        // runc spec and podman write them; mount(2) ignores the data of MS_BIND.
        var o = MountOptions.Parse(["rbind", "ro", "mode=755", "size=1k"], "bind", 0);
        Assert.True(o.Bind);
        Assert.Equal(MS_RDONLY, o.Flags);
        Assert.Null(o.Data);
    }
}
