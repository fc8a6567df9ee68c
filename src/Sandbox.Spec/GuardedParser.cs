using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Sandbox.Spec;

// Sits between YamlDotNet's parser and its representation model and turns into syntax errors the two inputs that
// would otherwise kill the process rather than throw: nesting deep enough to overflow the stack (the model is built
// recursively), and collections or aliases used as mapping keys (a key that contains itself through an alias
// recurses forever when the mapping hashes it). sandbox.yaml needs neither.
internal sealed class GuardedParser(IParser inner) : IParser
{
    // The deepest valid sandbox.yaml nests three levels (mounts → entry → value); this leaves room for mistakes
    // to be reported as wrong types rather than as syntax errors.
    internal const int MaxDepth = 32;

    private readonly Stack<Frame> _open = new();

    public ParsingEvent? Current => inner.Current;

    /// <summary>Where the last event read ended: the best position to give when YamlDotNet fails without one.</summary>
    public Mark LastEnd { get; private set; } = Mark.Empty;

    public bool MoveNext()
    {
        if (!inner.MoveNext())
        {
            return false;
        }

        var current = inner.Current!;
        LastEnd = current.End;
        switch (current)
        {
            case MappingStart or SequenceStart:
                RefuseAsKey(current);
                if (_open.Count == MaxDepth)
                {
                    throw new YamlException(current.Start, current.End, $"the document nests deeper than {MaxDepth} levels");
                }

                _open.Push(new Frame(current is MappingStart));
                break;
            case MappingEnd or SequenceEnd:
                _open.TryPop(out _);
                NodeDone();
                break;
            case Scalar or AnchorAlias:
                RefuseAsKey(current);
                NodeDone();
                break;
        }

        return true;
    }

    private void RefuseAsKey(ParsingEvent node)
    {
        if (node is not Scalar && _open.TryPeek(out var top) && top.IsMapping && top.AtKey)
        {
            throw new YamlException(node.Start, node.End, "a mapping key must be a plain name, not a list, mapping or alias");
        }
    }

    // Keys and values alternate in a mapping; a node is done when its scalar is read or its collection closes.
    private void NodeDone()
    {
        if (_open.TryPeek(out var top) && top.IsMapping)
        {
            top.AtKey = !top.AtKey;
        }
    }

    private sealed class Frame(bool isMapping)
    {
        public bool IsMapping { get; } = isMapping;

        public bool AtKey { get; set; } = true;
    }
}
