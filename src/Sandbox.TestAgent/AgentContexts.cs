using Microsoft.VisualStudio.TestPlatform.Common.Filtering;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Adapter;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAgent;

/// <summary>
/// What testhost would give a framework adapter: the merged runsettings and the user's filter, which the framework
/// applies itself as it would without Sandbox. Serves as the discovery context too: xunit looks for a public
/// GetTestCaseFilter on it by reflection, as vstest's DiscoveryContext has one. A group's run by sources (class and
/// test isolation) also hands the framework its selection, as part of the filter.
/// </summary>
internal sealed class AgentRunContext : IRunContext
{
    private readonly string? _filter;
    private readonly TestSelection? _selection;

    public AgentRunContext(string? settingsXml, string? filter, string runDirectory, IReadOnlyList<SelectedTest>? selection = null)
    {
        RunSettings = new AgentRunSettings(settingsXml);
        _filter = filter;
        _selection = selection is null ? null : new TestSelection(selection);
        TestRunDirectory = runDirectory;
    }

    public IRunSettings? RunSettings { get; }
    public bool KeepAlive => false;
    public bool InIsolation => false;
    public bool IsDataCollectionEnabled => false;
    public bool IsBeingDebugged => false;
    public string? TestRunDirectory { get; }
    public string? SolutionDirectory => null;

    public ITestCaseFilterExpression? GetTestCaseFilter(IEnumerable<string>? supportedProperties, Func<string, TestProperty?> propertyProvider)
    {
        ITestCaseFilterExpression? user = null;
        if (!string.IsNullOrEmpty(_filter))
        {
            var wrapper = new FilterExpressionWrapper(_filter);
            if (wrapper.ParseError is not null)
            {
                throw new TestPlatformFormatException(wrapper.ParseError, _filter);
            }
            // Like vstest's own contexts: properties the framework does not know are the framework's business, not an error.
            user = new TestCaseFilterExpression(wrapper);
        }
        return _selection is null ? user : new SelectionFilterExpression(user, _selection);
    }
}

/// <summary>
/// The user's filter, if any, and a group's selection: a test case runs when both accept it. xunit (v2 and v3) and
/// MSTest call MatchTestCase on each test case they discovered for their run by sources and run the accepted ones as
/// they would in a plain run (NUnit does not: its groups get an NUnit filter instead, AgentRunner.NUnitGroupContext).
/// </summary>
internal sealed class SelectionFilterExpression(ITestCaseFilterExpression? user, TestSelection selection) : ITestCaseFilterExpression
{
    /// <summary>Never empty: an adapter may take an empty text for no filter at all.</summary>
    public string TestCaseFilterValue => user is null ? "(Sandbox: a group's tests)" : $"({user.TestCaseFilterValue})&(Sandbox: a group's tests)";

    public bool MatchTestCase(TestCase testCase, Func<string, object?> propertyValueProvider) =>
        (user is null || user.MatchTestCase(testCase, propertyValueProvider))
        && selection.Accepts(testCase.Id, testCase.FullyQualifiedName, testCase.DisplayName);
}

internal sealed class AgentRunSettings(string? settingsXml) : IRunSettings
{
    public string? SettingsXml { get; } = settingsXml;
    public ISettingsProvider? GetSettings(string? settingsName) => null;
}

/// <summary>Sink, logger and framework handle in one: each call becomes a protocol line at once.</summary>
internal sealed class StreamingFrameworkHandle : IFrameworkHandle2, ITestCaseDiscoverySink
{
    private readonly LineChannel _channel;
    private readonly AttachmentSender _attachments;

    public StreamingFrameworkHandle(LineChannel channel)
    {
        _channel = channel;
        _attachments = new AttachmentSender(channel);
    }

    public bool EnableShutdownAfterTestRun { get; set; }

    public void SendTestCase(TestCase discoveredTest) =>
        _channel.Write(new AgentMessage { Type = MessageTypes.Case, Case = TestObjectMapper.ToDto(discoveredTest) });

    public void RecordStart(TestCase testCase) =>
        _channel.Write(new AgentMessage { Type = MessageTypes.Start, Id = testCase.Id, Case = TestObjectMapper.ToDto(testCase) });

    public void RecordEnd(TestCase testCase, TestOutcome outcome) =>
        _channel.Write(new AgentMessage { Type = MessageTypes.End, Id = testCase.Id });

    /// <summary>The result, after the files it attached (their paths are the sandbox's); a file not sent is said on
    /// the result; a result too large for a protocol line is cut down to fit (ResultLimit).</summary>
    public void RecordResult(TestResult testResult)
    {
        var dto = TestObjectMapper.ToDto(testResult);
        if (testResult.Attachments.Count > 0)
        {
            var dropped = new List<string>();
            dto = dto with
            {
                Attachments = _attachments.Send(testResult.Attachments, dropped),
                Messages = [.. dto.Messages, .. dropped.Select(d => new MessageDto(TestResultMessage.AdditionalInfoCategory, d + "\n"))],
            };
        }
        _channel.Write(new AgentMessage { Type = MessageTypes.Result, Result = ResultLimit.Fit(dto) });
    }

    /// <summary>Run-level attachments: the files, then the sets naming them; a file not sent is a warning.</summary>
    public void RecordAttachments(IList<AttachmentSet> attachmentSets)
    {
        var dropped = new List<string>();
        var sets = _attachments.Send(attachmentSets, dropped);
        foreach (var text in dropped)
        {
            SendMessage(TestMessageLevel.Warning, text);
        }
        if (sets.Count > 0)
        {
            _channel.Write(new AgentMessage { Type = MessageTypes.RunAttachments, AttachmentSets = sets });
        }
    }

    /// <summary>The first crash of a test process the framework reported (see <see cref="FrameworkProcessCrash"/>).</summary>
    public FrameworkProcessCrash? Crash { get; private set; }

    public void SendMessage(TestMessageLevel testMessageLevel, string message)
    {
        Crash ??= FrameworkProcessCrash.From(testMessageLevel, message);
        _channel.Write(new AgentMessage { Type = MessageTypes.Log, Level = testMessageLevel.ToString(), Text = message });
    }

    public int LaunchProcessWithDebuggerAttached(string filePath, string? workingDirectory, string? arguments, IDictionary<string, string?>? environmentVariables) =>
        throw new NotSupportedException("debugging inside a sandbox is not supported; run with SANDBOX_DISABLE=1");

    public bool AttachDebuggerToProcess(int pid) => false;
}
