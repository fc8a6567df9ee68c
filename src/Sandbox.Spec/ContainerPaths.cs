namespace Sandbox.Spec;

/// <summary>Paths inside the container (targets, workdir) and the relative paths a build step writes.</summary>
internal static class ContainerPaths
{
    /// <summary>
    /// An absolute path without '..', in one spelling: repeated and trailing '/' and '.' segments are removed, so that
    /// "/data/" and "/data" are recognised as the same target.
    /// </summary>
    public static bool TryNormalize(string path, out string normalized, out string? problem)
    {
        normalized = path;
        if (!path.StartsWith('/'))
        {
            problem = $"'{YamlNodes.Shorten(path)}' is not an absolute path";
            return false;
        }

        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".").ToArray();
        if (segments.Contains(".."))
        {
            problem = $"'{YamlNodes.Shorten(path)}' contains '..'";
            return false;
        }

        normalized = "/" + string.Join('/', segments);
        problem = null;
        return true;
    }

    /// <summary>A path that stays inside the directory it is relative to: not absolute, no '..' segment.</summary>
    public static bool StaysInside(string relativePath) =>
        !relativePath.StartsWith('/') && !relativePath.Split('/').Contains("..");
}
