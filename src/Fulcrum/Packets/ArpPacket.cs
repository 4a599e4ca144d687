using System.Buffers.Binary;

namespace Fulcrum.Packets;

/// <summary>
/// A view over an ARP packet for IPv4 over Ethernet (RFC 826: htype 1, ptype 0x0800, hlen 6, plen 4).
/// Other hardware/protocol combinations are refused by <see cref="TryCreate"/>.
/// </summary>
public readonly ref struct ArpPacket
{
    public const int Length = 28;
    public const ushort OperationRequest = 1;
    public const ushort OperationReply = 2;

    private readonly Span<byte> _b;

    private ArpPacket(Span<byte> b) => _b = b;

    /// <summary>Creates a view over the L3 payload; false if it is short or not Ethernet/IPv4 ARP.</summary>
    public static bool TryCreate(Span<byte> payload, out ArpPacket arp)
    {
        arp = default;
        if (payload.Length < Length
            || BinaryPrimitives.ReadUInt16BigEndian(payload) != 1
            || BinaryPrimitives.ReadUInt16BigEndian(payload[2..]) != EtherTypes.Ipv4
            || payload[4] != 6
            || payload[5] != 4)
            return false;
        arp = new ArpPacket(payload);
        return true;
    }

    /// <summary>Writes the fixed Ethernet/IPv4 preamble (htype, ptype, hlen, plen) into a 28-byte buffer.</summary>
    public static void WriteEthernetIpv4Preamble(Span<byte> payload)
    {
        BinaryPrimitives.WriteUInt16BigEndian(payload, 1);
        BinaryPrimitives.WriteUInt16BigEndian(payload[2..], EtherTypes.Ipv4);
        payload[4] = 6;
        payload[5] = 4;
    }

    public ushort Operation
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[6..], value);
    }

    public Span<byte> SenderHardwareAddress => _b.Slice(8, 6);

    /// <summary>Sender IPv4 address, host order.</summary>
    public uint SenderProtocolAddress
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_b[14..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_b[14..], value);
    }

    public Span<byte> TargetHardwareAddress => _b.Slice(18, 6);

    /// <summary>Target IPv4 address, host order.</summary>
    public uint TargetProtocolAddress
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_b[24..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_b[24..], value);
    }

    /// <summary>Sender MAC as a 48-bit number.</summary>
    public ulong SenderMac
    {
        get => EthernetFrame.ReadMac(_b[8..]);
        set => EthernetFrame.WriteMac(_b[8..], value);
    }

    /// <summary>Target MAC as a 48-bit number.</summary>
    public ulong TargetMac
    {
        get => EthernetFrame.ReadMac(_b[18..]);
        set => EthernetFrame.WriteMac(_b[18..], value);
    }
}
