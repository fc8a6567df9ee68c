// The agent protocol (docs/testing.md#the-agent-protocol): one JSON object per line between Sandbox.TestAdapter (in
// testhost) and Sandbox.TestAgent (in the sandbox). This file is compiled into both assemblies, so the two sides can
// never disagree about a field. One flat message shape with a type tag keeps deserialization closed: no polymorphism,
// no type names, nothing an agent (which shares its process with test code) can use to make the host build objects.
using System.Text.Json.Serialization;

namespace Sandbox.TestAdapter.Protocol;

internal static class MessageTypes
{
    // host → agent
    public const string Discover = "discover";
    public const string RunSources = "runSources";
    public const string RunTests = "runTests";
    // agent → host
    public const string Log = "log";
    public const string Case = "case";
    public const string Start = "start";
    public const string End = "end";
    public const string Result = "result";
    public const string Attachment = "attachment";
    public const string RunAttachments = "runAttachments";
    public const string Done = "done";
}

internal sealed record AgentMessage
{
    /// <summary>Bumped when a field changes meaning; both sides come from one package, so a mismatch is a bug.</summary>
    public const int ProtocolVersion = 1;

    [JsonPropertyName("t")] public required string Type { get; init; }
    [JsonPropertyName("v")] public int Version { get; init; } = ProtocolVersion;
    public List<string>? Sources { get; init; }
    public string? SettingsXml { get; init; }
    public string? Filter { get; init; }
    /// <summary>A <c>runSources</c> of one group (class or test isolation): the tests it runs (<see cref="TestSelection"/>); null runs them all.</summary>
    public List<SelectedTest>? Selection { get; init; }
    public string? RunDirectory { get; init; }
    public List<TestCaseDto>? Tests { get; init; }
    public TestCaseDto? Case { get; init; }
    public TestResultDto? Result { get; init; }
    public Guid? Id { get; init; }
    public string? Level { get; init; }
    public string? Text { get; init; }
    public string? Error { get; init; }
    public AttachmentDto? Attachment { get; init; }
    /// <summary>The run-level attachment sets of a <c>runAttachments</c> message.</summary>
    public List<AttachmentSetDto>? AttachmentSets { get; init; }
}

internal sealed record TestCaseDto
{
    public required Guid Id { get; init; }
    public required string FullyQualifiedName { get; init; }
    public required string DisplayName { get; init; }
    /// <summary>The framework adapter's executor URI, never the proxy's.</summary>
    public required string ExecutorUri { get; init; }
    public required string Source { get; init; }
    public string? CodeFilePath { get; init; }
    public int LineNumber { get; init; }
    public List<PropertyDto> Properties { get; init; } = [];
}

/// <summary>
/// A TestProperty and its value. The value types are a closed set (<see cref="PropertyValueKind"/>): the ones
/// xunit, NUnit and MSTest put on test cases and results.
/// </summary>
internal sealed record PropertyDto
{
    public required string Id { get; init; }
    public string Label { get; init; } = "";
    public string Category { get; init; } = "";
    public string Description { get; init; } = "";
    public int Attributes { get; init; }
    public required string Kind { get; init; }
    public string? Value { get; init; }
    public List<string>? Values { get; init; }
    public List<KeyValueDto>? Pairs { get; init; }
}

internal sealed record KeyValueDto(string Key, string Value);

internal sealed record MessageDto(string Category, string Text);

internal sealed record TestResultDto
{
    public required TestCaseDto TestCase { get; init; }
    /// <summary>A <c>TestOutcome</c> value: None 0, Passed 1, Failed 2, Skipped 3, NotFound 4.</summary>
    public int Outcome { get; init; }
    public string? ErrorMessage { get; init; }
    public string? ErrorStackTrace { get; init; }
    public string? DisplayName { get; init; }
    public string? ComputerName { get; init; }
    public long DurationTicks { get; init; }
    public DateTimeOffset StartTime { get; init; }
    public DateTimeOffset EndTime { get; init; }
    public List<MessageDto> Messages { get; init; } = [];
    public List<PropertyDto> Properties { get; init; } = [];
    /// <summary>The result's attachment sets, naming files sent before it in <c>attachment</c> messages.</summary>
    public List<AttachmentSetDto> Attachments { get; init; } = [];
}

/// <summary>
/// One chunk of a file the framework attached, which the agent read inside the sandbox (its path means nothing on
/// the host): <see cref="Number"/> names the file within one agent's conversation, the first chunk carries its name
/// (a base name) and description, <see cref="Content"/> is base64 (at most <see cref="AttachmentLimits.ChunkBytes"/>
/// bytes, so a line stays under the line cap), and the last chunk says <see cref="Final"/>. A last chunk with an
/// <see cref="Error"/> says the agent gave the file up (it grew over the cap while being read).
/// </summary>
internal sealed record AttachmentDto
{
    public int Number { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string Content { get; init; } = "";
    public bool Final { get; init; }
    public string? Error { get; init; }
}

/// <summary>An AttachmentSet whose attachments are files sent as <see cref="AttachmentDto"/>s, by number.</summary>
internal sealed record AttachmentSetDto
{
    public string Uri { get; init; } = "";
    public string DisplayName { get; init; } = "";
    public List<int> Files { get; init; } = [];
}

/// <summary>What one sandbox may hand out as attachments; the agent keeps to it, the host enforces it.</summary>
internal static class AttachmentLimits
{
    public const long FileBytes = 64L * 1024 * 1024;
    public const long SandboxBytes = 256L * 1024 * 1024;
    public const int SandboxFiles = 1000;
    /// <summary>Raw bytes per <c>attachment</c> line: base64 makes them about 1.4 MB, well under <see cref="LineChannel.MaxLineBytes"/>,
    /// and the agent (in the test's process, under the sandbox's memory limit) holds little at a time.</summary>
    public const int ChunkBytes = 1024 * 1024;

    public const string Described = "64 MiB a file, 256 MiB and 1000 files a sandbox";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AgentMessage))]
internal sealed partial class ProtocolJsonContext : JsonSerializerContext;
