using System.Buffers.Binary;
using Fulcrum.Packets;

namespace Fulcrum.Vrrp;

/// <summary>
/// The gratuitous ARP a new MASTER broadcasts for each virtual address (RFC 3768 §6.4.1, RFC 5227 §3): an
/// ARP request from the interface's MAC, sender and target protocol address both the virtual address,
/// target hardware address broadcast, as keepalived's send_gratuitous_arp builds it.
/// </summary>
public static class GratuitousArp
{
    public const int FrameLength = EthernetFrame.HeaderLength + ArpPacket.Length;

    private const ulong Broadcast = 0xFFFF_FFFF_FFFF;

    /// <summary>Writes the 42-byte frame for <paramref name="address"/> (host order) from <paramref name="mac"/>.</summary>
    public static int Write(Span<byte> frame, ulong mac, uint address)
    {
        Span<byte> f = frame[..FrameLength];
        EthernetFrame.WriteMac(f, Broadcast);
        EthernetFrame.WriteMac(f[6..], mac);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], EtherTypes.Arp);
        Span<byte> payload = f[EthernetFrame.HeaderLength..];
        ArpPacket.WriteEthernetIpv4Preamble(payload);
        ArpPacket.TryCreate(payload, out var arp);
        arp.Operation = ArpPacket.OperationRequest;
        arp.SenderMac = mac;
        arp.SenderProtocolAddress = address;
        arp.TargetMac = Broadcast;
        arp.TargetProtocolAddress = address;
        return FrameLength;
    }
}
