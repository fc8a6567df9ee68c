using System.Text.RegularExpressions;

namespace Sandbox.Runtime.Tests;

/// <summary>
/// The post-clone path must not allocate, throw or bind lazily (docs/design.md). This reads PostClone.cs and
/// refuses the constructs that would: a reviewer's checklist, made executable.
/// </summary>
public partial class PostCloneRulesTests
{
    private static readonly string[] Forbidden =
    [
        @"\bnew\s+[A-Za-z_\[]", @"\$""", @"\bthrow\b", @"\bstring\b", @"\.ToString\(", @"\bstring\.", @"=>\s*\{",
        @"\bList<", @"\bDictionary<", @"\.Select\(", @"\.Where\(", @"\bawait\b", @"\block\s*\(", @"\bchecked\b",
        @"\bLibraryImport\b", @"\bMarshal\.", @"\bConsole\.", @"\bFile\.", @"\bGC\.", @"\[\]\s*\w+\s*=",
        // glibc's set*id wrappers wait for every thread glibc knows of, and the child has only one: raw syscalls.
        @"\bSetres[ug]id\(", @"\bSetgroups\(", @"\bSetuid\(", @"\bSetgid\(",
        // Tmds.LibC's constants are properties and its imports are bound lazily to "libc.so.6" with a GC transition:
        // the parent's, never the child's (its own declarations are in Interop/).
        @"\bTmds\b", @"\bLibC\b",
    ];

    [Fact]
    public void The_post_clone_path_uses_no_allocating_or_throwing_construct()
    {
        var path = Path.Combine(Fixtures.RepoRoot(), "src/Sandbox.Runtime/PostClone.cs");
        var code = CommentRegex().Replace(File.ReadAllText(path), "");
        var hits = Forbidden.SelectMany(f => Regex.Matches(code, f).Select(m => $"{f}: …{Around(code, m.Index)}…")).ToList();
        Assert.True(hits.Count == 0, string.Join("\n", hits));
    }

    [Fact]
    public void Every_libc_call_the_child_makes_skips_the_gc_transition()
    {
        var dir = Path.Combine(Fixtures.RepoRoot(), "src/Sandbox.Runtime/Interop");
        foreach (var file in Directory.GetFiles(dir, "*.cs"))
        {
            var text = File.ReadAllText(file);
            foreach (Match m in DllImportRegex().Matches(text))
            {
                var block = m.Value;
                var name = NameRegex().Match(block).Groups[1].Value;
                // Only the parent's blocking calls may transition; they say so in their names.
                if (!name.EndsWith("Blocking", StringComparison.Ordinal))
                {
                    Assert.True(block.Contains("[SuppressGCTransition]", StringComparison.Ordinal), $"{Path.GetFileName(file)}: {name} lacks [SuppressGCTransition]");
                }
            }
        }
    }

    private static string Around(string s, int i) => s.Substring(Math.Max(0, i - 30), Math.Min(60, s.Length - Math.Max(0, i - 30))).ReplaceLineEndings(" ");

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex CommentRegex();

    [GeneratedRegex(@"\[DllImport[^\]]*\](\s*\[[^\]]*\])*\s*public static extern [^;]+;")]
    private static partial Regex DllImportRegex();

    [GeneratedRegex(@"extern\s+\S+\s+(\w+)\(")]
    private static partial Regex NameRegex();
}
