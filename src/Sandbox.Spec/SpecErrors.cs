// The errors sandbox.yaml can have: one record per problem, one exception that carries all of a file's problems,
// and the codes (docs/errors.md lists them; docs/sandbox-yaml.md explains each).
namespace Sandbox.Spec;

/// <summary>One problem in a sandbox.yaml: its code, where it is, what is wrong and what to do about it.</summary>
public sealed record SpecError(string Code, SourceLocation Location, string Message, string? Hint)
{
    /// <summary>The compiler-like form editors and terminals turn into links: <c>file:line:col: CODE: message (hint: ...)</c>.</summary>
    public override string ToString() =>
        Hint is null ? $"{Location}: {Code}: {Message}" : $"{Location}: {Code}: {Message} (hint: {Hint})";
}

/// <summary>Every problem found in one sandbox.yaml, so a user fixes them in one round instead of one per run.</summary>
public sealed class SpecException : Exception
{
    public SpecException(IReadOnlyList<SpecError> errors)
        : base(Describe(errors))
    {
        Errors = errors;
    }

    public IReadOnlyList<SpecError> Errors { get; }

    private static string Describe(IReadOnlyList<SpecError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return string.Join('\n', errors);
    }
}

/// <summary>The SBX40xx codes of sandbox.yaml problems, one per kind of problem.</summary>
public static class SpecErrorCodes
{
    /// <summary>The file is not well-formed YAML (including repeated keys and nesting deeper than sandbox.yaml needs).</summary>
    public const string Syntax = "SBX4001";

    /// <summary>The file is empty, holds more than one document, or its top level is not a mapping.</summary>
    public const string NotAMapping = "SBX4002";

    public const string VersionMissing = "SBX4003";
    public const string VersionUnknown = "SBX4004";
    public const string UnknownKey = "SBX4005";

    /// <summary>A value has the wrong shape: a list where a string belongs, a non-boolean, a non-integer, no value at all.</summary>
    public const string WrongType = "SBX4006";

    /// <summary>A value is not one of the names allowed there (base, network, seccomp, test.isolation).</summary>
    public const string InvalidChoice = "SBX4007";

    /// <summary>A size, CPU count or duration that does not parse, is zero or negative, or overflows.</summary>
    public const string InvalidQuantity = "SBX4008";

    public const string HostPathMissing = "SBX4009";

    /// <summary>A container path (target, workdir) that is not absolute or contains '..'.</summary>
    public const string ContainerPathInvalid = "SBX4010";

    /// <summary>Two of mounts, tmpfs and files name the same container path.</summary>
    public const string DuplicateTarget = "SBX4011";

    /// <summary>A mount or tmpfs over the container's root directory.</summary>
    public const string TargetIsRoot = "SBX4012";

    public const string RequiredKeyMissing = "SBX4013";
    public const string InvalidHostname = "SBX4014";
    public const string InvalidEnvName = "SBX4015";

    /// <summary>One variable both set by the spec and passed from the host.</summary>
    public const string EnvConflict = "SBX4016";

    public const string CapabilityUnknown = "SBX4017";

    /// <summary>The same entry twice in a list (capabilities, env.pass).</summary>
    public const string DuplicateEntry = "SBX4018";

    public const string InvalidAddress = "SBX4019";
    public const string InvalidMode = "SBX4020";

    /// <summary>An empty list or an empty string where something is needed (command, build inputs and outputs).</summary>
    public const string EmptyValue = "SBX4021";

    /// <summary>A build output that is absolute or reaches outside the spec's directory with '..'.</summary>
    public const string PathEscapes = "SBX4022";

    /// <summary>An integer outside its range (uid, gid, pids, test.parallel).</summary>
    public const string OutOfRange = "SBX4023";

    /// <summary>The sandbox.yaml itself cannot be read.</summary>
    public const string FileUnreadable = "SBX4024";
}
