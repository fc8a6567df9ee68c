using Microsoft.Testing.Platform.CommandLine;
using Microsoft.Testing.Platform.Extensions;
using Microsoft.Testing.Platform.Extensions.CommandLine;

namespace Sandbox.TestAdapter.Mtp;

/// <summary>
/// The `--sandbox-*` options of a Microsoft.Testing.Platform test application (shown by `--help`): the runsettings'
/// `&lt;Sandbox&gt;` settings of VSTest mode, each over the same key of sandbox.yaml's `test:` section. Values are checked
/// by the code that checks runsettings, so a wrong one is the same SBX5026, naming the option. Not Parallel: one test
/// host, so one sandbox, per run.
/// The controller also resolves its settings here, where the platform shows a failed validation as a message and exits
/// with its code for a bad command line (5): an option or sandbox.yaml asking for what this mode lacks (SBX5030), or a
/// host that cannot make sandboxes (SBX5027). The launcher takes the result (<see cref="Resolved"/>).
/// </summary>
internal sealed class SandboxCommandLineOptions : ICommandLineOptionsProvider
{
    /// <summary>The platform's option that makes a process the test host of a controller (PlatformCommandLineProvider).</summary>
    private const string TestHostControllerPid = "internal-testhostcontroller-pid";

    public const string Disable = "sandbox-disable";
    public const string Isolation = "sandbox-isolation";
    public const string Timeout = "sandbox-timeout";
    public const string TestTimeout = "sandbox-test-timeout";
    public const string AllowUnsandboxed = "sandbox-allow-unsandboxed";

    /// <summary>Each option's runsettings name (RunSandboxSettings.From reads values by it).</summary>
    private static readonly Dictionary<string, string> Settings = new(StringComparer.Ordinal)
    {
        ["Isolation"] = Isolation,
        ["Timeout"] = Timeout,
        ["TestTimeout"] = TestTimeout,
        ["AllowUnsandboxed"] = AllowUnsandboxed,
        ["Enabled"] = Disable,
    };

    public string Uid => nameof(SandboxCommandLineOptions);
    public string Version => typeof(SandboxCommandLineOptions).Assembly.GetName().Version?.ToString() ?? "0.0.0";
    public string DisplayName => "Sandbox";
    public string Description => "Runs the test host inside a Sandbox sandbox (docs/testing.md)";

    public Task<bool> IsEnabledAsync() => Task.FromResult(true);

    public IReadOnlyCollection<CommandLineOption> GetCommandLineOptions() =>
    [
        new(Disable, "Run the tests unsandboxed, in one process as without Sandbox (as SANDBOX_DISABLE=1 does).", ArgumentArity.Zero, false),
        new(Isolation, "assembly: one sandbox runs the test host (the only one Microsoft.Testing.Platform mode has; class and test are refused with SBX5030). Over sandbox.yaml's test: isolation.", ArgumentArity.ExactlyOne, false),
        new(Timeout, "Kill the test host's sandbox after this long (sandbox run --timeout): 30s, 1m30s, 500ms, 1h, or seconds. Over sandbox.yaml's test: timeout.", ArgumentArity.ExactlyOne, false),
        new(TestTimeout, "Stop the test host when one test has run this long; that test is reported timed out (SBX5029), the tests not finished have no result. Over sandbox.yaml's test: testTimeout.", ArgumentArity.ExactlyOne, false),
        new(AllowUnsandboxed, "On a host that cannot make sandboxes (SBX5027), run unsandboxed after an SBX5028 warning instead of failing.", ArgumentArity.Zero, false),
    ];

    /// <summary>How an option is written: `--sandbox-timeout 30s`.</summary>
    internal static string Syntax(string setting, string value) => $"--{Settings[setting]} {value}";

    public Task<ValidationResult> ValidateOptionArgumentsAsync(CommandLineOption commandOption, string[] arguments)
    {
        ArgumentNullException.ThrowIfNull(commandOption);
        ArgumentNullException.ThrowIfNull(arguments);
        var setting = Settings.Single(s => s.Value == commandOption.Name).Key;
        try
        {
            RunSandboxSettings.From(name => name == setting && arguments.Length > 0 ? arguments[0] : null, Syntax, _ => null, "");
            return ValidationResult.ValidTask;
        }
        catch (AdapterException e)
        {
            return ValidationResult.InvalidTask(e.Message);
        }
    }

    /// <summary>This run's settings, once the controller's command line was validated; null in the test host, whose
    /// controller decided.</summary>
    public SandboxSettings? Resolved { get; private set; }

    public Task<ValidationResult> ValidateCommandLineOptionsAsync(ICommandLineOptions commandLineOptions)
    {
        ArgumentNullException.ThrowIfNull(commandLineOptions);
        if (commandLineOptions.IsOptionSet(TestHostControllerPid))
        {
            return ValidationResult.ValidTask;
        }
        try
        {
            Resolved = SandboxTestHostLauncher.Settings(SandboxTestHostLauncher.TestAssembly, Read(commandLineOptions, Environment.GetEnvironmentVariable));
            return ValidationResult.ValidTask;
        }
        catch (AdapterException e)
        {
            return ValidationResult.InvalidTask(e.Message);
        }
    }

    /// <summary>What the command line says, as runsettings would (each null when unsaid), with SANDBOX_DISABLE over it.</summary>
    public static RunSandboxSettings Read(ICommandLineOptions options, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        string? Value(string setting) =>
            !Settings.TryGetValue(setting, out var option) ? null
            : setting == "Enabled" ? (options.IsOptionSet(option) ? "false" : null)
            : setting == "AllowUnsandboxed" ? (options.IsOptionSet(option) ? "true" : null)
            : options.TryGetOptionArgumentList(option, out var args) && args.Length > 0 ? args[0] : null;
        return RunSandboxSettings.From(Value, Syntax, environment, "--" + Disable);
    }
}
