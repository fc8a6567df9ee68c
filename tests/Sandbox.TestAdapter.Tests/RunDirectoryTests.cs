using System.Diagnostics;

namespace Sandbox.TestAdapter.Tests;

/// <summary>SandboxRun.CollectLeftovers: the run directories of dead testhosts, and only this user's.</summary>
public sealed class RunDirectoryTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("sandbox-leftovers-").FullName;

    /// <summary>A pid no process has: a child that has exited and been reaped.</summary>
    private static int DeadPid()
    {
        using var p = Process.Start("true")!;
        p.WaitForExit();
        return p.Id;
    }

    private string RunDirectory(string name, int ownerPid)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_temp, name)).FullName;
        File.WriteAllText(Path.Combine(dir, "owner.pid"), ownerPid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // What a rootless overlay leaves: a work directory its owner may not enter.
        var work = Directory.CreateDirectory(Path.Combine(dir, "work", "work")).FullName;
        File.SetUnixFileMode(work, UnixFileMode.None);
        return dir;
    }

    [PrivilegedFact]
    public void A_dead_testhosts_directory_of_this_user_goes_and_another_users_stays_whatever_its_owner_file_says()
    {
        var dead = DeadPid();
        var mine = RunDirectory("sandbox-test-mine", dead);
        var alive = RunDirectory("sandbox-test-alive", 1);
        var theirs = RunDirectory("sandbox-test-theirs", dead);
        using (var chown = Process.Start("chown", ["-R", "65534:65534", theirs])!)
        {
            chown.WaitForExit();
            Assert.Equal(0, chown.ExitCode);
        }

        SandboxRun.CollectLeftovers(_temp);

        Assert.False(Directory.Exists(mine), "a dead testhost's run directory is collected, its unreadable work directory too");
        Assert.True(Directory.Exists(alive), "a live owner's run directory stays");
        Assert.True(Directory.Exists(theirs), "another user's directory is never walked, whatever its owner file says");
    }

    public void Dispose()
    {
        using var rm = Process.Start("rm", ["-rf", "--one-file-system", _temp])!;
        rm.WaitForExit();
    }
}
