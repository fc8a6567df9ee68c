using Xunit;

namespace HermeticTests;

/// <summary>The host's environment does not reach the sandbox: only what sandbox.yaml sets or passes.</summary>
public class HostEnvironment
{
    /// <summary>run.sh sets it for `dotnet test`; unsandboxed the test sees it and fails.</summary>
    public const string Secret = "HERMETIC_SAMPLE_SECRET";

    [Fact]
    public void Host_variable_is_absent() => Assert.Null(Environment.GetEnvironmentVariable(Secret));

    [Fact]
    public void Home_is_the_private_tmp() => Assert.Equal("/tmp", Environment.GetEnvironmentVariable("HOME"));
}
