using System.Text;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Sandbox.TestAdapter;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAdapter.Tests;

public class ProtocolTests
{
    private static readonly TestProperty Serialization = TestProperty.Register(
        "XunitTestCaseSerialization", "xUnit.net Test Case Serialization", typeof(string), typeof(ProtocolTests));
    private static readonly TestProperty UniqueId = TestProperty.Register(
        "XunitTestCaseUniqueID", "xUnit.net Test Case Unique ID", typeof(string), typeof(ProtocolTests));
    private static readonly TestProperty Explicit = TestProperty.Register(
        "XunitTestCaseExplicit", "xUnit.net Test Case Explicit Flag", typeof(bool), typeof(ProtocolTests));
    private static readonly TestProperty Categories = TestProperty.Register(
        "MSTestDiscoverer.TestCategory", "TestCategory", typeof(string[]), TestPropertyAttributes.Hidden, typeof(ProtocolTests));

    /// <summary>A test case as xunit.runner.visualstudio's discovery sink makes it: Id set by the adapter itself.</summary>
    private static TestCase XunitCase()
    {
        var testCase = new TestCase("Sample.Basics.Theory_cases(n: 1)", new Uri("executor://xunit/VsTestRunner2/netcoreapp"), "/out/proj.dll")
        {
            DisplayName = "Sample.Basics.Theory_cases(n: 1)",
            CodeFilePath = "/src/Tests.cs",
            LineNumber = 12,
            Id = Guid.Parse("0b6a3c3e-8f4c-4e6e-a1b2-0123456789ab"),
        };
        testCase.SetPropertyValue(Serialization, "Xunit.Sdk.XunitTestCase, xunit.execution.dotnet:ABC==");
        testCase.SetPropertyValue(UniqueId, "f00dfeed");
        testCase.SetPropertyValue(Explicit, false);
        testCase.SetPropertyValue(Categories, new[] { "slow", "io" });
        testCase.Traits.Add("Kind", "files");
        testCase.Traits.Add("Kind", "second");
        return testCase;
    }

    private static TestCaseDto ThroughTheWire(TestCaseDto dto)
    {
        var line = LineChannel.Serialize(new AgentMessage { Type = MessageTypes.Case, Case = dto });
        Assert.Equal((byte)'\n', line[^1]);
        Assert.DoesNotContain((byte)'\n', line[..^1]);
        return LineChannel.Deserialize(line.AsSpan(0, line.Length - 1)).Case!;
    }

    private static void AssertSameCase(TestCase expected, TestCase actual)
    {
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.FullyQualifiedName, actual.FullyQualifiedName);
        Assert.Equal(expected.DisplayName, actual.DisplayName);
        Assert.Equal(expected.Source, actual.Source);
        Assert.Equal(expected.CodeFilePath, actual.CodeFilePath);
        Assert.Equal(expected.LineNumber, actual.LineNumber);
        Assert.Equal(expected.GetPropertyValue(Serialization), actual.GetPropertyValue(Serialization));
        Assert.Equal(expected.GetPropertyValue(UniqueId), actual.GetPropertyValue(UniqueId));
        Assert.Equal(expected.GetPropertyValue(Explicit), actual.GetPropertyValue(Explicit));
        Assert.Equal((string[])expected.GetPropertyValue(Categories)!, (string[])actual.GetPropertyValue(Categories)!);
        Assert.Equal(expected.Traits.Select(t => (t.Name, t.Value)), actual.Traits.Select(t => (t.Name, t.Value)));
    }

    [Fact]
    public void A_framework_test_case_survives_agent_to_proxy_to_agent_with_its_id_and_properties()
    {
        var original = XunitCase();
        // Agent → host: the proxy runs under Sandbox's executor but keeps the framework's Id.
        var proxy = SandboxTestAdapter.ToProxy(ThroughTheWire(TestObjectMapper.ToDto(original)), null);
        Assert.Equal(SandboxTestAdapter.ExecutorUri, proxy.ExecutorUri);
        AssertSameCase(original, proxy);

        // Host → agent (run with tests): the framework's executor URI comes back, the hidden property does not.
        var dto = ThroughTheWire(SandboxTestAdapter.FromProxy(proxy));
        Assert.Equal("executor://xunit/VsTestRunner2/netcoreapp", dto.ExecutorUri);
        Assert.DoesNotContain(dto.Properties, p => p.Id == SandboxTestAdapter.OriginalExecutorUri.Id);
        var again = TestObjectMapper.FromDto(dto);
        Assert.Equal(original.ExecutorUri, again.ExecutorUri);
        AssertSameCase(original, again);
    }

    [Fact]
    public void A_default_id_is_kept_even_though_the_proxy_changes_the_executor_uri_it_hashes()
    {
        // NUnit leaves Id to vstest's default, a hash of executor URI, source and name.
        var original = new TestCase("N.C.M", new Uri("executor://NUnit3TestExecutor"), "/out/n.dll");
        var id = original.Id;
        var proxy = SandboxTestAdapter.ToProxy(ThroughTheWire(TestObjectMapper.ToDto(original)), null);
        Assert.Equal(id, proxy.Id);
        Assert.NotEqual(id, new TestCase("N.C.M", SandboxTestAdapter.ExecutorUri, "/out/n.dll").Id);
    }

    [Fact]
    public void A_result_keeps_outcome_messages_times_and_properties()
    {
        var testCase = XunitCase();
        var result = new TestResult(testCase)
        {
            Outcome = TestOutcome.Failed,
            ErrorMessage = "boom\nsecond line",
            ErrorStackTrace = "at X.Y()",
            DisplayName = "shown",
            Duration = TimeSpan.FromMilliseconds(1234.5),
            StartTime = new DateTimeOffset(2026, 11, 30, 6, 0, 0, TimeSpan.Zero),
            EndTime = new DateTimeOffset(2026, 11, 30, 6, 0, 1, TimeSpan.Zero),
            ComputerName = "box",
        };
        result.Messages.Add(new TestResultMessage(TestResultMessage.StandardOutCategory, "out ✓"));
        result.Messages.Add(new TestResultMessage(TestResultMessage.StandardErrorCategory, "err"));
        var line = LineChannel.Serialize(new AgentMessage { Type = MessageTypes.Result, Result = TestObjectMapper.ToDto(result) });
        var dto = LineChannel.Deserialize(line.AsSpan(0, line.Length - 1)).Result!;
        var back = TestObjectMapper.FromDto(dto, testCase);
        Assert.Equal(result.Outcome, back.Outcome);
        Assert.Equal(result.ErrorMessage, back.ErrorMessage);
        Assert.Equal(result.ErrorStackTrace, back.ErrorStackTrace);
        Assert.Equal(result.DisplayName, back.DisplayName);
        Assert.Equal(result.Duration, back.Duration);
        Assert.Equal(result.StartTime, back.StartTime);
        Assert.Equal(result.EndTime, back.EndTime);
        Assert.Equal(result.ComputerName, back.ComputerName);
        Assert.Equal(result.Messages.Select(m => (m.Category, m.Text)), back.Messages.Select(m => (m.Category, m.Text)));
        Assert.Equal(testCase.Id, dto.TestCase.Id);
    }

    [Fact]
    public void A_property_of_a_type_the_protocol_does_not_carry_is_dropped_with_a_warning()
    {
        var odd = TestProperty.Register("Sandbox.Tests.Odd", "odd", typeof(Version), typeof(ProtocolTests));
        var testCase = new TestCase("A.B", new Uri("executor://x"), "/a.dll");
        testCase.SetPropertyValue(odd, new Version(1, 2));
        var dto = TestObjectMapper.ToDto(testCase);
        Assert.Equal(PropertyValueKind.Unsupported, Assert.Single(dto.Properties).Kind);
        var warnings = new List<string>();
        var back = TestObjectMapper.FromDto(dto, warn: warnings.Add);
        Assert.Null(back.GetPropertyValue(odd));
        Assert.Contains("Sandbox.Tests.Odd", Assert.Single(warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void The_channel_reads_lines_across_reads_and_treats_a_cut_last_line_as_the_end()
    {
        var one = LineChannel.Serialize(new AgentMessage { Type = MessageTypes.Start, Id = Guid.NewGuid() });
        var two = LineChannel.Serialize(new AgentMessage { Type = MessageTypes.Done });
        var bytes = one.Concat(two).Concat(two[..5]).ToArray();
        var channel = new LineChannel(new TrickleStream(bytes), Stream.Null);
        Assert.Equal(MessageTypes.Start, channel.Read()!.Type);
        Assert.Equal(MessageTypes.Done, channel.Read()!.Type);
        Assert.Null(channel.Read());
    }

    [Theory]
    [InlineData("hello from a test that wrote to fd 1\n")]
    [InlineData("{\"t\":\"done\",\"v\":2}\n")]
    [InlineData("{\"t\":\"done\",\"v\":1,\"result\":{\"$type\":\"System.IO.FileInfo\"}}\n")]
    [InlineData("[1,2,3]\n")]
    [InlineData("{\"t\":\"result\",\"v\":1,\"result\":{\"testCase\":{\"id\":\"6f9619ff-8b86-d011-b42d-00c04fc964ff\",\"fullyQualifiedName\":\"N.C.M\",\"displayName\":\"M\",\"executorUri\":\"executor://x\",\"source\":\"/s.dll\"},\"messages\":null}}\n")]
    [InlineData("{\"t\":\"result\",\"v\":1,\"result\":{\"testCase\":{\"id\":\"6f9619ff-8b86-d011-b42d-00c04fc964ff\",\"fullyQualifiedName\":\"N.C.M\",\"displayName\":\"M\",\"executorUri\":\"executor://x\",\"source\":\"/s.dll\",\"properties\":[null]}}}\n")]
    [InlineData("{\"t\":\"case\",\"v\":1,\"case\":{\"id\":\"6f9619ff-8b86-d011-b42d-00c04fc964ff\",\"fullyQualifiedName\":null,\"displayName\":\"M\",\"executorUri\":\"executor://x\",\"source\":\"/s.dll\"}}\n")]
    public void Anything_but_a_message_of_this_protocol_version_is_a_format_error(string text)
    {
        var channel = new LineChannel(new MemoryStream(Encoding.UTF8.GetBytes(text)), Stream.Null);
        Assert.Throws<FormatException>(() => channel.Read());
    }

    [Fact]
    public void A_line_longer_than_the_cap_is_refused_before_it_is_all_read()
    {
        var channel = new LineChannel(new EndlessStream(), Stream.Null);
        Assert.Throws<FormatException>(() => channel.Read());
    }

    /// <summary>Hands out a few bytes per read, as a pipe may.</summary>
    private sealed class TrickleStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 7));
    }

    private sealed class EndlessStream : Stream
    {
        private long _read;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            Assert.True(_read < 2L * LineChannel.MaxLineBytes, "the reader kept reading past the cap");
            buffer.AsSpan(offset, count).Fill((byte)'x');
            _read += count;
            return count;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
