using System.Collections.Concurrent;
using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Adapter;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAdapter;

/// <summary>
/// The VSTest adapter testhost loads from the top of the test output, in place of the framework's own (which the
/// package's targets hid in .sandbox/adapters/). Every request goes to an agent in a sandbox, one per test assembly
/// (`assembly` isolation), which runs the framework's adapter; the test cases it reports keep their identity, the
/// results carry the sandbox's usage.
/// </summary>
[FileExtension(".dll")]
[DefaultExecutorUri(ExecutorUriString)]
[ExtensionUri(ExecutorUriString)]
[Category("managed")]
public sealed class SandboxTestAdapter : ITestDiscoverer, ITestExecutor
{
    public const string ExecutorUriString = "executor://sandbox/testadapter/v1";
    internal static readonly Uri ExecutorUri = new(ExecutorUriString);

    /// <summary>The framework's executor URI, kept on each proxy test case so that run-with-tests reaches the right executor.</summary>
    internal static readonly TestProperty OriginalExecutorUri = TestProperty.Register(
        "Sandbox.OriginalExecutorUri", "Original executor URI", typeof(string), TestPropertyAttributes.Hidden, typeof(SandboxTestAdapter));

    private readonly ConcurrentDictionary<AgentProcess, byte> _running = new();
    private volatile bool _cancelled;

    /// <summary>testhost creates its executor and discoverer some time before it asks them for anything: the sandbox
    /// of its test assembly starts meanwhile (<see cref="WarmAgent"/>).</summary>
    public SandboxTestAdapter() => WarmAgent.Begin();

    public void DiscoverTests(IEnumerable<string> sources, IDiscoveryContext discoveryContext, IMessageLogger logger, ITestCaseDiscoverySink discoverySink)
    {
        var settingsXml = discoveryContext.RunSettings?.SettingsXml;
        if (RunSettings(settingsXml, logger) is not { } run)
        {
            return;
        }
        var filter = FilterOf(discoveryContext);
        foreach (var source in sources)
        {
            if (Resolve(source, run, logger) is not { } settings)
            {
                continue;
            }
            try
            {
                foreach (var dto in Discover(source, settings, settingsXml, filter, logger))
                {
                    discoverySink.SendTestCase(ToProxy(dto, logger));
                }
            }
            catch (AdapterException e)
            {
                logger.SendMessage(TestMessageLevel.Error, e.Message);
            }
        }
        // An agent is good for one request: a warm one nobody took now has nothing left to do.
        WarmAgent.Discard();
    }

    public void RunTests(IEnumerable<string>? sources, IRunContext? runContext, IFrameworkHandle? frameworkHandle)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(frameworkHandle);
        var handle = new SynchronizedHandle(frameworkHandle);
        _cancelled = false; // one executor may serve several runs of a testhost
        var settingsXml = runContext?.RunSettings?.SettingsXml;
        if (RunSettings(settingsXml, handle) is not { } run)
        {
            return;
        }
        var filter = runContext?.GetTestCaseFilter(null, _ => null)?.TestCaseFilterValue;
        var jobs = sources.Select(s => (Source: s, Settings: Resolve(s, run, handle))).Where(j => j.Settings is not null).ToList();
        var pool = Pool(jobs.Select(j => j.Settings!));
        using var signals = CancelOnSignals();
        foreach (var (source, settings) in jobs)
        {
            var request = new AgentMessage { Type = MessageTypes.RunSources, Sources = [source], SettingsXml = settingsXml, Filter = filter };
            if (settings!.Isolation == "assembly")
            {
                pool.Add(() => Run(source, request, null, null, settings, runContext, handle));
                continue;
            }
            // Groups need the test cases: discovered first (in a sandbox of its own), with the user's filter, then
            // one sandbox per class or per test, as many at once as the settings allow, each a run by sources that
            // runs the group's tests (GroupPlan).
            pool.Add(() =>
            {
                List<TestCaseDto> discovered;
                try
                {
                    discovered = NUnitDiscoveryFilter.Apply(Discover(source, settings, settingsXml, filter, handle), runContext);
                }
                catch (Exception e) when (e is AdapterException or TestPlatformFormatException)
                {
                    handle.SendMessage(TestMessageLevel.Error, e.Message);
                    return;
                }
                var plan = GroupPlan.ForSources(source, settingsXml, filter, discovered);
                // What the framework reports for an explicit test it was not asked for, where it reports one: a result
                // without an outcome.
                foreach (var skipped in plan.ReportedNotRun.Select(d => ToProxy(d, handle)))
                {
                    handle.RecordResult(new TestResult(skipped) { Outcome = TestOutcome.None, ComputerName = Environment.MachineName });
                    handle.RecordEnd(skipped, TestOutcome.None);
                }
                AddGroups(pool, source, [.. plan.Runnable.Select(d => ToProxy(d, handle))], plan, settings, runContext, handle);
            });
        }
        pool.Run();
        WarmAgent.Discard();
    }

    public void RunTests(IEnumerable<TestCase>? tests, IRunContext? runContext, IFrameworkHandle? frameworkHandle)
    {
        ArgumentNullException.ThrowIfNull(tests);
        ArgumentNullException.ThrowIfNull(frameworkHandle);
        var handle = new SynchronizedHandle(frameworkHandle);
        _cancelled = false; // one executor may serve several runs of a testhost
        if (RunSettings(runContext?.RunSettings?.SettingsXml, handle) is not { } run)
        {
            return;
        }
        var jobs = tests.GroupBy(t => t.Source, StringComparer.Ordinal)
            .Select(g => (Source: g.Key, Tests: g.ToList(), Settings: Resolve(g.Key, run, handle)))
            .Where(j => j.Settings is not null).ToList();
        var pool = Pool(jobs.Select(j => j.Settings!));
        using var signals = CancelOnSignals();
        foreach (var (source, cases, settings) in jobs)
        {
            // A selection (an IDE's, `--tests`) runs as one: the framework runs what it was handed, explicit tests too.
            var plan = new GroupPlan(source, runContext?.RunSettings?.SettingsXml, null, [.. cases.Select(FromProxy)], bySources: false);
            AddGroups(pool, source, cases, plan, settings!, runContext, handle);
        }
        pool.Run();
        WarmAgent.Discard();
    }

    public void Cancel()
    {
        _cancelled = true;
        WarmAgent.Discard();
        foreach (var agent in _running.Keys)
        {
            agent.Kill();
        }
    }

    private WorkPool Pool(IEnumerable<SandboxSettings> settings) =>
        new(settings.Select(s => s.EffectiveParallel).DefaultIfEmpty(1).Min(), () => _cancelled);

    /// <summary>
    /// Ctrl+C in a terminal reaches testhost too, which then ends before vstest can ask for a cancel: so while
    /// sandboxes run, SIGINT and SIGTERM cancel the run here first, and the signal's default action (ending
    /// testhost) waits until every sandbox is gone and its run directory removed.
    /// </summary>
    private IDisposable CancelOnSignals()
    {
        void Handler(PosixSignalContext context)
        {
            Cancel();
            AgentProcess.WaitForAllDisposed(TimeSpan.FromSeconds(20));
        }
        var registrations = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM }.Select(s => PosixSignalRegistration.Create(s, Handler)).ToList();
        return new Registrations(registrations);
    }

    private sealed class Registrations(List<PosixSignalRegistration> registrations) : IDisposable
    {
        public void Dispose() => registrations.ForEach(r => r.Dispose());
    }

    /// <summary>One work item per sandbox the isolation asks for: the whole assembly, each class, or each test.</summary>
    private void AddGroups(WorkPool pool, string source, List<TestCase> cases, GroupPlan plan, SandboxSettings settings, IRunContext? runContext, IFrameworkHandle handle)
    {
        IEnumerable<List<TestCase>> groups = settings.Isolation switch
        {
            "test" => cases.Select(c => new List<TestCase> { c }),
            "class" => cases.GroupBy(ClassOf, StringComparer.Ordinal).Select(g => g.ToList()),
            _ => [cases],
        };
        foreach (var group in groups.Where(g => g.Count > 0))
        {
            var known = group.ToDictionary(t => t.Id);
            pool.Add(() => Run(source, plan.Request(known.Values), known, plan, settings, runContext, handle));
        }
    }

    /// <summary>
    /// The class a test belongs to: the framework's ManagedType property where it sets one (xunit, NUnit, MSTest
    /// do), else its fully qualified name up to the method (parameters, as NUnit writes them, cut off first).
    /// </summary>
    internal static string ClassOf(TestCase test)
    {
        if (test.Properties.FirstOrDefault(p => p.Id == "TestCase.ManagedType") is { } managedType
            && test.GetPropertyValue(managedType) is string { Length: > 0 } type)
        {
            return type;
        }
        var name = test.FullyQualifiedName;
        var paren = name.IndexOf('(', StringComparison.Ordinal);
        if (paren >= 0)
        {
            name = name[..paren];
        }
        var dot = name.LastIndexOf('.');
        return dot < 0 ? name : name[..dot];
    }

    /// <summary>A proxy test case: the framework's case under this executor, with its Id set explicitly (the default
    /// Id would hash our URI) and the framework's URI kept for the way back.</summary>
    internal static TestCase ToProxy(TestCaseDto dto, IMessageLogger? logger)
    {
        var testCase = TestObjectMapper.FromDto(dto, ExecutorUri, Warner(logger));
        testCase.SetPropertyValue(OriginalExecutorUri, dto.ExecutorUri);
        return testCase;
    }

    /// <summary>The framework's test case again, as the agent hands it to the framework's executor.</summary>
    internal static TestCaseDto FromProxy(TestCase testCase)
    {
        var original = testCase.GetPropertyValue(OriginalExecutorUri) as string ?? testCase.ExecutorUri.OriginalString;
        return TestObjectMapper.ToDto(testCase, original, p => p.Id == OriginalExecutorUri.Id);
    }

    /// <summary>The run's own settings (runsettings, environment); null, with the error logged, when they are wrong.</summary>
    private static RunSandboxSettings? RunSettings(string? settingsXml, IMessageLogger logger)
    {
        try
        {
            return RunSandboxSettings.Parse(settingsXml, Environment.GetEnvironmentVariable);
        }
        catch (AdapterException e)
        {
            logger.SendMessage(TestMessageLevel.Error, e.Message);
            return null;
        }
    }

    /// <summary>
    /// One test assembly's settings, with what they mean said once: the project's sandbox.yaml `test:` section under
    /// the run's settings, and whether this host can make sandboxes at all. Null, with the error logged, when the
    /// assembly cannot run.
    /// </summary>
    private static SandboxSettings? Resolve(string source, RunSandboxSettings run, IMessageLogger logger)
    {
        try
        {
            var settings = run.Resolve(source, "`dotnet test -- Sandbox.AllowUnsandboxed=true`", warning => logger.SendMessage(TestMessageLevel.Warning, warning));
            if (!settings.Enabled && settings.Fallback is null)
            {
                logger.SendMessage(TestMessageLevel.Informational, $"Sandbox is disabled for {Path.GetFileName(source)} by {settings.DisabledBy}: its tests run unsandboxed, through the framework's own adapter in an agent process");
            }
            return settings;
        }
        catch (AdapterException e)
        {
            logger.SendMessage(TestMessageLevel.Error, e.Message);
            return null;
        }
    }

    /// <summary>The user's --filter as typed. vstest's DiscoveryContext has GetTestCaseFilter as a public method only
    /// (not on the interface); xunit finds it the same way.</summary>
    private static string? FilterOf(IDiscoveryContext context)
    {
        if (context is IRunContext run)
        {
            return run.GetTestCaseFilter(null, _ => null)?.TestCaseFilterValue;
        }
        var method = context.GetType().GetMethod("GetTestCaseFilter", [typeof(IEnumerable<string>), typeof(Func<string, TestProperty>)]);
        var filter = method?.Invoke(context, [null, (Func<string, TestProperty?>)(_ => null)]) as ITestCaseFilterExpression;
        return filter?.TestCaseFilterValue;
    }

    private static AgentProcess StartAgent(string source, SandboxSettings settings) =>
        settings.Enabled
            ? WarmAgent.Take(source, settings) ?? AgentProcess.StartSandboxed(source, settings.Manifest ?? SandboxManifest.Read(source), settings.Timeout)
            : AgentProcess.StartUnsandboxed(source);

    private List<TestCaseDto> Discover(string source, SandboxSettings settings, string? settingsXml, string? filter, IMessageLogger logger)
    {
        using var agent = StartAgent(source, settings);
        var cases = new List<TestCaseDto>();
        var request = new AgentMessage { Type = MessageTypes.Discover, Sources = [source], SettingsXml = settingsXml, Filter = filter };
        var done = Converse(agent, request, logger, $"discovery of {source}", m =>
        {
            if (m is { Type: MessageTypes.Case, Case: { } c })
            {
                cases.Add(c);
            }
        });
        if (!done)
        {
            var usage = agent.ReportPath is null ? null : UsageSummary.TryRead(agent.ReportPath);
            logger.SendMessage(TestMessageLevel.Error, $"{AdapterErrors.SandboxCrashed}: discovery of {source} ended without finishing: {CrashCause(agent, usage)}");
        }
        return cases;
    }

    /// <summary>
    /// Sends one request and reads the agent's messages until it ends, passing on its log lines and the error it
    /// reports, and <paramref name="onMessage"/> the rest; the agent can be cancelled meanwhile. True when the agent
    /// said it was done, false when its sandbox ended first.
    /// </summary>
    private bool Converse(AgentProcess agent, AgentMessage request, IMessageLogger logger, string what, Action<AgentMessage> onMessage)
    {
        _running.TryAdd(agent, 0);
        try
        {
            var done = false;
            if (_cancelled)
            {
                agent.Kill();
                return false;
            }
            try
            {
                agent.Send(request);
            }
            catch (IOException)
            {
                // The sandbox ended before it read the request (its setup failed): what it said is in its stderr.
            }
            while (ReadSafely(agent, logger) is { } m)
            {
                switch (m.Type)
                {
                    case MessageTypes.Log:
                        Log(logger, m);
                        break;
                    case MessageTypes.Done:
                        done = true;
                        if (m.Error is not null)
                        {
                            logger.SendMessage(TestMessageLevel.Error, $"{AdapterErrors.AgentFailed}: {what} failed in the agent: {m.Error}");
                        }
                        break;
                    default:
                        onMessage(m);
                        break;
                }
            }
            agent.WaitForExit();
            return done;
        }
        finally
        {
            _running.TryRemove(agent, out _);
        }
    }

    /// <summary>
    /// Runs <paramref name="request"/> for one source in one sandbox. If the sandbox dies before the agent is done,
    /// the test that was running fails with the cause and the figures, and the tests not yet run continue in a new
    /// sandbox (found by discovering again with the same filter when the request was by sources). When the culprit
    /// is not certain (several tests were running in parallel, or the framework's start message died with the
    /// process), the candidates run again one per sandbox, where a crash can only be theirs. Every later sandbox
    /// runs its tests as <paramref name="plan"/> says (by sources with a selection, or as test cases); which tests are
    /// left is counted in discovered tests, whichever test cases the framework reported for them.
    /// </summary>
    private void Run(string source, AgentMessage request, Dictionary<Guid, TestCase>? known, GroupPlan? plan, SandboxSettings settings, IRunContext? runContext, IFrameworkHandle handle)
    {
        var proxies = known is null ? new Dictionary<Guid, TestCase>() : new Dictionary<Guid, TestCase>(known);
        var requested = GroupPlan.Members(request)?.ToHashSet();
        var finished = new HashSet<Guid>();
        var oneByOne = false;
        while (!_cancelled)
        {
            var outcome = RunOnce(source, request, proxies, finished, plan, settings, runContext, handle);
            if (outcome.Done)
            {
                return;
            }
            if (requested is null || plan is null)
            {
                // A run by sources: the cases left are found by discovering again with the same filter. Discovered
                // cases replace those the run reported, which lack what running them again needs (xunit attaches its
                // serialization only at discovery).
                try
                {
                    var discovered = NUnitDiscoveryFilter.Apply(Discover(source, settings, request.SettingsXml, request.Filter, handle), runContext);
                    plan = GroupPlan.ForSources(source, request.SettingsXml, request.Filter, discovered);
                    var runnable = plan.Runnable.ToList();
                    foreach (var d in runnable)
                    {
                        proxies[d.Id] = ToProxy(d, handle);
                    }
                    requested = [.. runnable.Select(d => d.Id)];
                    // What this first sandbox reported, counted in the tests just discovered.
                    finished.UnionWith(outcome.Reported.SelectMany(plan.StandsFor));
                }
                catch (Exception e) when (e is AdapterException or TestPlatformFormatException)
                {
                    handle.SendMessage(TestMessageLevel.Error, e.Message);
                    return;
                }
            }
            // Suspects first, each alone: the crash is attributed to whichever crashes again.
            foreach (var id in outcome.Suspects.SelectMany(plan.StandsFor).Distinct().Where(id => requested.Contains(id) && !finished.Contains(id)).ToList())
            {
                RunOnce(source, plan.Request([proxies[id]]), proxies, finished, plan, settings, runContext, handle);
            }
            if (outcome.Suspects.Count == 0 && !outcome.Progressed)
            {
                oneByOne = true;
            }
            List<TestCase> rest = [.. requested.Where(id => !finished.Contains(id)).Select(id => proxies[id])];
            if (rest.Count == 0)
            {
                return;
            }
            handle.SendMessage(TestMessageLevel.Informational, $"Sandbox: {rest.Count} test(s) of {Path.GetFileName(source)} continue in {(oneByOne ? "a new sandbox each" : "a new sandbox")}");
            if (oneByOne)
            {
                foreach (var t in rest)
                {
                    if (_cancelled)
                    {
                        return;
                    }
                    // A test case of an earlier sandbox in this loop may have stood for it too (a theory the framework
                    // does not enumerate runs as one test case).
                    if (!finished.Contains(t.Id))
                    {
                        RunOnce(source, plan.Request([t]), proxies, finished, plan, settings, runContext, handle);
                    }
                }
                return;
            }
            request = plan.Request(rest);
        }
    }

    /// <summary>How one sandbox ended: whether the agent was done, whether any test finished, the test cases that
    /// were running when it died (as the framework reported them), and every test case it reported.</summary>
    private sealed record RunOutcome(bool Done, bool Progressed, IReadOnlyList<TestCaseDto> Suspects, IReadOnlyList<TestCaseDto> Reported);

    private RunOutcome RunOnce(string source, AgentMessage request, Dictionary<Guid, TestCase> proxies, HashSet<Guid> finished, GroupPlan? plan, SandboxSettings settings, IRunContext? runContext, IFrameworkHandle handle)
    {
        // A reported test case finishes the discovered tests it stands for too (their ids may differ: xunit v3's do).
        void Finish(TestCaseDto reported)
        {
            finished.Add(reported.Id);
            finished.UnionWith(plan?.StandsFor(reported) ?? []);
        }

        AgentProcess agent;
        try
        {
            agent = StartAgent(source, settings);
        }
        catch (AdapterException e)
        {
            handle.SendMessage(TestMessageLevel.Error, e.Message);
            return new(true, false, [], []);
        }
        using (agent)
        {
            var started = new List<Guid>();
            var cases = new Dictionary<Guid, TestCaseDto>();
            // Built as they arrive (the stream's pace leaves time for it); recorded when the sandbox's figures are known.
            var results = new List<(TestCase Proxy, TestResult Result, TestCaseDto Case)>();
            var attachments = new AttachmentReceiver(Path.Combine(ResultsDirectory(runContext), agent.SandboxId ?? $"unsandboxed-{Guid.NewGuid():N}"));
            using var watchdog = new TestWatchdog(settings.TestTimeout, agent);
            var done = Converse(agent, request, handle, $"running {source}", m =>
            {
                switch (m)
                {
                    case { Type: MessageTypes.Start, Case: { } c }:
                        var proxy = Proxy(c, proxies, handle);
                        if (!started.Contains(proxy.Id))
                        {
                            started.Add(proxy.Id);
                            cases[proxy.Id] = c;
                            handle.RecordStart(proxy);
                        }
                        watchdog.Started(proxy.Id);
                        break;
                    case { Type: MessageTypes.End, Id: { } id }:
                        watchdog.Ended(id);
                        break;
                    case { Type: MessageTypes.Result, Result: { } r }:
                        var resultProxy = Proxy(r.TestCase, proxies, handle);
                        var built = TestObjectMapper.FromDto(r, resultProxy, Warner(handle));
                        attachments.AttachTo(built, r.Attachments);
                        results.Add((resultProxy, built, r.TestCase));
                        break;
                    case { Type: MessageTypes.Attachment, Attachment: { } a }:
                        attachments.Receive(a);
                        break;
                    case { Type: MessageTypes.RunAttachments, AttachmentSets: { } sets }:
                        attachments.RecordRun(sets, handle);
                        break;
                }
            });
            watchdog.Dispose();

            // Results wait for the sandbox's end: only then are its figures known.
            var usage = agent.ReportPath is null ? null : UsageSummary.TryRead(agent.ReportPath);
            var attachment = usage is null ? null : KeepReport(agent, runContext);
            var progressed = false;
            foreach (var (proxy, result, reported) in results)
            {
                Decorate(result, usage, attachment, settings);
                Finish(reported);
                progressed = true;
                handle.RecordResult(result);
                handle.RecordEnd(proxy, result.Outcome);
            }
            // A test over its timeout: its sandbox was stopped for it, so it is certainly the one.
            foreach (var id in watchdog.TimedOut.Where(id => !finished.Contains(id)))
            {
                var message = $"{AdapterErrors.TestTimedOut}: timed out after {Durations.Describe(settings.TestTimeout!.Value)} (the per-test timeout, Sandbox.TestTimeout or testTimeout in sandbox.yaml); its {(settings.Enabled ? "sandbox" : "agent")} was stopped";
                Fail(proxies[id], message, started, agent, usage, attachment, settings, handle);
                Finish(cases[id]);
                progressed = true;
            }
            List<TestCaseDto> reportedCases = [.. results.Select(r => r.Case), .. watchdog.TimedOut.Select(id => cases[id])];
            if (done || _cancelled)
            {
                return new(true, progressed, [], reportedCases);
            }
            // The sandbox ended before the agent said it was done. Name the cause rather than leave vstest to say
            // "test host process crashed": certain when one test was running, or when the sandbox had one test to run.
            var cause = CrashCause(agent, usage);
            var members = GroupPlan.Members(request);
            var suspects = started.Where(id => !finished.Contains(id)).Select(id => cases[id]).ToList();
            if (suspects.Count == 0 && members is [var only] && !finished.Contains(only))
            {
                suspects.Add(FromProxy(proxies[only]));
            }
            // Certain only when the sandbox had one test: frameworks run tests in parallel, and their start messages
            // may die with the process, so one test reported running is not proof. A sandbox's own timeout is the
            // exception: it was killed from outside, so every start message sent had arrived, and a single test
            // still running is the one that held it up.
            if (suspects.Count == 1 && (members is { Count: 1 } || usage?.TimedOut == true))
            {
                Fail(proxies[suspects[0].Id], $"{AdapterErrors.SandboxCrashed}: the test's process ended while it ran: {cause}", started, agent, usage, attachment, settings, handle);
                Finish(suspects[0]);
                return new(false, true, [], [.. reportedCases, suspects[0]]);
            }
            if (watchdog.TimedOut.Count > 0 && suspects.Count == 0)
            {
                return new(false, true, [], reportedCases);
            }
            handle.SendMessage(TestMessageLevel.Informational, $"Sandbox: the sandbox running {Path.GetFileName(source)} ended before its agent finished ({cause.Split('\n')[0]}); {(suspects.Count == 0 ? "no test was reported running" : suspects.Count + " tests were running")}, so the rest runs again to find which test it was");
            return new(false, progressed, suspects, reportedCases);
        }
    }

    /// <summary>Fails a test the framework could not report on: its process ended, or it ran over its timeout.</summary>
    private static void Fail(TestCase proxy, string message, List<Guid> started, AgentProcess agent, UsageSummary? usage, string? attachment, SandboxSettings settings, IFrameworkHandle handle)
    {
        if (!started.Contains(proxy.Id))
        {
            handle.RecordStart(proxy);
        }
        var result = new TestResult(proxy)
        {
            Outcome = TestOutcome.Failed,
            ErrorMessage = message,
            ComputerName = Environment.MachineName,
        };
        if (agent.StderrTail is { Length: > 0 } tail)
        {
            result.Messages.Add(new TestResultMessage(TestResultMessage.StandardErrorCategory, tail));
        }
        Decorate(result, usage, attachment, settings);
        handle.RecordResult(result);
        handle.RecordEnd(proxy, TestOutcome.Failed);
    }

    /// <summary>The RunReport's account of how the sandbox ended, its figures, and what the runtime said on the way
    /// out: .NET writes "Process terminated. …" (Environment.FailFast), "Stack overflow." or "Unhandled exception." to
    /// stderr before the stack, which alone would bury it.</summary>
    private static string CrashCause(AgentProcess agent, UsageSummary? usage)
    {
        var cause = usage?.Cause ?? (agent.ExitCode is { } code ? $"exited with code {code}" : "ended");
        var lines = agent.StderrTail.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var first = Array.FindIndex(lines, l => l.StartsWith("Process terminated.", StringComparison.Ordinal)
            || l.StartsWith("Stack overflow.", StringComparison.Ordinal)
            || l.StartsWith("Unhandled exception.", StringComparison.Ordinal)
            || l.StartsWith("Out of memory.", StringComparison.Ordinal));
        // The line after "Process terminated." is FailFast's message.
        var said = first < 0 ? []
            : lines.Skip(first).Take(lines[first].StartsWith("Process terminated.", StringComparison.Ordinal) ? 2 : 1)
                .Where(l => !l.StartsWith("at ", StringComparison.Ordinal)).ToList();
        var text = cause;
        if (said.Count > 0)
        {
            text += ": " + string.Join(" ", said);
        }
        text += usage is null ? " (no RunReport)" : "\n" + usage.Describe();
        if (said.Count == 0 && lines.Length > 0)
        {
            text += "\nlast stderr lines:\n" + string.Join('\n', lines.TakeLast(12));
        }
        return text;
    }

    private static void Decorate(TestResult result, UsageSummary? usage, string? reportFile, SandboxSettings settings)
    {
        if (settings.Fallback is { } why)
        {
            result.Messages.Add(new TestResultMessage(TestResultMessage.AdditionalInfoCategory, $"{AdapterErrors.RanUnsandboxed} warning: this test ran UNSANDBOXED (AllowUnsandboxed): {why}\n"));
        }
        if (usage is not null)
        {
            result.Messages.Add(new TestResultMessage(TestResultMessage.AdditionalInfoCategory, usage.Describe() + "\n"));
        }
        if (reportFile is not null)
        {
            var set = new AttachmentSet(new Uri("attachment://sandbox/runreport"), "Sandbox RunReport");
            set.Attachments.Add(UriDataAttachment.CreateFrom(reportFile, "Sandbox RunReport (docs/run-report.md)"));
            result.Attachments.Add(set);
        }
    }

    /// <summary>Copies the RunReport to the run's results directory, where TRX's writer can copy it later (the
    /// sandbox's own directory is gone by then).</summary>
    private static string? KeepReport(AgentProcess agent, IRunContext? runContext)
    {
        var dir = ResultsDirectory(runContext);
        try
        {
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, agent.SandboxId + ".runreport.json");
            File.Copy(agent.ReportPath!, path, overwrite: true);
            return path;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Where what outlives a sandbox (its RunReport, the files its tests attached) is kept: TRX's writer copies it from here.</summary>
    private static string ResultsDirectory(IRunContext? runContext) =>
        runContext?.TestRunDirectory is { Length: > 0 } d ? Path.Combine(d, "Sandbox") : Path.Combine(Path.GetTempPath(), "sandbox-reports");

    private static TestCase Proxy(TestCaseDto dto, Dictionary<Guid, TestCase> proxies, IMessageLogger logger)
    {
        if (!proxies.TryGetValue(dto.Id, out var proxy))
        {
            proxy = ToProxy(dto, logger);
            proxies[dto.Id] = proxy;
        }
        return proxy;
    }

    /// <summary>The next message, or null at the end; a malformed line (test code can write to the agent's
    /// descriptors) ends the conversation as a crash would, with the reason logged.</summary>
    private static AgentMessage? ReadSafely(AgentProcess agent, IMessageLogger logger)
    {
        try
        {
            return agent.Channel.Read();
        }
        catch (FormatException e)
        {
            logger.SendMessage(TestMessageLevel.Error, $"{AdapterErrors.AgentFailed}: the agent sent something that is not the protocol ({e.Message}); its sandbox is stopped");
            agent.Kill();
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void Log(IMessageLogger logger, AgentMessage m)
    {
        var level = Enum.TryParse<TestMessageLevel>(m.Level, out var l) ? l : TestMessageLevel.Informational;
        logger.SendMessage(level, m.Text ?? "");
    }

    private static Action<string> Warner(IMessageLogger? logger) =>
        text => logger?.SendMessage(TestMessageLevel.Warning, text);
}
