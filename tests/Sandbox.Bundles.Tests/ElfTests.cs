using Sandbox.Bundles.Elf;

namespace Sandbox.Bundles.Tests;

public class ElfTests
{
    private static string Libc() => new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6" }.First(File.Exists);

    [Fact]
    public void A_dynamic_executable_names_its_interpreter_and_needed_libraries()
    {
        var ls = ElfFile.TryRead("/bin/ls");
        Assert.NotNull(ls);
        Assert.Contains(ls!.Machine, new[] { ElfFile.MachineX64, ElfFile.MachineAarch64 });
        Assert.StartsWith("/lib", ls.Interpreter, StringComparison.Ordinal);
        Assert.Contains("libc.so.6", ls.Needed);
    }

    [Fact]
    public void A_shared_library_has_a_soname()
    {
        Assert.Equal("libc.so.6", ElfFile.TryRead(Libc())!.Soname);
    }

    [Fact]
    public void Non_elf_and_truncated_files_are_not_elf_and_do_not_throw()
    {
        Assert.Null(ElfFile.TryParse("#!/bin/sh\necho hi\n"u8.ToArray()));
        Assert.Null(ElfFile.TryParse([]));
        var real = File.ReadAllBytes("/bin/ls");
        foreach (var cut in new[] { 16, 63, 64, 100, 1000, 4096 })
        {
            ElfFile.TryParse(real[..cut]); // must not throw
        }
        var rng = new Random(42);
        for (var i = 0; i < 200; i++)
        {
            var mutated = (byte[])real[..8192].Clone();
            for (var j = 0; j < 20; j++)
            {
                mutated[rng.Next(16, mutated.Length)] = (byte)rng.Next(256);
            }
            ElfFile.TryParse(mutated); // must not throw either
        }
        Assert.Null(ElfFile.TryRead("/nonexistent"));
    }

    [Fact]
    public void Ld_so_conf_includes_are_followed_and_defaults_come_last()
    {
        var root = Directory.CreateTempSubdirectory("ldso-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Join(root, "etc/ld.so.conf.d"));
            File.WriteAllText(Path.Join(root, "etc/ld.so.conf"), "# comment\ninclude /etc/ld.so.conf.d/*.conf\n/opt/first\n");
            File.WriteAllText(Path.Join(root, "etc/ld.so.conf.d/b.conf"), "/opt/b\n");
            File.WriteAllText(Path.Join(root, "etc/ld.so.conf.d/a.conf"), "/opt/a # trailing comment\ninclude nested.conf\n");
            File.WriteAllText(Path.Join(root, "etc/ld.so.conf.d/nested.conf"), "/opt/nested\n");
            var dirs = LdSoConf.SearchDirectories(root, ElfFile.MachineX64);
            Assert.Equal(["/opt/a", "/opt/nested", "/opt/b", "/opt/first", "/lib/x86_64-linux-gnu"], dirs.Take(5));
            Assert.Equal("/usr/lib", dirs[^1]);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void The_closure_of_a_program_holds_its_libraries_the_loader_and_the_symlinks_on_the_way()
    {
        var closure = new LibraryClosure();
        closure.Add("/bin/ls");
        Assert.Empty(closure.Missing);
        Assert.Contains(closure.Files, f => f.EndsWith("/libc.so.6", StringComparison.Ordinal));
        Assert.Contains(closure.Files, f => f.Contains("ld-linux", StringComparison.Ordinal));
        // Debian merges /usr: /bin and /lib are symlinks, and the bundle must hold them as such.
        if (new FileInfo("/bin").LinkTarget is not null)
        {
            Assert.Contains("/bin", closure.Files);
            Assert.Contains("/usr/bin/ls", closure.Files);
        }
        foreach (var f in closure.Files)
        {
            Assert.True(File.Exists(f) || Directory.Exists(f), f);
        }
    }

    [Fact]
    public void Dotnet_is_found_and_its_native_files_listed()
    {
        var dotnet = DotnetInstallation.Locate();
        Assert.NotNull(dotnet);
        var files = dotnet!.NativeFiles().ToList();
        Assert.Contains(files, f => f.EndsWith("/libcoreclr.so", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("/libhostfxr.so", StringComparison.Ordinal));
        Assert.Equal(Path.Join(dotnet.Root, "dotnet"), files[0]);
    }

    [Fact]
    public void Dotnet_is_found_from_dotnet_root_before_path()
    {
        var root = Directory.CreateTempSubdirectory("dotnet-root-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Join(root, "host/fxr/9.0.0"));
            File.WriteAllText(Path.Join(root, "dotnet"), "");
            var found = DotnetInstallation.Locate(name => name switch { "DOTNET_ROOT" => root, "PATH" => Environment.GetEnvironmentVariable("PATH"), _ => null });
            Assert.Equal(root, found!.Root);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }
}
