// Deterministic mutations of a JSON document: the shapes of bad input fuzzing found to crash parsers (null where a
// value belongs, wrong types, NUL bytes, huge numbers, deep nesting, repeated or missing keys, cut-off and
// bit-flipped text). Linked into the test projects that fuzz config.json and seccomp profiles.
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sandbox.Fuzzing;

internal sealed class JsonMutator(int seed)
{
    private readonly Random _random = new(seed);

    /// <summary>A mutation of <paramref name="document"/>: one to three structural edits, sometimes followed by byte edits.</summary>
    public byte[] Mutate(string document)
    {
        var root = JsonNode.Parse(document)!;
        var duplicates = new List<(JsonObject Owner, string Key)>();
        for (var edits = _random.Next(1, 4); edits > 0; edits--)
        {
            root = Edit(root, duplicates);
        }
        var text = Write(root, duplicates);
        var bytes = Encoding.UTF8.GetBytes(text);
        return _random.Next(6) == 0 ? ByteEdit(bytes) : bytes;
    }

    private JsonNode Edit(JsonNode root, List<(JsonObject Owner, string Key)> duplicates)
    {
        var nodes = new List<JsonNode?>();
        Collect(root, nodes);
        var target = nodes[_random.Next(nodes.Count)];
        if (target is JsonObject obj && obj.Count > 0 && _random.Next(3) == 0)
        {
            var key = obj.ElementAt(_random.Next(obj.Count)).Key;
            switch (_random.Next(3))
            {
                case 0:
                    obj.Remove(key);
                    break;
                case 1:
                    duplicates.Add((obj, key));
                    break;
                default:
                    obj[key + (_random.Next(2) == 0 ? "\u0000" : "x")] = Replacement(null);
                    break;
            }
            return root;
        }
        if (target is JsonArray arr && _random.Next(2) == 0)
        {
            var at = arr.Count == 0 ? 0 : _random.Next(arr.Count + 1);
            switch (_random.Next(4))
            {
                case 0:
                    arr.Insert(at, null);
                    break;
                case 1 when arr.Count > 0:
                    arr.Insert(at, arr[_random.Next(arr.Count)]?.DeepClone());
                    break;
                case 2 when arr.Count > 0:
                    arr.RemoveAt(_random.Next(arr.Count));
                    break;
                default:
                    arr.Insert(at, Replacement(null));
                    break;
            }
            return root;
        }
        var replacement = Replacement(target);
        if (target is null || target.Parent is null)
        {
            // The root itself, or a null value (which has no node to find its parent by): replace the root sometimes.
            return target?.Parent is null && _random.Next(8) == 0 ? replacement ?? JsonValue.Create(0)! : root;
        }
        switch (target.Parent)
        {
            case JsonObject owner:
                owner[target.GetPropertyName()] = replacement;
                break;
            case JsonArray owner:
                owner[target.GetElementIndex()] = replacement;
                break;
        }
        return root;
    }

    private static void Collect(JsonNode? node, List<JsonNode?> into)
    {
        into.Add(node);
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, child) in o)
                {
                    Collect(child, into);
                }
                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    Collect(child, into);
                }
                break;
        }
    }

    /// <summary>A value to put where <paramref name="old"/> was: null, another type, a poisoned string, an extreme number.</summary>
    private JsonNode? Replacement(JsonNode? old)
    {
        var text = old is JsonValue v && v.TryGetValue<string>(out var s) ? s : "x";
        switch (_random.Next(14))
        {
            case 0:
            case 1:
                return null;
            case 2:
                return JsonValue.Create(text.Insert(_random.Next(text.Length + 1), "\u0000"));
            case 3:
                return JsonValue.Create(_random.Next(4) switch { 0 => "", 1 => "..", 2 => "../../../../etc", _ => new string('a', _random.Next(1, 5000)) });
            case 4:
                return JsonValue.Create(text + _random.Next(4) switch { 0 => "/..", 1 => "/", 2 => "\n", _ => "\u00e9\ud83d\ude00" });
            case 5:
                return JsonNode.Parse(Huge());
            case 6:
                return JsonValue.Create(_random.Next(2) == 0);
            case 7:
                return new JsonObject();
            case 8:
                return new JsonArray();
            case 9:
                return new JsonArray(JsonValue.Create(text), null);
            case 10:
                return Nested(_random.Next(2, 200));
            case 11:
                return JsonValue.Create(_random.Next(-2, 70000));
            case 12:
                return JsonValue.Create(-1);
            default:
                return old?.DeepClone() is { } clone ? new JsonArray(clone) : JsonValue.Create(text);
        }
    }

    private string Huge() => _random.Next(7) switch
    {
        0 => "18446744073709551616",
        1 => "-9223372036854775809",
        2 => "1e400",
        3 => "-1",
        4 => "1.5",
        5 => "4294967296",
        _ => "99999999999999999999999999999999999999",
    };

    private JsonNode Nested(int depth)
    {
        var arrays = _random.Next(2) == 0;
        JsonNode node = JsonValue.Create(1);
        for (var i = 0; i < depth; i++)
        {
            node = arrays ? new JsonArray(node) : new JsonObject { ["a"] = node };
        }
        return node;
    }

    private static string Write(JsonNode root, List<(JsonObject Owner, string Key)> duplicates)
    {
        // Written by hand: JsonObject cannot hold a key twice, and the writer refuses the depths the mutations make.
        var sb = new StringBuilder();
        WriteNode(root, sb, duplicates);
        return sb.ToString();
    }

    private static void WriteNode(JsonNode? node, StringBuilder sb, List<(JsonObject Owner, string Key)> duplicates)
    {
        switch (node)
        {
            case JsonObject o:
                sb.Append('{');
                var first = true;
                foreach (var (key, child) in o)
                {
                    var times = duplicates.Any(d => ReferenceEquals(d.Owner, o) && d.Key == key) ? 2 : 1;
                    for (var t = 0; t < times; t++)
                    {
                        sb.Append(first ? "" : ",").Append(JsonSerializer.Serialize(key)).Append(':');
                        WriteNode(child, sb, duplicates);
                        first = false;
                    }
                }
                sb.Append('}');
                break;
            case JsonArray a:
                sb.Append('[');
                for (var i = 0; i < a.Count; i++)
                {
                    sb.Append(i == 0 ? "" : ",");
                    WriteNode(a[i], sb, duplicates);
                }
                sb.Append(']');
                break;
            case null:
                sb.Append("null");
                break;
            default:
                sb.Append(node.ToJsonString());
                break;
        }
    }

    private byte[] ByteEdit(byte[] bytes)
    {
        var list = bytes.ToList();
        switch (_random.Next(4))
        {
            case 0:
                return [.. list.Take(_random.Next(list.Count + 1))];
            case 1:
                for (var i = _random.Next(1, 8); i > 0 && list.Count > 0; i--)
                {
                    list[_random.Next(list.Count)] ^= (byte)(1 << _random.Next(8));
                }
                return [.. list];
            case 2:
                list.Insert(_random.Next(list.Count + 1), (byte)_random.Next(256));
                return [.. list];
            default:
                list.InsertRange(_random.Next(list.Count + 1), [0xff, 0xfe, 0x00, 0xc3]);
                return [.. list];
        }
    }
}
