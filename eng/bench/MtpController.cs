// test-mtp.sh's `controller` anchor: a test host controller extension that does nothing. Its presence makes
// Microsoft.Testing.Platform restart the test application as a controller and a test host process, as Sandbox's
// launcher does, with the test host started bare: what that design costs before any sandbox.
using System;
using System.IO;
using System.Threading.Tasks;
using Microsoft.Testing.Platform.Builder;
using Microsoft.Testing.Platform.Extensions;
using Microsoft.Testing.Platform.Extensions.TestHostControllers;

namespace Bench;

public static class ControllerHook
{
    public static void AddExtensions(ITestApplicationBuilder builder, string[] arguments)
        => builder.TestHostControllers.AddEnvironmentVariableProvider(_ => new NoVariables());
}

internal sealed class NoVariables : ITestHostEnvironmentVariableProvider
{
    public string Uid => nameof(NoVariables);
    public string Version => "1.0";
    public string DisplayName => nameof(NoVariables);
    public string Description => "sets no variable";
    public Task<bool> IsEnabledAsync() => Task.FromResult(true);
    // Called in the controller only, before it starts the test host: test-mtp.sh's check that there is a controller.
    public Task UpdateAsync(IEnvironmentVariables environmentVariables)
    {
        if (Environment.GetEnvironmentVariable("BENCH_CONTROLLER_MARK") is { Length: > 0 } mark)
        {
            File.WriteAllText(mark, $"{Environment.ProcessId}\n");
        }
        return Task.CompletedTask;
    }
    public Task<ValidationResult> ValidateTestHostEnvironmentVariablesAsync(IReadOnlyEnvironmentVariables environmentVariables)
        => ValidationResult.ValidTask;
}
