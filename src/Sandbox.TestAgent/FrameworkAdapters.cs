using System.Reflection;
using System.Runtime.Loader;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Adapter;

namespace Sandbox.TestAgent;

/// <summary>A framework discoverer with the file extensions it takes and the executor URI of its tests.</summary>
internal sealed record FrameworkDiscoverer(ITestDiscoverer Discoverer, IReadOnlyList<string> FileExtensions, Uri ExecutorUri)
{
    public bool Takes(string source) =>
        FileExtensions.Count == 0 || FileExtensions.Any(e => source.EndsWith(e, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// The framework's own VSTest adapters, loaded from the directory the package's targets hid them in, the way
/// testhost would have loaded them from the top of the output: every type (public or not) implementing
/// ITestDiscoverer or ITestExecutor, matched by their attributes.
/// </summary>
internal sealed class FrameworkAdapters
{
    private FrameworkAdapters(IReadOnlyList<FrameworkDiscoverer> discoverers, IReadOnlyDictionary<Uri, ITestExecutor> executors)
    {
        Discoverers = discoverers;
        Executors = executors;
    }

    public IReadOnlyList<FrameworkDiscoverer> Discoverers { get; }
    public IReadOnlyDictionary<Uri, ITestExecutor> Executors { get; }

    public static FrameworkAdapters Load(string directory)
    {
        var files = Directory.Exists(directory) ? Directory.GetFiles(directory, "*testadapter.dll", new EnumerationOptions { MatchCasing = MatchCasing.CaseInsensitive }) : [];
        if (files.Length == 0)
        {
            throw new InvalidOperationException($"SBX5021: no framework test adapter in {directory}: the Sandbox.TestAdapter package's targets put xunit.runner.visualstudio's (or NUnit's, MSTest's) adapter there at build time; rebuild the test project");
        }
        // The adapter's own dependencies sit beside it or, for most, in the output directory the deps.json covers.
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            foreach (var dir in new[] { directory, AppContext.BaseDirectory })
            {
                var candidate = Path.Combine(dir, name.Name + ".dll");
                if (File.Exists(candidate))
                {
                    return context.LoadFromAssemblyPath(candidate);
                }
            }
            return null;
        };
        var discoverers = new List<FrameworkDiscoverer>();
        var executors = new Dictionary<Uri, ITestExecutor>();
        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            var assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(file);
            foreach (var type in LoadableTypes(assembly))
            {
                if (type.IsAbstract || type.IsInterface)
                {
                    continue;
                }
                if (typeof(ITestDiscoverer).IsAssignableFrom(type) && type.GetCustomAttribute<DefaultExecutorUriAttribute>() is { } uri)
                {
                    var extensions = type.GetCustomAttributes<FileExtensionAttribute>().Select(a => a.FileExtension).ToList();
                    discoverers.Add(new((ITestDiscoverer)Activator.CreateInstance(type, nonPublic: true)!, extensions, new Uri(uri.ExecutorUri)));
                }
                if (typeof(ITestExecutor).IsAssignableFrom(type) && type.GetCustomAttribute<ExtensionUriAttribute>() is { } ext)
                {
                    executors.TryAdd(new Uri(ext.ExtensionUri), (ITestExecutor)Activator.CreateInstance(type, nonPublic: true)!);
                }
            }
        }
        return new(discoverers, executors);
    }

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            // Types that need an assembly this output lacks (a v1 runner's, say) are not adapters we can use anyway.
            return e.Types.Where(t => t is not null)!;
        }
    }
}
