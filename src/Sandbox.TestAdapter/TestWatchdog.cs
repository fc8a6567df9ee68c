namespace Sandbox.TestAdapter;

/// <summary>
/// The per-test timeout: the time from a test's start message to its end, per test, however many run at once in
/// the sandbox. A test over it stops the whole sandbox (nothing else can stop one test's thread); the test is then
/// known for certain, and the others that were running run again.
/// </summary>
internal sealed class TestWatchdog : IDisposable
{
    private readonly TimeSpan? _limit;
    private readonly AgentProcess _agent;
    private readonly Dictionary<Guid, long> _running = [];
    private readonly List<Guid> _timedOut = [];
    private readonly Timer? _timer;

    public TestWatchdog(TimeSpan? limit, AgentProcess agent)
    {
        _limit = limit;
        _agent = agent;
        if (limit is { } l)
        {
            var period = TimeSpan.FromMilliseconds(Math.Clamp(l.TotalMilliseconds / 10, 20, 500));
            _timer = new Timer(_ => Check(), null, period, period);
        }
    }

    /// <summary>The tests that ran over the limit (once the sandbox has ended, complete).</summary>
    public IReadOnlyList<Guid> TimedOut
    {
        get
        {
            lock (_running)
            {
                return [.. _timedOut];
            }
        }
    }

    public void Started(Guid id)
    {
        lock (_running)
        {
            _running.TryAdd(id, Environment.TickCount64);
        }
    }

    public void Ended(Guid id)
    {
        lock (_running)
        {
            _running.Remove(id);
        }
    }

    private void Check()
    {
        lock (_running)
        {
            if (_timedOut.Count > 0)
            {
                return;
            }
            var now = Environment.TickCount64;
            _timedOut.AddRange(_running.Where(r => now - r.Value > _limit!.Value.TotalMilliseconds).Select(r => r.Key));
            if (_timedOut.Count == 0)
            {
                return;
            }
        }
        _agent.Kill();
    }

    public void Dispose() => _timer?.Dispose();
}
