using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Lab;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Infrastructure;

/// <summary>
/// A keep-alive HTTP connection from the lab's client to VIP:80 that a test holds open while it changes
/// the director (weights, thresholds, drains). The socket is created inside the client's namespace and
/// stays there whichever thread uses it.
/// </summary>
public static class KeepAliveClient
{
    /// <summary>Connects to <paramref name="vip"/>:80 (the IPv4 VIP unless given; the IPv6 one needs a lab with IPv6).</summary>
    public static Socket Open(LabCluster lab, IPAddress? vip = null) => NetworkNamespace.RunIn(lab.NamespaceOf("client"), () =>
    {
        var to = vip ?? LabAddresses.Vip;
        var s = new Socket(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 3000, SendTimeout = 3000 };
        s.Connect(new IPEndPoint(to, 80));
        return s;
    });

    /// <summary>One GET on the open connection; returns the body (the real server's name).</summary>
    public static string Get(Socket socket)
    {
        socket.Send(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: vip\r\n\r\n"));
        var buffer = new byte[4096];
        int total = 0;
        while (true)
        {
            int n = socket.Receive(buffer, total, buffer.Length - total, SocketFlags.None);
            Assert.True(n > 0, "the director or real server closed the keep-alive connection");
            total += n;
            var text = Encoding.ASCII.GetString(buffer, 0, total);
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
            {
                continue;
            }

            var lengthLine = text[..end].Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            int length = int.Parse(lengthLine["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture);
            if (total >= end + 4 + length)
            {
                return text.Substring(end + 4, length).Trim();
            }
        }
    }
}
