using System.Text;
using Sandbox.Runtime.Interop;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>
/// Text to a file descriptor with plain write(2). System.Console would initialise terminal and signal handling
/// (a thread, dozens of sigactions) on first write, which `sandbox` neither needs nor can afford at start-up.
/// </summary>
internal sealed unsafe class FdWriter(int fd) : TextWriter
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
        var bytes = Encoding.UTF8.GetBytes(value);
        fixed (byte* p = bytes)
        {
            var done = 0;
            while (done < bytes.Length)
            {
                var n = (nint)LibC.write(fd, p + done, bytes.Length - done);
                if (n < 0 && LibC.errno == LibC.EINTR)
                {
                    continue;
                }
                if (n <= 0)
                {
                    return; // a closed stdout is not worth failing the run for
                }
                done += (int)n;
            }
        }
    }

    public override void WriteLine(string? value) => Write(value + "\n");
}
