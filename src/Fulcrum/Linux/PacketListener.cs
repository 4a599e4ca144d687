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

    /// <summary>
    /// An IPv6 listener on <paramref name="interfaceName"/> that the kernel lets only ICMPv6 Neighbor
    /// Advertisements through (a classic BPF socket filter): the VRRP thread must see NAs for its addresses,
    /// not a copy of every IPv6 packet the director forwards.
    /// </summary>
    public static Socket OpenNeighborAdvertisements(string interfaceName)
    {
        var socket = Open(interfaceName, EtherTypeIpv6);
        try
        {
            Attach(socket, NeighborAdvertisementProgram());
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private const ushort EtherTypeIpv6 = 0x86DD;

    /// <summary>
    /// Accepts Ethernet + IPv6 whose next header is ICMPv6 (58) of type 136 (RFC 4861 §4.4); NAs carry no
    /// extension headers (a router sends them with hop limit 255 straight from ICMPv6), so fixed offsets do.
    /// </summary>
    internal static sock_filter[] NeighborAdvertisementProgram() =>
    [
        new(Cbpf.BPF_LD | Cbpf.BPF_H | Cbpf.BPF_ABS, 0, 0, 12),
        new(Cbpf.BPF_JMP | Cbpf.BPF_JEQ | Cbpf.BPF_K, 0, 5, EtherTypeIpv6),
        new(Cbpf.BPF_LD | Cbpf.BPF_B | Cbpf.BPF_ABS, 0, 0, 14 + 6),
        new(Cbpf.BPF_JMP | Cbpf.BPF_JEQ | Cbpf.BPF_K, 0, 3, 58),
        new(Cbpf.BPF_LD | Cbpf.BPF_B | Cbpf.BPF_ABS, 0, 0, 14 + 40),
        new(Cbpf.BPF_JMP | Cbpf.BPF_JEQ | Cbpf.BPF_K, 0, 1, 136),
        new(Cbpf.BPF_RET | Cbpf.BPF_K, 0, 0, 0xFFFF),
        new(Cbpf.BPF_RET | Cbpf.BPF_K, 0, 0, 0),
    ];

    private static void Attach(Socket socket, sock_filter[] program)
    {
        fixed (sock_filter* insns = program)
        {
            var fprog = new sock_fprog { len = (ushort)program.Length, filter = insns };
            if (Libc.SetSockOpt((int)socket.Handle, Libc.SOL_SOCKET, Libc.SO_ATTACH_FILTER, &fprog, (uint)sizeof(sock_fprog)) != 0)
                Errno.Throw("setsockopt(SO_ATTACH_FILTER)");
        }
    }
}
