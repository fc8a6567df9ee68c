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
        var context = new AgentRunContext(request.SettingsXml, request.Filter, request.RunDirectory ?? Path.Combine(Path.GetTempPath(), "TestResults"), request.Selection);
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
                        Executor(d.ExecutorUri).RunTests(sources, context, handle);
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

    private ITestExecutor Executor(Uri uri) =>
        _adapters.Executors.TryGetValue(uri, out var executor)
            ? executor
            : throw new InvalidOperationException($"SBX5022: no framework executor for {uri} among the hidden adapters");
}
