using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Adapter;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;

namespace Sandbox.TestAdapter;

/// <summary>
/// Runs work items on at most <c>parallel</c> dedicated threads (each item mostly waits for a sandbox, so thread-pool
/// threads would only starve the pool); an item may add more. <see cref="Run"/> returns when every item has ended,
/// or, once <c>cancelled</c> says so, when the running ones have: items not yet started are dropped.
/// </summary>
internal sealed class WorkPool(int parallel, Func<bool> cancelled)
{
    private readonly Queue<Action> _queue = new();
    private readonly object _lock = new(); // Monitor.Wait/Pulse need an object, not a System.Threading.Lock
    private int _busy;
    private Exception? _failure;

    public void Add(Action item)
    {
        lock (_lock)
        {
            _queue.Enqueue(item);
            Monitor.PulseAll(_lock);
        }
    }

    public void Run()
    {
        // As many threads as may run at once: items added later (a class's tests, once discovery found them) need
        // them, and an idle thread ends as soon as nothing is queued or running.
        var threads = Enumerable.Range(0, Math.Max(1, parallel)).Select(i => new Thread(Work) { IsBackground = true, Name = $"sandbox worker {i}" }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (_failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_failure);
        }
    }

    private void Work()
    {
        while (true)
        {
            Action item;
            lock (_lock)
            {
                while (_queue.Count == 0 && _busy > 0 && !cancelled())
                {
                    Monitor.Wait(_lock, TimeSpan.FromMilliseconds(200));
                }
                if (_queue.Count == 0 || cancelled() || _failure is not null)
                {
                    Monitor.PulseAll(_lock);
                    return;
                }
                item = _queue.Dequeue();
                _busy++;
            }
            try
            {
                item();
            }
#pragma warning disable CA1031 // kept and rethrown on the calling thread, as a single-threaded run would throw it
            catch (Exception e)
#pragma warning restore CA1031
            {
                lock (_lock)
                {
                    _failure ??= e;
                }
            }
            finally
            {
                lock (_lock)
                {
                    _busy--;
                    Monitor.PulseAll(_lock);
                }
            }
        }
    }
}

/// <summary>
/// testhost's framework handle, called from several sandbox threads at once: one call at a time, as a
/// single-threaded adapter would make them.
/// </summary>
internal sealed class SynchronizedHandle(IFrameworkHandle inner) : IFrameworkHandle
{
    private readonly Lock _lock = new();

    public bool EnableShutdownAfterTestRun
    {
        get => inner.EnableShutdownAfterTestRun;
        set => inner.EnableShutdownAfterTestRun = value;
    }

    public void RecordResult(TestResult testResult)
    {
        lock (_lock)
        {
            inner.RecordResult(testResult);
        }
    }

    public void RecordStart(TestCase testCase)
    {
        lock (_lock)
        {
            inner.RecordStart(testCase);
        }
    }

    public void RecordEnd(TestCase testCase, TestOutcome outcome)
    {
        lock (_lock)
        {
            inner.RecordEnd(testCase, outcome);
        }
    }

    public void RecordAttachments(IList<AttachmentSet> attachmentSets)
    {
        lock (_lock)
        {
            inner.RecordAttachments(attachmentSets);
        }
    }

    public void SendMessage(TestMessageLevel testMessageLevel, string message)
    {
        lock (_lock)
        {
            inner.SendMessage(testMessageLevel, message);
        }
    }

    public int LaunchProcessWithDebuggerAttached(string filePath, string? workingDirectory, string? arguments, IDictionary<string, string?>? environmentVariables) =>
        inner.LaunchProcessWithDebuggerAttached(filePath, workingDirectory, arguments, environmentVariables);
}
