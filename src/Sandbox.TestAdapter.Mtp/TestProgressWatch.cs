using System.Diagnostics;
using System.Globalization;
using Microsoft.Testing.Platform.Extensions;
using Microsoft.Testing.Platform.Extensions.Messages;

namespace Sandbox.TestAdapter.Mtp;

/// <summary>
/// The test host's side of the sandbox, in the sandbox: it follows the platform's test node updates, keeps the tests
/// that are running in a file the controller reads once the host has ended (the results directory, bind-mounted, is
/// the one place both see: <see cref="FileVariable"/> names the file), and, with a per-test timeout, ends the test host
/// when one test has run longer, writing that test's name first. So the controller can say which test was running
/// when the sandbox ended the host, and which test ran over its timeout (SBX5029). Only in a sandboxed test host: the
/// launcher sets the variables.
/// </summary>
internal sealed class TestProgressWatch : IDataConsumer, IDisposable
{
    /// <summary>The file (in the results directory) the running tests are written to.</summary>
    public const string FileVariable = "SANDBOX_MTP_PROGRESS_FILE";

    /// <summary>The per-test timeout in milliseconds, when there is one.</summary>
    public const string TestTimeoutVariable = "SANDBOX_MTP_TEST_TIMEOUT_MS";

    /// <summary>The first line of the file when a test ran over its timeout; its name and the timeout follow.</summary>
    public const string TimedOutMarker = "timed out";

    /// <summary>The test host's exit code after a per-test timeout.</summary>
    private const int TimedOutExitCode = 1;

    private readonly string? _file = Environment.GetEnvironmentVariable(FileVariable);
    private readonly TimeSpan? _timeout = double.TryParse(Environment.GetEnvironmentVariable(TestTimeoutVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms > 0
        ? TimeSpan.FromMilliseconds(ms) : null;
    private readonly Dictionary<string, (string Name, long Started)> _running = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private Timer? _timer;

    public string Uid => nameof(TestProgressWatch);
    public string Version => typeof(TestProgressWatch).Assembly.GetName().Version?.ToString() ?? "0.0.0";
    public string DisplayName => "Sandbox";
    public string Description => "Tells the Sandbox controller which tests are running, and stops a test over its timeout";
    public Type[] DataTypesConsumed => [typeof(TestNodeUpdateMessage)];

    public Task<bool> IsEnabledAsync() => Task.FromResult(_file is not null);

    public Task ConsumeAsync(IDataProducer dataProducer, IData value, CancellationToken cancellationToken)
    {
        if (value is not TestNodeUpdateMessage { TestNode: var node })
        {
            return Task.CompletedTask;
        }
        var state = node.Properties.OfType<TestNodeStateProperty>().FirstOrDefault();
        lock (_lock)
        {
            if (state is InProgressTestNodeStateProperty)
            {
                _running[node.Uid.Value] = (node.DisplayName, Stopwatch.GetTimestamp());
                if (_timeout is not null)
                {
                    _timer ??= new Timer(_ => Check(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
                }
            }
            else if (state is null || !_running.Remove(node.Uid.Value))
            {
                return Task.CompletedTask;
            }
            Write([.. _running.Values.Select(r => r.Name)]);
        }
        return Task.CompletedTask;
    }

    private void Check()
    {
        lock (_lock)
        {
            var over = _running.Values.Where(r => Stopwatch.GetElapsedTime(r.Started) > _timeout!.Value).Select(r => r.Name).FirstOrDefault();
            if (over is null)
            {
                return;
            }
            Write([TimedOutMarker, over, ((long)_timeout!.Value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)]);
            // The test's thread will not end by itself; the sandbox (this process is its first) goes with the host.
            Environment.Exit(TimedOutExitCode);
        }
    }

    private void Write(string[] lines)
    {
        var temporary = _file + ".tmp";
        File.WriteAllLines(temporary, lines);
        File.Move(temporary, _file!, overwrite: true);
    }

    public void Dispose() => _timer?.Dispose();
}
