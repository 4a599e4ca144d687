using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Lab;

namespace Fulcrum.Tests.Lab;

public class UdpEchoServerTests
{
    [Fact]
    public async Task Run_Datagram_AnswersNameThenPayloadFromTheAddressItWasSentTo()
    {
        int port = FreeUdpPort();
        using var cts = new CancellationTokenSource();
        var server = Task.Run(() => UdpEchoServer.Run(port, "rs9", [IPAddress.Loopback], cts.Token));
        // Unconnected, so an ICMP port unreachable sent before the server binds is not reported as an error.
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var target = new IPEndPoint(IPAddress.Loopback, port);
        try
        {
            // The server binds asynchronously: resend until the first answer.
            var receive = client.ReceiveAsync();
            for (int i = 0; i < 100 && !receive.IsCompleted; i++)
            {
                await client.SendAsync(Encoding.ASCII.GetBytes("hello"), target);
                await Task.WhenAny(receive, Task.Delay(100));
            }

            var reply = await receive.WaitAsync(TimeSpan.FromSeconds(1));
            Assert.Equal("rs9\nhello", Encoding.ASCII.GetString(reply.Buffer));
            Assert.Equal(target, reply.RemoteEndPoint);
        }
        finally
        {
            await cts.CancelAsync();
        }

        Assert.Equal(0, await server.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Run_PortTaken_ReturnsNonZero()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        Assert.Equal(1, UdpEchoServer.Run(port, "rs1", [IPAddress.Loopback], CancellationToken.None));
    }

    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
