namespace Sandbox;

/// <summary>
/// The one error type Sandbox shows to people: a code (SBXnnnn, listed in docs/errors.md), what failed,
/// and what to do about it.
/// </summary>
public sealed class SandboxException : Exception
{
    public SandboxException(string code, string message, string? hint = null)
        : base(message)
    {
        Code = code;
        Hint = hint;
    }

    public string Code { get; }

    public string? Hint { get; }

    public override string ToString() => Hint is null ? $"{Code}: {Message}" : $"{Code}: {Message}\n  hint: {Hint}";
}
