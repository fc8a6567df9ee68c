// Writes src/Sandbox.Seccomp/SyscallTable.*.g.cs from the kernel UAPI headers of linux-libc-dev, or with
// --check verifies they are current. Exit codes: 0 done (or current), 1 --check found a stale file,
// 2 linux-libc-dev is missing, 3 a header holds something this generator does not understand, 64 bad usage.
using System.Diagnostics;
using System.Reflection;
using System.Text;
using SyscallTables;

const int Stale = 1;
const int HeadersMissing = 2;
const int HeaderNotUnderstood = 3;
const int Usage = 64;

var check = args switch
{
    [] => false,
    ["--check"] => true,
    _ => (bool?)null,
};
if (check is null)
{
    Console.Error.WriteLine("usage: dotnet run --project eng/SyscallTables -- [--check]");
    return Usage;
}

var missing = TableSources.All.Where(s => !File.Exists(s.HeaderPath)).Select(s => s.HeaderPath).ToList();
if (missing.Count > 0)
{
    Console.Error.WriteLine($"linux-libc-dev is not installed (missing {string.Join(", ", missing)}).");
    Console.Error.WriteLine("Install it (apt-get install linux-libc-dev) to regenerate the tables; building does not need it.");
    return HeadersMissing;
}

var repositoryRoot = typeof(TableSource).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
    .Single(a => a.Key == "RepositoryRoot").Value!;
var packageVersion = LinuxLibcDevVersion();
var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
var stale = 0;

foreach (var source in TableSources.All)
{
    string content;
    int count;
    try
    {
        var macros = HeaderPreprocessor.Run(
            source.HeaderPath, File.ReadAllText(source.HeaderPath), source.Predefined, source.IgnoredIncludes);
        var syscalls = SyscallNumbers.From(source.HeaderPath, macros);
        content = GeneratedTable.Render(source, syscalls, packageVersion);
        count = syscalls.Count;
    }
    catch (HeaderException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return HeaderNotUnderstood;
    }

    var output = Path.Combine(repositoryRoot, source.OutputPath);
    var current = File.Exists(output) ? File.ReadAllText(output, utf8) : null;
    if (current == content)
    {
        Console.WriteLine($"{source.OutputPath}: up to date ({count} {source.Architecture} system calls).");
    }
    else if (check.Value)
    {
        Console.Error.WriteLine($"{source.OutputPath}: {(current is null ? "missing" : "out of date")}; run 'dotnet run --project eng/SyscallTables'.");
        stale++;
    }
    else
    {
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        File.WriteAllText(output, content, utf8);
        Console.WriteLine($"{source.OutputPath}: written ({count} {source.Architecture} system calls).");
    }
}

return stale > 0 ? Stale : 0;

// The package the headers came from, for the generated files' comment; "unknown" where dpkg is not the packager.
static string LinuxLibcDevVersion()
{
    try
    {
        var start = new ProcessStartInfo("dpkg-query", ["-W", "-f", "${Version}\n", "linux-libc-dev"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start);
        if (process is null)
        {
            return "unknown";
        }

        var output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();

        // With more than one architecture's package installed there is one line each.
        var versions = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        return process.ExitCode == 0 && versions.Count > 0 ? string.Join(", ", versions) : "unknown";
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "unknown";
    }
}
