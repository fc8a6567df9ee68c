// Runs a parser over mutated inputs and collects every exception that is not the parser's own error type: each is
// a crash of `sandbox` (an unhandled exception aborts a NativeAOT process). Counts come from SANDBOX_FUZZ_COUNT when
// eng/fuzz.sh runs the long version; CI runs the defaults.
using System.Text;

namespace Sandbox.Fuzzing;

internal sealed record FuzzFailure(int Index, string Seed, string Kind, string Detail, byte[] Input);

/// <param name="Accepted">How many inputs the parser took without an error: mutations that went all the way through.</param>
internal sealed record FuzzResult(string Target, int Inputs, int Accepted, IReadOnlyList<FuzzFailure> Failures)
{
    /// <summary>The failures grouped by kind, at most one example each, as a test failure message.</summary>
    public string Describe()
    {
        var sb = new StringBuilder($"{Target}: {Failures.Count} of {Inputs} mutated inputs crashed or hung");
        foreach (var group in Failures.GroupBy(f => f.Kind).Take(20))
        {
            var f = group.First();
            sb.Append($"\n- {group.Count()}× {f.Kind} (e.g. mutation #{f.Index} of {f.Seed}, saved as {Fuzz.Save(Target, f)})\n    {f.Detail}");
        }
        return sb.ToString();
    }
}

internal static class Fuzz
{
    /// <summary>Each call's hang guard: far above anything a parser needs, so only a real hang trips it.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    /// <summary>The number of inputs: <paramref name="ciDefault"/>, or SANDBOX_FUZZ_COUNT × <paramref name="share"/>.</summary>
    public static int Count(int ciDefault, double share) =>
        int.TryParse(Environment.GetEnvironmentVariable("SANDBOX_FUZZ_COUNT"), out var n) && n > 0 ? Math.Max(1, (int)(n * share)) : ciDefault;

    /// <summary>
    /// Mutation i of seed i mod seeds.Count, made with random seed <paramref name="baseSeed"/> + i, goes through
    /// <paramref name="parse"/>; an exception <paramref name="expected"/> does not accept is a failure.
    /// </summary>
    public static FuzzResult Run(string target, int count, int baseSeed, IReadOnlyList<(string Name, string Text)> seeds,
        Func<int, string, byte[]> mutate, Action<byte[]> parse, Func<Exception, bool> expected)
    {
        var failures = new List<FuzzFailure>();
        var accepted = 0;
        var sampleCount = SampleCount();
        var sampleEvery = sampleCount > 0 ? Math.Max(1, count / (sampleCount - (sampleCount / 2))) : 0;
        for (var i = 0; i < count; i++)
        {
            var (name, text) = seeds[i % seeds.Count];
            var input = mutate(baseSeed + i, text);
            if (sampleEvery > 0 && i % sampleEvery == 0)
            {
                SaveSample(target, i, input);
            }
            var call = Task.Run(() => parse(input));
            try
            {
                if (!call.Wait(HangGuard))
                {
                    failures.Add(new(i, name, "hang", $"no answer within {HangGuard.TotalSeconds} s", input));
                }
                else if (++accepted <= sampleCount / 2)
                {
                    // Half the sample is inputs the parser accepted: in the executable they go furthest.
                    SaveSample(target, i, input);
                }
            }
            catch (AggregateException a) when (a.InnerException is { } e && !expected(e))
            {
                var frame = e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains("Sandbox.", StringComparison.Ordinal)) ?? "";
                failures.Add(new(i, name, $"{e.GetType().Name} {frame}", $"{e.GetType().Name}: {e.Message}", input));
            }
            catch (AggregateException)
            {
                // The parser's own error: what bad input should give.
            }
        }
        var result = new FuzzResult(target, count, accepted, failures);
        WriteSummary(result);
        return result;
    }

    /// <summary>Keeps a failing input where the report says, to reproduce it.</summary>
    public static string Save(string target, FuzzFailure f)
    {
        var dir = Path.Combine(Path.GetTempPath(), "sandbox-fuzz-failures", target);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{f.Index}");
        File.WriteAllBytes(path, f.Input);
        return path;
    }

    // eng/fuzz.sh asks for a sample of the inputs (SANDBOX_FUZZ_SAMPLE_DIR, SANDBOX_FUZZ_SAMPLE_COUNT) to feed to
    // the published executables, and for one summary line per target (SANDBOX_FUZZ_SUMMARY).
    private static int SampleCount() =>
        Environment.GetEnvironmentVariable("SANDBOX_FUZZ_SAMPLE_DIR") is { Length: > 0 }
        && int.TryParse(Environment.GetEnvironmentVariable("SANDBOX_FUZZ_SAMPLE_COUNT"), out var n) && n > 0 ? n : 0;

    private static void SaveSample(string target, int index, byte[] input)
    {
        var dir = Path.Combine(Environment.GetEnvironmentVariable("SANDBOX_FUZZ_SAMPLE_DIR")!, target);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, $"{index:D6}"), input);
    }

    private static void WriteSummary(FuzzResult r)
    {
        if (Environment.GetEnvironmentVariable("SANDBOX_FUZZ_SUMMARY") is { Length: > 0 } path)
        {
            var hangs = r.Failures.Count(f => f.Kind == "hang");
            File.AppendAllText(path, $"{r.Target} {r.Inputs} {r.Failures.Count - hangs} {hangs} {r.Accepted}\n");
        }
    }
}

/// <summary>Fuzz tests run alone, after the others: they keep both cores busy for seconds.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    public const string Name = "fuzz";
}
