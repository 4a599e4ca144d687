using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Balancing;

namespace Fulcrum.Sync;

/// <summary>
/// The sync daemons' UDP socket, set up as make_send_sock/make_receive_sock do: tied to the multicast
/// interface, TTL (hop limit) from the config, no loopback of our own multicast, member of the group.
/// Unlike the kernel, MASTER and BACKUP both bind the sync port (with SO_REUSEADDR): the MASTER to hear
/// resync requests, the BACKUP to hear unicast peers as well as the group.
/// </summary>
internal static class SyncSockets
{
    // Linux socket options the managed enums do not cover (or cover ambiguously); values from
    // include/uapi/asm-generic/socket.h and include/uapi/linux/in.h.
    private const int SolSocket = 1;
    private const int SoBindToDevice = 25;
    private const int IpProtoIp = 0;
    private const int IpMulticastIf = 32;
    private const int IpAddMembership = 35;

    public static Socket Open(SyncDaemonConfig config, int ifIndex)
    {
        var group = config.Group ?? SyncCodec.DefaultGroup;
        bool v6 = group.AddressFamily == AddressFamily.InterNetworkV6;
        var s = new Socket(group.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            s.SetRawSocketOption(SolSocket, SoBindToDevice, Encoding.ASCII.GetBytes(config.Interface + "\0"));
            s.SendBufferSize = 1 << 20;
            s.ReceiveBufferSize = 4 << 20;
            if (v6)
            {
                s.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastInterface, ifIndex);
                s.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, config.Ttl);
                s.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, false);
                s.Bind(new IPEndPoint(IPAddress.IPv6Any, config.Port));
                s.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(group, ifIndex));
            }
            else
            {
                s.SetRawSocketOption(IpProtoIp, IpMulticastIf, Mreqn(IPAddress.Any, ifIndex));
                s.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, config.Ttl);
                s.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, false);
                s.Bind(new IPEndPoint(IPAddress.Any, config.Port));
                s.SetRawSocketOption(IpProtoIp, IpAddMembership, Mreqn(group, ifIndex));
            }
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <summary>struct ip_mreqn: multicast address, local address (any), interface index.</summary>
    private static byte[] Mreqn(IPAddress group, int ifIndex)
    {
        var b = new byte[12];
        group.TryWriteBytes(b, out _);
        BitConverter.TryWriteBytes(b.AsSpan(8), ifIndex); // imr_ifindex is a host-order int
        return b;
    }

    /// <summary>Where a message goes: the group, then every unicast peer (port 0: the sync port).</summary>
    public static List<IPEndPoint> Destinations(SyncDaemonConfig config)
    {
        var list = new List<IPEndPoint> { new(config.Group ?? SyncCodec.DefaultGroup, config.Port) };
        foreach (var p in config.Peers)
            list.Add(p.Port == 0 ? new IPEndPoint(p.Address, config.Port) : p);
        return list;
    }
}
