namespace Sandbox.Spec;

/// <summary>"Did you mean X?" for misspelled keys and names, by edit distance among the names valid at that place.</summary>
internal static class Suggestions
{
    /// <summary>The candidate closest to <paramref name="given"/>, or null when none is close enough to be a likely typo.</summary>
    public static string? Closest(string given, IEnumerable<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(given);
        ArgumentNullException.ThrowIfNull(candidates);

        // Short names tolerate one slip, longer ones up to three; beyond that a suggestion is more noise than help.
        var allowed = Math.Clamp(given.Length / 3, 1, 3);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            // The length difference alone bounds the distance from below; checking it first keeps a pathological
            // multi-megabyte key from costing a matrix of that size.
            if (Math.Abs(given.Length - candidate.Length) > allowed)
            {
                continue;
            }

            var distance = Distance(given.ToUpperInvariant(), candidate.ToUpperInvariant());
            if (distance <= allowed && distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return best;
    }

    /// <summary>
    /// Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours each cost one,
    /// so the common typo of two swapped letters ("hostnmae") counts as one mistake, not two.
    /// </summary>
    internal static int Distance(string a, string b)
    {
        // Row-major (a.Length + 1) x (b.Length + 1) table of distances between prefixes.
        var width = b.Length + 1;
        var table = new int[(a.Length + 1) * width];
        for (var i = 0; i <= a.Length; i++)
        {
            table[i * width] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            table[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                var d = Math.Min(
                    Math.Min(table[((i - 1) * width) + j] + 1, table[(i * width) + j - 1] + 1),
                    table[((i - 1) * width) + j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d = Math.Min(d, table[((i - 2) * width) + j - 2] + 1);
                }

                table[(i * width) + j] = d;
            }
        }

        return table[^1];
    }
}
