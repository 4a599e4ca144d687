using System.Buffers.Binary;

namespace Fulcrum.Packets;

/// <summary>
/// A view over an IPv4 header (RFC 791). <see cref="TryCreate"/> checks version and IHL against the
/// bytes given; total length and checksum are left to the caller (<see cref="FrameClassifier"/> checks both).
/// Addresses are host order; the wire is big-endian.
/// </summary>
public readonly ref struct Ipv4Header
{
    public const int MinLength = 20;

    /// <summary>The More Fragments bit in the flags/fragment-offset word.</summary>
    public const ushort MoreFragmentsBit = 0x2000;

    /// <summary>The Don't Fragment bit in the flags/fragment-offset word.</summary>
    public const ushort DontFragmentBit = 0x4000;

    /// <summary>The 13-bit fragment offset (in 8-byte units) in the flags/fragment-offset word.</summary>
    public const ushort FragmentOffsetMask = 0x1FFF;

    private readonly Span<byte> _b;

    private Ipv4Header(Span<byte> b) => _b = b;

    /// <summary>False unless version is 4 and 20 &lt;= IHL*4 &lt;= the bytes given.</summary>
    public static bool TryCreate(Span<byte> packet, out Ipv4Header header)
    {
        header = default;
        if (packet.Length < MinLength || packet[0] >> 4 != 4)
            return false;
        int ihl = (packet[0] & 0xF) * 4;
        if (ihl < MinLength || ihl > packet.Length)
            return false;
        header = new Ipv4Header(packet);
        return true;
    }

    /// <summary>The header bytes (IHL*4), options included.</summary>
    public Span<byte> Header => _b[..HeaderLength];

    public int Version => _b[0] >> 4;

    /// <summary>Header length in 32-bit words. Setting it does not move any bytes.</summary>
    public int Ihl
    {
        get => _b[0] & 0xF;
        set => _b[0] = (byte)((_b[0] & 0xF0) | (value & 0xF));
    }

    /// <summary>Header length in bytes (IHL*4).</summary>
    public int HeaderLength => (_b[0] & 0xF) * 4;

    /// <summary>The DSCP/ECN byte (formerly TOS).</summary>
    public byte TypeOfService
    {
        get => _b[1];
        set => _b[1] = value;
    }

    public ushort TotalLength
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[2..], value);
    }

    public ushort Identification
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[4..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[4..], value);
    }

    /// <summary>The raw flags (3 bits) + fragment offset (13 bits) word.</summary>
    public ushort FlagsAndFragmentOffset
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[6..], value);
    }

    /// <summary>The 3 flag bits (reserved, DF, MF) as a number 0..7.</summary>
    public int Flags => FlagsAndFragmentOffset >> 13;

    public bool DontFragment => (FlagsAndFragmentOffset & DontFragmentBit) != 0;

    public bool MoreFragments => (FlagsAndFragmentOffset & MoreFragmentsBit) != 0;

    /// <summary>Fragment offset in 8-byte units.</summary>
    public int FragmentOffset => FlagsAndFragmentOffset & FragmentOffsetMask;

    /// <summary>True for any fragment, first or later (MF set or offset non-zero): only the first has L4 ports.</summary>
    public bool IsFragment => (FlagsAndFragmentOffset & (MoreFragmentsBit | FragmentOffsetMask)) != 0;

    public byte TimeToLive
    {
        get => _b[8];
        set => _b[8] = value;
    }

    public byte Protocol
    {
        get => _b[9];
        set => _b[9] = value;
    }

    public ushort HeaderChecksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[10..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[10..], value);
    }

    /// <summary>Source address, host order.</summary>
    public uint Source
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_b[12..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_b[12..], value);
    }

    /// <summary>Destination address, host order.</summary>
    public uint Destination
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_b[16..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_b[16..], value);
    }

    /// <summary>True when the one's complement sum over the header (checksum included) is 0xFFFF (RFC 1071).</summary>
    public bool VerifyChecksum() => Checksum.Fold(Checksum.Add(Header)) == 0xFFFF;

    /// <summary>Recomputes the header checksum from scratch.</summary>
    public void RecomputeChecksum()
    {
        HeaderChecksum = 0;
        HeaderChecksum = Checksum.Compute(Header);
    }

    /// <summary>
    /// Decrements the TTL and patches the checksum incrementally (RFC 1624 eqn. 3), as a router
    /// (ip_decrease_ttl) does. The caller checks the TTL is above 1 first.
    /// </summary>
    public void DecrementTimeToLive()
    {
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(_b[8..]);
        _b[8]--;
        HeaderChecksum = Checksum.Update16(HeaderChecksum, old, BinaryPrimitives.ReadUInt16BigEndian(_b[8..]));
    }
}
