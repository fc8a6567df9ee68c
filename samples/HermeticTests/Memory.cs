using Xunit;

namespace HermeticTests;

/// <summary>
/// sandbox.yaml limits the sandbox to 256 MiB; this test touches 512 MiB. The kernel's OOM killer ends the sandbox,
/// and the adapter fails the test with SBX5024, "killed by the OOM killer" and its peak memory, while the other tests
/// go on in a new sandbox. Unsandboxed it passes.
/// </summary>
public class Memory
{
    [Fact]
    public void Allocating_past_the_memory_limit_is_OOM_killed()
    {
        var blocks = new List<byte[]>();
        for (var i = 0; i < 512; i++)
        {
            var block = new byte[1 << 20];
            Array.Fill(block, (byte)1);
            blocks.Add(block);
        }
        Assert.Equal(512, blocks.Count);
    }
}
