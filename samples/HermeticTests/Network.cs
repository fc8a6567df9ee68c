using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace HermeticTests;

/// <summary>
/// The host's loopback is not the sandbox's: run.sh starts a listener on the host's 127.0.0.1 and writes its port to
/// <see cref="PortFile"/> in the output directory, which the sandbox sees (copy-on-write) at its own path. Unsandboxed
/// this test connects and passes; sandboxed it fails, and its message names the address it could not reach.
/// </summary>
public class Network
{
    /// <summary>Written by run.sh after the build; the host's environment does not reach the sandbox, files of the output directory do.</summary>
    public const string PortFile = "hermetic-listener.port";

    [Fact]
    public async Task Connects_to_a_listener_on_the_hosts_loopback()
    {
        var portFile = Path.Combine(AppContext.BaseDirectory, PortFile);
        Assert.True(File.Exists(portFile), $"{portFile} is missing: run.sh starts the host's listener and writes its port there");
        var port = int.Parse(File.ReadAllText(portFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var address = new IPEndPoint(IPAddress.Loopback, port);
        var step = "socket(AF_INET)";
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            step = "connect()";
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(address, timeout.Token);
            var buffer = new byte[64];
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.Equal("hello from the host\n", Encoding.ASCII.GetString(buffer, 0, read));
        }
        catch (SocketException e)
        {
            // Under sandbox.yaml's `seccomp: hermetic` the socket itself is refused; under `default`, connect() reaches
            // the sandbox's own loopback, where nothing listens.
            var why = step == "connect()"
                ? "the sandbox has its own loopback, and the host's listener is not on it"
                : "the sandbox's seccomp profile allows no IP socket (and its loopback is not the host's)";
            Assert.Fail($"connection to {address} refused: {step} failed with {e.SocketErrorCode} ({e.Message}): {why}");
        }
    }
}
