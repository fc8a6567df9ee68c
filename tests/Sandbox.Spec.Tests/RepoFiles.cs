namespace Sandbox.Spec.Tests;

/// <summary>Files of this repository (docs, samples), found from the test's output directory.</summary>
internal static class RepoFiles
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sandbox.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Sandbox.sln above {AppContext.BaseDirectory}");
    }
}
