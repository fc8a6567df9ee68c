namespace Sandbox.Build.Tasks;

/// <summary>
/// What a SandboxExec step declares, as absolute, normalized host paths: the files and directories it reads, the files
/// and directories it writes, where it starts. A file output makes its directory a scratch directory in the sandbox
/// (so the step can create the file there), in which anything else it writes is an undeclared write.
/// </summary>
internal sealed record StepDeclaration(
    string ProjectDirectory,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> FileOutputs,
    IReadOnlyList<string> DirectoryOutputs,
    string WorkingDirectory)
{
    /// <summary>
    /// The writable directories of the sandbox, each at its own path: the project directory (empty but for what is
    /// mounted into it, so an undeclared write there is seen), every directory output and the directory of every file
    /// output. Ordered so a directory comes before those inside it, the order they are mounted in.
    /// </summary>
    public IReadOnlyList<string> ScratchTargets =>
        [.. new[] { ProjectDirectory }.Concat(DirectoryOutputs).Concat(FileOutputs.Select(f => Path.GetDirectoryName(f)!))
            .Where(d => d == ProjectDirectory || DirectoryOutputs.Contains(d) || !DirectoryOutputs.Any(o => IsWithin(d, o)))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>Every path the sandbox mounts something at: the scratch directories and the inputs.</summary>
    public IEnumerable<string> MountTargets => ScratchTargets.Concat(Inputs);

    /// <summary>
    /// Reads the task's items: a path ending in '/' or naming an existing directory is a directory, anything else a file.
    /// Relative paths are resolved by <paramref name="absolute"/> (the task environment's project directory).
    /// </summary>
    public static StepDeclaration From(string projectDirectory, IEnumerable<string> inputs, IEnumerable<string> outputs, string? workingDirectory, Func<string, string> absolute)
    {
        var fileOutputs = new List<string>();
        var directoryOutputs = new List<string>();
        foreach (var o in outputs.Where(o => o.Length > 0))
        {
            var path = Normalize(absolute(o));
            (o.EndsWith('/') || Directory.Exists(path) ? directoryOutputs : fileOutputs).Add(path);
        }
        var project = Normalize(projectDirectory);
        return new StepDeclaration(project,
            [.. inputs.Where(i => i.Length > 0).Select(i => Normalize(absolute(i))).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            [.. fileOutputs.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            [.. directoryOutputs.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            string.IsNullOrEmpty(workingDirectory) ? project : Normalize(absolute(workingDirectory)));
    }

    /// <summary>What is wrong with the declaration, each with what to do; empty when the step can run.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (FileOutputs.Count + DirectoryOutputs.Count == 0)
        {
            problems.Add("the step declares no Outputs (hint: list the files or directories (ending in '/') it writes; a step that writes nothing needs no sandbox)");
        }
        foreach (var i in Inputs)
        {
            if (!File.Exists(i) && !Directory.Exists(i))
            {
                problems.Add($"the input {i} does not exist (hint: build what makes it first, or correct the Inputs)");
            }
            if (FileOutputs.Contains(i) || DirectoryOutputs.Any(o => i == o || IsWithin(i, o)))
            {
                problems.Add($"the input {i} is also an output or inside an output directory (hint: a step may not change what it reads; write to another path)");
            }
        }
        foreach (var o in DirectoryOutputs)
        {
            if (DirectoryOutputs.FirstOrDefault(outer => IsWithin(o, outer)) is { } outer)
            {
                problems.Add($"the output directory {o} is inside the output directory {outer} (hint: declare only {outer})");
            }
            if (o == ProjectDirectory || IsWithin(ProjectDirectory, o))
            {
                problems.Add($"the output directory {o} holds the project directory (hint: declare a directory under {ProjectDirectory}, such as obj/generated/)");
            }
        }
        foreach (var path in FileOutputs.Concat(DirectoryOutputs).Concat(Inputs))
        {
            if (SystemDirectories.Any(s => path == s || IsWithin(path, s)))
            {
                problems.Add($"{path} is in a system directory the sandbox's base shows read-only (hint: keep the step's inputs and outputs in the project, obj/ or another directory of the build)");
            }
        }
        if (WorkingDirectory != ProjectDirectory && !IsWithin(WorkingDirectory, ProjectDirectory)
            && !DirectoryOutputs.Any(o => WorkingDirectory == o || IsWithin(WorkingDirectory, o))
            && !Inputs.Any(i => (WorkingDirectory == i || IsWithin(WorkingDirectory, i)) && Directory.Exists(i)))
        {
            problems.Add($"the WorkingDirectory {WorkingDirectory} is outside the project directory, the input directories and the output directories, so the step could not see it (hint: use a directory in the project, or declare it as an input)");
        }
        return problems;
    }

    /// <summary>The host's system directories, which the default base shows read-only and a step cannot write to.</summary>
    internal static readonly string[] SystemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc", "/proc", "/sys", "/dev"];

    public static bool IsWithin(string path, string directory) =>
        path.Length > directory.Length && path.StartsWith(directory, StringComparison.Ordinal) && (directory == "/" || path[directory.Length] == '/');

    private static string Normalize(string path) => path == "/" ? path : Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
}
