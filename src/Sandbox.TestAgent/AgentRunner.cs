using Sandbox.TestAdapter.Protocol;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Adapter;

namespace Sandbox.TestAgent;

/// <summary>Carries out one request with the framework adapters, streaming what they report.</summary>
internal sealed class AgentRunner
{
    private readonly LineChannel _channel;
    private readonly FrameworkAdapters _adapters;

    public AgentRunner(LineChannel channel, FrameworkAdapters adapters)
    {
        _channel = channel;
        _adapters = adapters;
    }

    /// <summary>Carries out <paramref name="request"/>; the crash of a test process the framework started, if it reported one.</summary>
    public FrameworkProcessCrash? Handle(AgentMessage request)
    {
        var context = new AgentRunContext(request.SettingsXml, request.Filter, RunDirectory(request), request.Selection);
        var handle = new StreamingFrameworkHandle(_channel);
        switch (request.Type)
        {
            case MessageTypes.Discover:
                foreach (var d in _adapters.Discoverers)
                {
                    var sources = Sources(request).Where(d.Takes).ToList();
                    if (sources.Count > 0)
                    {
                        d.Discoverer.DiscoverTests(sources, context, handle, handle);
                    }
                }
                break;
            case MessageTypes.RunSources:
                foreach (var d in _adapters.Discoverers)
                {
                    var sources = Sources(request).Where(d.Takes).ToList();
                    if (sources.Count > 0)
                    {
                        var nunitGroup = request.Selection is not null && NUnitSelection.IsNUnit(d.ExecutorUri.OriginalString);
                        Executor(d.ExecutorUri).RunTests(sources, nunitGroup ? NUnitGroupContext(request) : context, handle);
                    }
                }
                break;
            case MessageTypes.RunTests:
                var warn = (string text) => handle.SendMessage(Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging.TestMessageLevel.Warning, text);
                foreach (var group in (request.Tests ?? []).GroupBy(t => t.ExecutorUri, StringComparer.Ordinal))
                {
                    var tests = group.Select(t => TestObjectMapper.FromDto(t, warn: warn)).ToList();
                    Executor(new Uri(group.Key)).RunTests(tests, context, handle);
                }
                break;
            default:
                throw new InvalidDataException($"unknown request '{request.Type}'");
        }
        return handle.Crash;
    }

    private static List<string> Sources(AgentMessage request) => request.Sources ?? [];

    /// <summary>
    /// The run context of an NUnit group's run by sources: no VSTest filter (NUnit3TestAdapter would use it instead of
    /// the runsettings' filter), and the runsettings with an NUnit filter that runs the group's tests as a plain run
    /// of the assembly would (<see cref="NUnitSelection.Where"/>). The adapter sends such a group only when that filter
    /// names its tests exactly: no filter or Where of the user's, a fully qualified name for each discovered test.
    /// </summary>
    private static AgentRunContext NUnitGroupContext(AgentMessage request)
    {
        var selection = request.Selection!;
        var members = selection.Where(s => s.Member).Select(s => s.FullyQualifiedName).Distinct(StringComparer.Ordinal).ToList();
        if (!string.IsNullOrEmpty(request.Filter) || members.Count == 0 || selection.Any(s => !s.Member && members.Contains(s.FullyQualifiedName, StringComparer.Ordinal)))
        {
            throw new InvalidDataException("an NUnit group comes with a filter, or without tests, or shares a fully qualified name with another group's test: its NUnit filter would not run exactly its tests");
        }
        return new AgentRunContext(NUnitSelection.WithWhere(request.SettingsXml, NUnitSelection.Where(members)), null, RunDirectory(request));
    }

    private static string RunDirectory(AgentMessage request) => request.RunDirectory ?? Path.Combine(Path.GetTempPath(), "TestResults");

    private ITestExecutor Executor(Uri uri) =>
        _adapters.Executors.TryGetValue(uri, out var executor)
            ? executor
            : throw new InvalidOperationException($"SBX5022: no framework executor for {uri} among the hidden adapters");
}
