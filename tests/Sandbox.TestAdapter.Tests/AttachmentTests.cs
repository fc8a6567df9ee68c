using System.Text;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Adapter;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;
using Sandbox.TestAdapter.Protocol;
using Sandbox.TestAgent;

namespace Sandbox.TestAdapter.Tests;

/// <summary>
/// Attachments across the agent protocol: the agent reads the files a framework attached and sends their bytes; the
/// host writes them under the run's results directory and nowhere else, whatever the agent sends.
/// </summary>
public sealed class AttachmentTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sandbox-attachments-").FullName;
    private string Results => Path.Combine(_root, "results", "Sandbox", "sbx-1");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static TestCase Case() => new("A.B.C", new Uri("executor://mstestadapter/v2"), "/out/a.dll");

    /// <summary>Every line the agent's handle wrote, as the host reads them.</summary>
    private static List<AgentMessage> Lines(MemoryStream written)
    {
        var channel = new LineChannel(new MemoryStream(written.ToArray()), Stream.Null);
        var list = new List<AgentMessage>();
        while (channel.Read() is { } m)
        {
            list.Add(m);
        }
        return list;
    }

    /// <summary>What the host makes of the agent's lines: attachments received, the result with its files.</summary>
    private TestResult Host(List<AgentMessage> lines, RecordingHandle? handle = null)
    {
        var receiver = new AttachmentReceiver(Results);
        TestResult? result = null;
        foreach (var m in lines)
        {
            switch (m)
            {
                case { Type: MessageTypes.Attachment, Attachment: { } a }:
                    receiver.Receive(a);
                    break;
                case { Type: MessageTypes.RunAttachments, AttachmentSets: { } sets }:
                    receiver.RecordRun(sets, handle!);
                    break;
                case { Type: MessageTypes.Result, Result: { } r }:
                    result = TestObjectMapper.FromDto(r, Case());
                    receiver.AttachTo(result, r.Attachments);
                    break;
            }
        }
        return result ?? new TestResult(Case());
    }

    private static AgentMessage Chunk(int number, string? name, byte[] content, bool final = true) =>
        new() { Type = MessageTypes.Attachment, Attachment = new() { Number = number, Name = name, Content = Convert.ToBase64String(content), Final = final } };

    private static AgentMessage ResultNaming(params int[] files) => new()
    {
        Type = MessageTypes.Result,
        Result = TestObjectMapper.ToDto(new TestResult(Case()) { Outcome = TestOutcome.Passed }) with
        {
            Attachments = [new AttachmentSetDto { Uri = "executor://mstestadapter/v2", DisplayName = "Attachments", Files = [.. files] }],
        },
    };

    /// <summary>Every file under the test's root, outside the results directory.</summary>
    private List<string> FilesOutsideResults() =>
        [.. Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories).Where(f => !f.StartsWith(Results + "/", StringComparison.Ordinal))];

    /// <summary>The files left in the results directory, relative to it.</summary>
    private List<string> Files() =>
        [.. Directory.EnumerateFiles(Results, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Results, f)).Order(StringComparer.Ordinal)];

    private static string Messages(TestResult result) => string.Join("", result.Messages.Select(m => m.Text));

    [Fact]
    public void A_result_file_of_several_chunks_arrives_as_a_host_file_under_the_results_directory_named_by_the_result()
    {
        var inSandbox = Path.Combine(_root, "sandbox-tmp", "report.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(inSandbox)!);
        var content = new byte[AttachmentLimits.ChunkBytes * 2 + 123];
        new Random(7).NextBytes(content);
        File.WriteAllBytes(inSandbox, content);

        var written = new MemoryStream();
        var handle = new StreamingFrameworkHandle(new LineChannel(Stream.Null, written));
        var result = new TestResult(Case()) { Outcome = TestOutcome.Passed };
        var set = new AttachmentSet(new Uri("executor://mstestadapter/v2"), "Attachments");
        set.Attachments.Add(UriDataAttachment.CreateFrom(inSandbox, "the test's report"));
        set.Attachments.Add(UriDataAttachment.CreateFrom(Path.Combine(_root, "sandbox-tmp", "missing.txt"), "gone"));
        result.Attachments.Add(set);
        handle.RecordResult(result);

        var lines = Lines(written);
        Assert.Equal([MessageTypes.Attachment, MessageTypes.Attachment, MessageTypes.Attachment, MessageTypes.Result], lines.Select(l => l.Type));
        Assert.All(lines, l => Assert.True(LineChannel.Serialize(l).Length < LineChannel.MaxLineBytes));
        var back = Host(lines);
        var attachment = Assert.Single(Assert.Single(back.Attachments).Attachments);
        Assert.Equal(new Uri("executor://mstestadapter/v2"), back.Attachments[0].Uri);
        Assert.Equal(Path.Combine(Results, "1/report.bin"), attachment.Uri.LocalPath);
        Assert.Equal("the test's report", attachment.Description);
        Assert.Equal(content, File.ReadAllBytes(attachment.Uri.LocalPath));
        // The file the agent could not read is said on the result, not silently lost.
        Assert.Contains("missing.txt was dropped: it could not be read", Messages(back), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../../etc/x", "1/x")]
    [InlineData("/etc/passwd", "1/passwd")]
    [InlineData("..", "1/attachment")]
    [InlineData("a/..", "1/attachment")]
    [InlineData("", "1/attachment")]
    [InlineData("bad\\..\\name\n\0", "1/bad_.._name__")]
    public void A_hostile_name_is_a_base_name_inside_the_results_directory(string name, string expected)
    {
        var back = Host([Chunk(0, name, "hostile"u8.ToArray()), ResultNaming(0)]);
        var path = Assert.Single(Assert.Single(back.Attachments).Attachments).Uri.LocalPath;
        Assert.Equal(Path.Combine(Results, expected), path);
        Assert.Equal("hostile", File.ReadAllText(path));
        Assert.Empty(FilesOutsideResults());
        Assert.False(File.Exists("/etc/x"));
    }

    [Fact]
    public void A_file_over_the_cap_is_deleted_and_the_result_says_it_was_dropped()
    {
        // A hostile agent: the host counts what arrives, whatever the agent claims or leaves out.
        var chunk = Chunk(3, "huge.log", new byte[AttachmentLimits.ChunkBytes], final: false);
        var lines = new List<AgentMessage>();
        for (var sent = 0L; sent <= AttachmentLimits.FileBytes; sent += AttachmentLimits.ChunkBytes)
        {
            lines.Add(chunk);
        }
        lines.Add(Chunk(3, null, [], final: true));
        lines.Add(Chunk(4, "small.txt", "kept"u8.ToArray()));
        lines.Add(ResultNaming(3, 4));
        var back = Host(lines);
        Assert.Contains("the attachment huge.log was dropped: over the cap (64 MiB a file", Messages(back), StringComparison.Ordinal);
        Assert.Equal(["2/small.txt"], Files());
        Assert.Equal("kept", File.ReadAllText(Assert.Single(Assert.Single(back.Attachments).Attachments).Uri.LocalPath));
    }

    [Fact]
    public void A_file_the_agent_sends_badly_or_never_is_dropped_with_the_reason()
    {
        var back = Host([
            Chunk(0, "twice.txt", "a"u8.ToArray()),
            Chunk(0, "twice.txt", "more"u8.ToArray()),
            new() { Type = MessageTypes.Attachment, Attachment = new() { Number = 1, Name = "b64.txt", Content = "not base64!", Final = true } },
            Chunk(2, "unfinished.txt", "x"u8.ToArray(), final: false),
            ResultNaming(0, 1, 2, 99),
        ]);
        Assert.Empty(back.Attachments);
        var messages = Messages(back);
        Assert.Contains("twice.txt was dropped: the agent sent more of it after its end", messages, StringComparison.Ordinal);
        Assert.Contains("b64.txt was dropped: the agent sent content that is not base64", messages, StringComparison.Ordinal);
        Assert.Contains("unfinished.txt was dropped: its last part never arrived", messages, StringComparison.Ordinal);
        Assert.Contains("1 attachment(s) were dropped: they never arrived", messages, StringComparison.Ordinal);
        Assert.Equal(["3/unfinished.txt"], Files());
    }

    [Theory]
    [InlineData("""{"t":"attachment","v":1,"attachment":{"number":0,"name":"n.txt","content":null,"final":true}}""")]
    [InlineData("""{"t":"attachment","v":1,"attachment":{"number":0,"name":null,"description":null,"content":"","final":true}}""")]
    [InlineData("""{"t":"result","v":1,"result":{"testCase":{"id":"0b6a3c3e-8f4c-4e6e-a1b2-0123456789ab","fullyQualifiedName":"A.B","displayName":"A.B","executorUri":"executor://x","source":"/a.dll","properties":[]},"messages":[],"properties":[],"attachments":null}}""")]
    [InlineData("""{"t":"result","v":1,"result":{"testCase":{"id":"0b6a3c3e-8f4c-4e6e-a1b2-0123456789ab","fullyQualifiedName":"A.B","displayName":"A.B","executorUri":"executor://x","source":"/a.dll","properties":[]},"messages":[],"properties":[],"attachments":[null,{"uri":null,"displayName":null,"files":null}]}}""")]
    [InlineData("""{"t":"runAttachments","v":1,"attachmentSets":[null,{"uri":"::","files":[0,0,7]}]}""")]
    public void Nulls_where_the_records_have_none_are_no_crash(string line)
    {
        var back = Host([LineChannel.Deserialize(Encoding.UTF8.GetBytes(line))], new RecordingHandle());
        Assert.DoesNotContain(back.Attachments, s => s.Attachments.Any(a => !a.Uri.LocalPath.StartsWith(Results + "/", StringComparison.Ordinal)));
        Assert.Empty(FilesOutsideResults());
    }

    [Fact]
    public void The_agent_sends_no_file_over_the_cap_and_says_so_on_the_result()
    {
        var big = Path.Combine(_root, "big.bin");
        using (var f = File.Create(big))
        {
            f.SetLength(AttachmentLimits.FileBytes + 1);
        }
        var written = new MemoryStream();
        var handle = new StreamingFrameworkHandle(new LineChannel(Stream.Null, written));
        var result = new TestResult(Case());
        var set = new AttachmentSet(new Uri("executor://mstestadapter/v2"), "Attachments");
        set.Attachments.Add(UriDataAttachment.CreateFrom(big, "big"));
        result.Attachments.Add(set);
        handle.RecordResult(result);
        var line = Assert.Single(Lines(written));
        Assert.Empty(line.Result!.Attachments);
        Assert.Contains(line.Result.Messages, m => m.Text.Contains("big.bin was dropped: over the cap (64 MiB a file, 256 MiB and 1000 files a sandbox)", StringComparison.Ordinal));
    }

    [Fact]
    public void Run_level_attachments_reach_the_adapters_framework_handle_as_host_files()
    {
        var file = Path.Combine(_root, "coverage.xml");
        File.WriteAllText(file, "<coverage/>");
        var written = new MemoryStream();
        var agent = new StreamingFrameworkHandle(new LineChannel(Stream.Null, written));
        var set = new AttachmentSet(new Uri("datacollector://sample"), "Run files");
        set.Attachments.Add(UriDataAttachment.CreateFrom(file, "coverage"));
        agent.RecordAttachments([set]);

        var host = new RecordingHandle();
        Host(Lines(written), host);
        var recorded = Assert.Single(host.Attachments);
        Assert.Equal(new Uri("datacollector://sample"), recorded.Uri);
        var path = Assert.Single(recorded.Attachments).Uri.LocalPath;
        Assert.Equal(Path.Combine(Results, "1/coverage.xml"), path);
        Assert.Equal("<coverage/>", File.ReadAllText(path));
    }

    private sealed class RecordingHandle : IFrameworkHandle
    {
        public List<AttachmentSet> Attachments { get; } = [];
        public List<string> Messages { get; } = [];
        public bool EnableShutdownAfterTestRun { get; set; }
        public void RecordResult(TestResult testResult) { }
        public void RecordStart(TestCase testCase) { }
        public void RecordEnd(TestCase testCase, TestOutcome outcome) { }
        public void RecordAttachments(IList<AttachmentSet> attachmentSets) => Attachments.AddRange(attachmentSets);
        public void SendMessage(TestMessageLevel testMessageLevel, string message) => Messages.Add(message);
        public int LaunchProcessWithDebuggerAttached(string filePath, string? workingDirectory, string? arguments, IDictionary<string, string?>? environmentVariables) => 0;
    }
}
