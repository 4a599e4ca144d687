using System.Buffers.Binary;
using System.Net.Sockets;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>Control-plane AF_PACKET receive sockets, as managed <see cref="Socket"/>s (select/poll, Receive).</summary>
public static unsafe class PacketListener
{
    /// <summary>
    /// socket(AF_PACKET, SOCK_RAW, htons(<paramref name="etherType"/>)) bound to <paramref name="interfaceName"/>,
    /// in the calling thread's namespace: each Receive returns one whole Ethernet frame of that EtherType
    /// (ARP: 0x0806). For occasional frames only; the data plane uses <see cref="PacketRing"/>.
    /// </summary>
    public static Socket Open(string interfaceName, ushort etherType)
    {
        int ifIndex = NetInterface.GetIndex(interfaceName);
        ushort protocol = BinaryPrimitives.ReverseEndianness(etherType);
        int fd = Libc.Socket(Packet.AF_PACKET, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, protocol);
        if (fd < 0)
        {
            Errno.Throw($"socket(AF_PACKET, SOCK_RAW, 0x{etherType:x4})");
        }

        var handle = new SafeSocketHandle(fd, ownsHandle: true);
        var address = new sockaddr_ll
        {
            sll_family = Packet.AF_PACKET,
            sll_protocol = protocol,
            sll_ifindex = ifIndex,
        };
        if (Libc.Bind(fd, &address, (uint)sizeof(sockaddr_ll)) != 0)
        {
            handle.Dispose();
            Errno.Throw($"bind(AF_PACKET, {interfaceName})");
        }

        return new Socket(handle) { Blocking = false };
    }
}
