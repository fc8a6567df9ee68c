using System.Text;
using System.Text.Json;

namespace Sandbox.TestAdapter.Protocol;

/// <summary>
/// Reads and writes <see cref="AgentMessage"/>s as UTF-8 JSON lines. The reader caps a line's length: the host reads
/// what a test's process wrote, which may be anything.
/// </summary>
internal sealed class LineChannel
{
    public const int MaxLineBytes = 16 * 1024 * 1024;

    private readonly Stream _input;
    private readonly Stream _output;
    private readonly Lock _writeLock = new();
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    public LineChannel(Stream input, Stream output)
    {
        _input = input;
        _output = output;
    }

    public static byte[] Serialize(AgentMessage message)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(message, ProtocolJsonContext.Default.AgentMessage);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }

    /// <summary>Parses one line; anything that is not a message of this protocol version is a <see cref="FormatException"/>.</summary>
    public static AgentMessage Deserialize(ReadOnlySpan<byte> line)
    {
        AgentMessage? message;
        try
        {
            message = JsonSerializer.Deserialize(line, ProtocolJsonContext.Default.AgentMessage);
        }
        catch (JsonException e)
        {
            throw new FormatException($"not a protocol message: {e.Message}", e);
        }
        if (message is null || message.Version != AgentMessage.ProtocolVersion)
        {
            throw new FormatException($"not a protocol message of version {AgentMessage.ProtocolVersion}: {Encoding.UTF8.GetString(line[..Math.Min(line.Length, 200)])}");
        }
        Validate(message);
        return message;
    }

    /// <summary>
    /// What the JSON reader lets through but the rest of the code may not meet: a null where a list, an element or
    /// a name must be (the reader gives an explicit null, or a missing list, as null). The agent shares its process
    /// with test code, so a line is checked whole before anything uses it.
    /// </summary>
    private static void Validate(AgentMessage m)
    {
        if (m.Case is { } c)
        {
            Validate(c);
        }
        foreach (var t in m.Tests ?? [])
        {
            Check(t is not null, "a null test case");
            Validate(t);
        }
        Check(m.Sources is null || m.Sources.All(s => s is not null), "a null source");
        Check(m.Selection is null || m.Selection.All(t => t is not null && t.FullyQualifiedName is not null && t.DisplayName is not null), "a selected test's names");
        if (m.Result is { } r)
        {
            Check(r.TestCase is not null, "a result without its test case");
            Validate(r.TestCase);
            Check(r.Messages is not null && r.Messages.All(x => x is not null && x.Category is not null), "a result's messages");
            Properties(r.Properties);
            // Attachment sets are checked where they are used (AttachmentReceiver), which drops what is malformed.
        }
    }

    private static void Validate(TestCaseDto? c)
    {
        Check(c is not null, "a test case");
        Check(c!.FullyQualifiedName is not null && c.DisplayName is not null && c.ExecutorUri is not null && c.Source is not null, "a test case without its names");
        Properties(c.Properties);
    }

    private static void Properties(List<PropertyDto>? properties) =>
        Check(properties is not null && properties.All(p => p is not null && p.Id is not null && p.Kind is not null), "a property list");

    private static void Check(bool ok, string what)
    {
        if (!ok)
        {
            throw new FormatException($"not a protocol message: {what} is missing or null");
        }
    }

    public void Write(AgentMessage message)
    {
        var line = Serialize(message);
        lock (_writeLock)
        {
            _output.Write(line);
            _output.Flush();
        }
    }

    /// <summary>The next message, or null at the end of the stream.</summary>
    public AgentMessage? Read()
    {
        using var line = new MemoryStream();
        while (true)
        {
            if (_start == _end)
            {
                _start = 0;
                _end = _input.Read(_buffer, 0, _buffer.Length);
                if (_end == 0)
                {
                    // A partial last line is a process that died mid-write: the same as no line.
                    return null;
                }
            }
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            var stop = newline < 0 ? _end : newline;
            line.Write(_buffer, _start, stop - _start);
            if (line.Length > MaxLineBytes)
            {
                throw new FormatException($"a protocol line is longer than {MaxLineBytes} bytes");
            }
            _start = newline < 0 ? _end : newline + 1;
            if (newline >= 0)
            {
                return Deserialize(line.GetBuffer().AsSpan(0, (int)line.Length));
            }
        }
    }
}
