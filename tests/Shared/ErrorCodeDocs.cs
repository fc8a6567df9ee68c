using System.Reflection;

namespace Sandbox.Tests.Shared;

/// <summary>The checks every group of SBX codes gets: distinct, in its range, and listed in the docs that explain them.</summary>
internal static class ErrorCodeDocs
{
    /// <summary>The values of a class's public string constants.</summary>
    public static List<string> Codes(Type holder) =>
        [.. holder.GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetRawConstantValue()!)];

    public static void AssertDistinctAndInRange(Type holder, string pattern)
    {
        var codes = Codes(holder);
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(codes, code => Assert.Matches(pattern, code));
    }

    /// <summary>Each code is a table row (<c>| SBXnnnn |</c>) in errors.md after <paramref name="errorsHeading"/> and in <paramref name="guide"/>.</summary>
    public static void AssertDocumented(Type holder, string repoRoot, string errorsHeading, string guide)
    {
        var errors = File.ReadAllText(Path.Combine(repoRoot, "docs/errors.md"));
        var section = errors[errors.IndexOf(errorsHeading, StringComparison.Ordinal)..];
        var guideText = File.ReadAllText(Path.Combine(repoRoot, guide));
        Assert.All(Codes(holder), code =>
        {
            Assert.Contains($"| {code} |", section, StringComparison.Ordinal);
            Assert.Contains($"| {code} |", guideText, StringComparison.Ordinal);
        });
    }
}
