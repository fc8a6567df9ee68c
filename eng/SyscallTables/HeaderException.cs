namespace SyscallTables;

/// <summary>A header the generator does not understand, with the file and line when known.</summary>
internal sealed class HeaderException : Exception
{
    public HeaderException(string message)
        : base(message)
    {
    }

    public HeaderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public HeaderException()
    {
    }
}
