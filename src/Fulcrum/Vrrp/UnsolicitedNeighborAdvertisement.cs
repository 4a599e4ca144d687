using System.Buffers.Binary;
using Fulcrum.Packets;

namespace Fulcrum.Vrrp;

/// <summary>
/// The unsolicited Neighbor Advertisement a new IPv6 MASTER sends for each virtual address (RFC 5798 §6.4.1
/// via RFC 4861 §7.2.6), as Linux's ndisc_send_unsol_na builds it: from the address itself to all-nodes
/// ff02::1, hop limit 255, Override set and Solicited clear, with a Target Link-Layer Address option.
/// Router is clear: a director is a host on this link (it forwards at layer 2 only).
/// </summary>
public static class UnsolicitedNeighborAdvertisement
{
    /// <summary>Ethernet 14 + IPv6 40 + NA 24 + TLLA option 8.</summary>
    public const int FrameLength = EthernetFrame.HeaderLength + IcmpOffset + MessageLength;

    public const byte TypeNeighborAdvertisement = 136;
    public const uint FlagOverride = 0x2000_0000;

    /// <summary>ff02::1, all nodes on the link.</summary>
    public static readonly UInt128 AllNodes = new(0xFF02_0000_0000_0000, 1);

    private const int IcmpOffset = 40;
    private const int MessageLength = 32;
    private const ushort EtherTypeIpv6 = 0x86DD;
    private const byte NextHeaderIcmpv6 = 58;

    /// <summary>Writes the frame for <paramref name="target"/> from <paramref name="mac"/>; returns its length.</summary>
    public static int Write(Span<byte> frame, ulong mac, UInt128 target)
    {
        Span<byte> f = frame[..FrameLength];
        f.Clear();

        // 33:33 + the low 32 bits of ff02::1 (RFC 2464 §7).
        EthernetFrame.WriteMac(f, 0x3333_0000_0001);
        EthernetFrame.WriteMac(f[6..], mac);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], EtherTypeIpv6);

        Span<byte> ip = f[EthernetFrame.HeaderLength..];
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], MessageLength);
        ip[6] = NextHeaderIcmpv6;
        ip[7] = 255;
        BinaryPrimitives.WriteUInt128BigEndian(ip[8..], target);
        BinaryPrimitives.WriteUInt128BigEndian(ip[24..], AllNodes);

        Span<byte> na = ip[IcmpOffset..];
        na[0] = TypeNeighborAdvertisement;
        BinaryPrimitives.WriteUInt32BigEndian(na[4..], FlagOverride);
        BinaryPrimitives.WriteUInt128BigEndian(na[8..], target);
        na[24] = 2;   // Target Link-Layer Address
        na[25] = 1;   // in units of 8 octets
        EthernetFrame.WriteMac(na[26..], mac);

        uint pseudo = PseudoHeaderSum(target, AllNodes, MessageLength, NextHeaderIcmpv6);
        BinaryPrimitives.WriteUInt16BigEndian(na[2..], Checksum.Finish(Checksum.Add(na[..MessageLength], pseudo)));
        return FrameLength;
    }

    /// <summary>
    /// True when <paramref name="frame"/> is a valid Neighbor Advertisement (RFC 4861 §7.1.2: hop limit 255,
    /// code 0) whose target is one of <paramref name="addresses"/>, sent by a MAC other than
    /// <paramref name="ourMac"/> (the frame's source, and the Target Link-Layer Address option when present):
    /// another host answers for our virtual address, IPv6's counterpart of <see cref="GratuitousArp.IsConflict"/>.
    /// </summary>
    public static bool IsConflict(ReadOnlySpan<byte> frame, IReadOnlyList<UInt128> addresses, ulong ourMac, out UInt128 address, out ulong claimant)
    {
        address = 0;
        claimant = 0;
        const int Na = EthernetFrame.HeaderLength + IcmpOffset;
        if (frame.Length < Na + 24 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherTypeIpv6)
            return false;
        var ip = frame[EthernetFrame.HeaderLength..];
        if ((ip[0] >> 4) != 6 || ip[6] != NextHeaderIcmpv6 || ip[7] != 255 || frame[Na] != TypeNeighborAdvertisement || frame[Na + 1] != 0)
            return false;
        claimant = EthernetFrame.ReadMac(frame[6..]);
        int end = Math.Min(frame.Length, Na + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
        for (int o = Na + 24; o + 8 <= end && frame[o + 1] != 0; o += frame[o + 1] * 8)
        {
            if (frame[o] == 2)
                claimant = EthernetFrame.ReadMac(frame[(o + 2)..]);
        }

        if (claimant == ourMac || EthernetFrame.ReadMac(frame[6..]) == ourMac)
            return false;
        var target = BinaryPrimitives.ReadUInt128BigEndian(frame[(Na + 8)..]);
        for (int i = 0; i < addresses.Count; i++)
        {
            if (addresses[i] == target)
            {
                address = target;
                return true;
            }
        }

        return false;
    }

    internal static uint PseudoHeaderSum(UInt128 source, UInt128 destination, int length, byte nextHeader)
    {
        Span<byte> pseudo = stackalloc byte[40];
        pseudo.Clear();
        BinaryPrimitives.WriteUInt128BigEndian(pseudo, source);
        BinaryPrimitives.WriteUInt128BigEndian(pseudo[16..], destination);
        BinaryPrimitives.WriteInt32BigEndian(pseudo[32..], length);
        pseudo[39] = nextHeader;
        return Checksum.Add(pseudo);
    }
}
