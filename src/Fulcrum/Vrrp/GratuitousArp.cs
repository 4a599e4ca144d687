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

    /// <summary>
    /// True when <paramref name="frame"/> is an ARP packet (request or reply) whose sender claims one of
    /// <paramref name="addresses"/> from a MAC other than <paramref name="ourMac"/>: someone else answers
    /// for our virtual address (a split brain, or a stale peer after a kill), so hosts may be sending to it.
    /// </summary>
    public static bool IsConflict(Span<byte> frame, IReadOnlyList<uint> addresses, ulong ourMac, out uint address)
    {
        address = 0;
        if (!EthernetFrame.TryCreate(frame, out var eth) || eth.EtherType != EtherTypes.Arp || !ArpPacket.TryCreate(eth.Payload, out var arp))
            return false;
        if (arp.SenderMac == ourMac)
            return false;
        uint sender = arp.SenderProtocolAddress;
        for (int i = 0; i < addresses.Count; i++)
        {
            if (addresses[i] == sender)
            {
                address = sender;
                return true;
            }
        }

        return false;
    }

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
