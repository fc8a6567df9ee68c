using System.Diagnostics;
using System.IO.Compression;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;

namespace Sandbox.Build.Tasks.Tests;

/// <summary>
/// What the Sandbox.Build package carries: `sandbox` and `sandbox-build` for linux-x64 and, cross-compiled on an x64
/// machine (eng/build.sh), for linux-arm64; the arm64 ones are started under qemu-aarch64 (eng/install-deps.sh).
/// </summary>
public sealed class PackageLayoutTests : IDisposable
{
    private const ushort X64 = 62, Arm64 = 183; // ELF e_machine

    private readonly string _dir = Directory.CreateTempSubdirectory("sandbox-package-layout-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>artifacts/packages/PACKAGE.VERSION.nupkg (the version starts with a digit, which a longer id does not).</summary>
    private static string PackagePath(string package = "Sandbox.Build") =>
        Assert.Single(Directory.GetFiles(Path.Combine(PackageFixture.RepoRoot, "artifacts/packages"), package + ".*.nupkg"),
            f => char.IsAsciiDigit(Path.GetFileName(f)[package.Length + 1]));

    [Theory]
    [InlineData("linux-x64", X64)]
    [InlineData("linux-arm64", Arm64)]
    public void Both_executables_are_there_for_each_architecture(string rid, ushort machine)
    {
        if (RuntimeInformation.OSArchitecture != Architecture.X64)
        {
            Assert.Fail("eng/build.sh cross-compiles linux-arm64 on x64 machines only; on this one check tools/linux-arm64 by hand");
        }
        using var zip = ZipFile.OpenRead(PackagePath());
        foreach (var name in new[] { "sandbox", "sandbox-build" })
        {
            var entry = zip.GetEntry($"tools/{rid}/{name}");
            Assert.True(entry is not null, $"the package has no tools/{rid}/{name}");
            using var s = entry!.Open();
            var header = new byte[20];
            s.ReadExactly(header);
            Assert.Equal("\u007fELF"u8.ToArray(), header[..4]);
            Assert.Equal(machine, BitConverter.ToUInt16(header, 18));
        }
    }

    [Fact]
    public void The_arm64_runtime_starts_compiles_a_profile_and_reads_the_hosts_cgroups_under_qemu()
    {
        using var zip = ZipFile.OpenRead(PackagePath());
        var exe = Path.Combine(_dir, "sandbox");
        zip.GetEntry("tools/linux-arm64/sandbox")!.ExtractToFile(exe);
        File.SetUnixFileMode(exe, (UnixFileMode)0x1ed);
        var version = Qemu(exe, "--version");
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.StartsWith("sandbox version", version.Output, StringComparison.Ordinal);
        var compiled = Qemu(exe, "seccomp", "compile", "default");
        Assert.True(compiled.ExitCode == 0, compiled.ToString());
        // The same profile makes the same filter (it covers both architectures) as the x64 runtime makes.
        var native = Run(PackageFixture.SandboxExe, "seccomp", "compile", "default");
        Assert.Equal(Instructions(native.Output), Instructions(compiled.Output));
        // qemu-user cannot clone into namespaces, so no container starts here; doctor's file-reading checks run.
        var doctor = Qemu(exe, "doctor");
        Assert.Contains("cgroups:", doctor.Output, StringComparison.Ordinal);
        Assert.Contains("seccomp:                     ok", doctor.Output, StringComparison.Ordinal);
    }

    // eng/pack.sh compiles the managed assemblies ahead of time (ReadyToRun) for this machine's architecture: a build
    // node or a testhost runs their native code instead of JIT-compiling the IL at every start. A ReadyToRun image
    // has a managed native header and code for the machine; the IL is still there for the others.
    [Theory]
    [InlineData("Sandbox.Build", "tools/net/Sandbox.Build.Tasks.dll")]
    [InlineData("Sandbox.TestAdapter", "build/sandbox/Sandbox.TestAdapter.dll")]
    [InlineData("Sandbox.TestAdapter", "build/sandbox/Sandbox.TestAgent.dll")]
    [InlineData("Sandbox.TestAdapter", "build/sandbox/Sandbox.TestAdapter.Mtp.dll")]
    public void The_managed_assemblies_are_compiled_ahead_of_time_for_this_machine(string package, string path)
    {
        using var zip = ZipFile.OpenRead(PackagePath(package));
        var entry = zip.GetEntry(path);
        Assert.True(entry is not null, $"{package} has no {path}");
        using var image = new MemoryStream();
        using (var s = entry!.Open())
        {
            s.CopyTo(image);
        }
        image.Position = 0;
        using var pe = new PEReader(image);
        Assert.True(pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0, $"{package}'s {path} is IL only: eng/pack.sh publishes it with PublishReadyToRun=true");
        var machine = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? Machine.Arm64 : Machine.Amd64;
        // A ReadyToRun image for Linux marks its machine with the OS's value (xor 0x7B79 for Linux).
        Assert.Equal((ushort)machine ^ 0x7B79, (int)pe.PEHeaders.CoffHeader.Machine);
    }

    private static string Instructions(string compileOutput) =>
        System.Text.RegularExpressions.Regex.Match(compileOutput, @"default: (\d+) instructions").Groups[1].Value is { Length: > 0 } n
            ? n : throw new Xunit.Sdk.XunitException("no instruction count in: " + compileOutput);

    private static CommandResult Qemu(string exe, params string[] args) => Run("qemu-aarch64", ["-L", "/usr/aarch64-linux-gnu", exe, .. args]);

    private static CommandResult Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)), $"{program} did not end");
        return new CommandResult(p.ExitCode, stdout + stderr.Result);
    }

}
