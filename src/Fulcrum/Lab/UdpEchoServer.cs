using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;

namespace Fulcrum.Lab;

/// <summary>
/// The lab's UDP echo real server: answers every datagram with "&lt;name&gt;\n" + the payload, so a
/// test sees which real server a packet reached. Binds one socket per local address (the VIP on lo
/// included) rather than one on 0.0.0.0, because in DR a reply must leave from the VIP it was sent
/// to, and a wildcard socket would answer from the real server's own address.
/// </summary>
public static class UdpEchoServer
{
    /// <summary>Serves on every local address until <paramref name="cancellationToken"/> fires; returns the process exit code.</summary>
    public static int Run(int port, string name, CancellationToken cancellationToken) =>
        Run(port, name, LocalAddresses(), cancellationToken);

    /// <summary>Serves on the given addresses only.</summary>
    public static int Run(int port, string name, IReadOnlyList<IPAddress> addresses, CancellationToken cancellationToken)
    {
        var sockets = new List<Socket>();
        try
        {
            foreach (var address in addresses)
            {
                var s = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                sockets.Add(s);
                s.Bind(new IPEndPoint(address, port));
            }

            if (sockets.Count == 0)
            {
                Console.Error.WriteLine("udp-echo: no local address to bind");
                return 1;
            }

            var prefix = Encoding.ASCII.GetBytes(name + "\n");
            var loops = new Task[sockets.Count];
            for (int i = 0; i < sockets.Count; i++)
            {
                loops[i] = EchoAsync(sockets[i], prefix, cancellationToken);
            }

            Task.WaitAll(loops, CancellationToken.None);
            return 0;
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"udp-echo: {e.Message}");
            return 1;
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
        }
    }

    private static async Task EchoAsync(Socket socket, byte[] prefix, CancellationToken cancellationToken)
    {
        var buffer = new byte[prefix.Length + 65536];
        prefix.CopyTo(buffer, 0);
        EndPoint any = socket.AddressFamily == AddressFamily.InterNetworkV6
            ? new IPEndPoint(IPAddress.IPv6Any, 0)
            : new IPEndPoint(IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var r = await socket.ReceiveFromAsync(buffer.AsMemory(prefix.Length), SocketFlags.None, any, cancellationToken);
                await socket.SendToAsync(buffer.AsMemory(0, prefix.Length + r.ReceivedBytes), SocketFlags.None, r.RemoteEndPoint, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                // One client's failure (no route back, ICMP errors) must not stop the server.
            }
        }
    }

    private static List<IPAddress> LocalAddresses()
    {
        var list = new List<IPAddress>();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            foreach (var a in nic.GetIPProperties().UnicastAddresses)
            {
                // Link-local IPv6 needs a scope per interface and is never a service address.
                if (!a.Address.IsIPv6LinkLocal)
                {
                    list.Add(a.Address);
                }
            }
        }

        return list;
    }
}
