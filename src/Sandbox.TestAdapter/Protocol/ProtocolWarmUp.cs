using Microsoft.VisualStudio.TestPlatform.ObjectModel;

namespace Sandbox.TestAdapter.Protocol;

/// <summary>
/// What the first message costs, paid before it comes: the first use of the JSON serializer and of the test object
/// mapper in a process loads and initialises them (about 60 ms of the request's way into the agent, measured before
/// this). The agent runs it while it waits for its request, testhost while the warm agent starts. A result for a
/// made-up test case goes out and back in memory only.
/// </summary>
internal static class ProtocolWarmUp
{
    public static void Run()
    {
        var testCase = new TestCase("Sandbox.WarmUp.Test", new Uri("executor://sandbox/warm-up"), "warm-up.dll") { DisplayName = "warm up" };
        var result = new TestResult(testCase) { Outcome = TestOutcome.Passed, Duration = TimeSpan.FromMilliseconds(1) };
        result.Messages.Add(new TestResultMessage(TestResultMessage.StandardOutCategory, "warm up"));
        foreach (var message in new[]
        {
            new AgentMessage { Type = MessageTypes.Start, Id = testCase.Id, Case = TestObjectMapper.ToDto(testCase) },
            new AgentMessage { Type = MessageTypes.Result, Result = TestObjectMapper.ToDto(result) },
            new AgentMessage { Type = MessageTypes.Log, Level = "Informational", Text = "warm up" },
            new AgentMessage { Type = MessageTypes.RunSources, Sources = ["warm-up.dll"], SettingsXml = "<RunSettings />" },
        })
        {
            var line = LineChannel.Serialize(message);
            if (LineChannel.Deserialize(line.AsSpan(0, line.Length - 1)).Result is { } dto)
            {
                TestObjectMapper.FromDto(dto, TestObjectMapper.FromDto(dto.TestCase));
            }
        }
    }
}
