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

    /// <summary>
    /// The message is already a listing in the compilers' form, a line <c>file:line:col: SBXnnnn: message</c> per
    /// problem, each followed by its own <c>  hint:</c> line: printed as it is, without the <c>sandbox: SBXnnnn:</c>
    /// prefix that would repeat the first problem's code.
    /// </summary>
    public bool Located { get; init; }

    public override string ToString() => Hint is null ? $"{Code}: {Message}" : $"{Code}: {Message}\n  hint: {Hint}";
}
