using Sandbox.Oci;
using Sandbox.Runtime;

namespace Sandbox.Runtime.Tests;

internal static class Fixtures
{
    public static HostFacts Root(ulong hostHardNofile = 20000) => new()
    {
        Uid = 0,
        Gid = 0,
        EffectiveCaps = 0x1ff_feff_ffffUL & ~(1UL << 24),
        BoundingCaps = 0x1ff_ffff_ffffUL & ~(1UL << 24),
        LastCap = 40,
        LandlockAbi = 4,
        HardRlimit = r => r == 7 ? hostHardNofile : ulong.MaxValue,
    };

    public static HostFacts User(uint uid = 1000) => Root() with { Uid = uid, Gid = uid, EffectiveCaps = 0 };

    public static OciConfig Config(bool rootless = false) => DefaultConfig.Create(rootless, 1000, 1000);

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sandbox.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("no Sandbox.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>A bundle directory with an empty rootfs, removed on dispose.</summary>
    public sealed class TempBundle : IDisposable
    {
        public TempBundle()
        {
            Dir = Directory.CreateTempSubdirectory("sandbox-test-").FullName;
            Rootfs = Path.Combine(Dir, "rootfs");
            Directory.CreateDirectory(Rootfs);
        }

        public string Dir { get; }
        public string Rootfs { get; }

        public void Dispose() => Directory.Delete(Dir, true);
    }
}
