using System.Runtime.ExceptionServices;
using Sandbox.TestAdapter.Protocol;
using Sandbox.TestAgent;

// One request per agent process: the host starts a fresh agent (a fresh sandbox) for each, so a crash ends one
// request and nothing else.
var channel = AgentChannel.TakeStdio();
string? error = null;
try
{
    // The framework's adapters load, and the protocol warms up beside them, while the request is on its way: the
    // host may start an agent before it knows what to ask (docs/testing.md, "a warm start"). What loading the
    // adapters threw is reported once the request is read; the warm-up only fills caches, and the run does not wait
    // for it.
    _ = Task.Run(ProtocolWarmUp.Run);
    ExceptionDispatchInfo? loadFailure = null;
    FrameworkAdapters? adapters = null;
    try
    {
        adapters = FrameworkAdapters.Load(Path.Combine(AppContext.BaseDirectory, ".sandbox", "adapters"));
    }
#pragma warning disable CA1031 // rethrown below, after the request
    catch (Exception e)
#pragma warning restore CA1031
    {
        loadFailure = ExceptionDispatchInfo.Capture(e);
    }
    var request = channel.Read() ?? throw new InvalidDataException("the host closed the channel before sending a request");
    loadFailure?.Throw();
    var runner = new AgentRunner(channel, adapters!);
    if (runner.Handle(request) is { } crash)
    {
        // Ended like the test process did, without `done`: the host treats it as this sandbox's crash (FrameworkProcessCrash).
        Console.Error.WriteLine($"Sandbox.TestAgent: the framework's test process ended without finishing ({crash.Message}); the agent ends with its exit code {crash.ExitCode}");
        return crash.ExitCode;
    }
}
#pragma warning disable CA1031 // whatever the framework throws is reported to the host, which decides
catch (Exception e)
#pragma warning restore CA1031
{
    error = e.ToString();
}
channel.Write(new AgentMessage { Type = MessageTypes.Done, Error = error });
return error is null ? 0 : 1;
