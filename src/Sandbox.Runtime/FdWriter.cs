using System.Text;

namespace Sandbox.Runtime;

/// <summary>
/// Text to a file descriptor with plain write(2). System.Console would initialise terminal and signal handling
/// (a thread, dozens of sigactions) on first write, which `sandbox` neither needs nor can afford at start-up.
/// </summary>
internal sealed class FdWriter(int fd) : TextWriter
{
    public static readonly FdWriter Out = new(1), Error = new(2);

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value) => Write(value.ToString());

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }
        RawFiles.WriteAll(fd, Encoding.UTF8.GetBytes(value)); // a closed stdout is not worth failing the run for
    }

    public override void WriteLine(string? value) => Write(value + "\n");
}
