namespace Sandbox.Spec;

/// <summary>
/// Checks that span several entries or sections: things that are each valid alone but contradict each other, so that
/// no one can tell which of the two the author meant.
/// </summary>
internal static class SpecValidation
{
    /// <summary>One container path can hold one mount, tmpfs or copied file; a second claim would hide the first.</summary>
    public static void CheckTargetsUnique(NodeReader reader, IReadOnlyList<Located> targets)
    {
        var first = new Dictionary<string, Located>(StringComparer.Ordinal);
        foreach (var target in targets)
        {
            if (first.TryGetValue(target.Value, out var earlier))
            {
                reader.Report(SpecErrorCodes.DuplicateTarget, target.Node,
                    $"`{target.Path}` {target.Value} is also the target of `{earlier.Path}` (line {reader.Locate(earlier.Node).Line})",
                    "give each mount, tmpfs and copied file its own container path");
            }
            else
            {
                first.Add(target.Value, target);
            }
        }
    }

    /// <summary>A variable the spec sets cannot also come from the host: one of the two would silently lose.</summary>
    public static void CheckEnvDisjoint(NodeReader reader, IReadOnlyList<Located> set, IReadOnlyList<Located> pass)
    {
        var setNames = set.ToDictionary(s => s.Value, StringComparer.Ordinal);
        foreach (var passed in pass)
        {
            if (setNames.TryGetValue(passed.Value, out var fixedValue))
            {
                reader.Report(SpecErrorCodes.EnvConflict, passed.Node,
                    $"`{passed.Value}` is both set in env.set (line {reader.Locate(fixedValue.Node).Line}) and passed from the host in env.pass",
                    $"remove {passed.Value} from env.pass to use the fixed value, or from env.set to take the host's");
            }
        }
    }

    /// <summary>A list that names the same entry twice says the same thing twice, or was meant to say something else.</summary>
    public static void CheckNoRepeats(NodeReader reader, IReadOnlyList<Located> items, string listPath)
    {
        var seen = new Dictionary<string, Located>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (!seen.TryAdd(item.Value, item))
            {
                reader.Report(SpecErrorCodes.DuplicateEntry, item.Node,
                    $"`{listPath}` names '{YamlNodes.Shorten(item.Value)}' twice (first at `{seen[item.Value].Path}`)",
                    "remove the repeated entry");
            }
        }
    }
}
