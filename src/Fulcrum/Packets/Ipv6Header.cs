using System.Buffers.Binary;

namespace Fulcrum.Packets;

/// <summary>
/// A minimal view over the fixed IPv6 header (RFC 8200 section 3); extension headers are not walked.
/// Addresses are host-order <see cref="UInt128"/> (first wire byte most significant).
/// </summary>
public readonly ref struct Ipv6Header
{
    public const int Length = 40;

    private readonly Span<byte> _b;

    private Ipv6Header(Span<byte> b) => _b = b;

    /// <summary>False when fewer than 40 bytes are given or the version is not 6.</summary>
    public static bool TryCreate(Span<byte> packet, out Ipv6Header header)
    {
        header = default;
        if (packet.Length < Length || packet[0] >> 4 != 6)
            return false;
        header = new Ipv6Header(packet);
        return true;
    }

    public int Version => _b[0] >> 4;

    /// <summary>Length of everything after the fixed 40-byte header.</summary>
    public ushort PayloadLength
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[4..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[4..], value);
    }

    public byte NextHeader
    {
        get => _b[6];
        set => _b[6] = value;
    }

    public byte HopLimit
    {
        get => _b[7];
        set => _b[7] = value;
    }

    public UInt128 Source
    {
        get => BinaryPrimitives.ReadUInt128BigEndian(_b[8..]);
        set => BinaryPrimitives.WriteUInt128BigEndian(_b[8..], value);
    }

    public UInt128 Destination
    {
        get => BinaryPrimitives.ReadUInt128BigEndian(_b[24..]);
        set => BinaryPrimitives.WriteUInt128BigEndian(_b[24..], value);
    }
}
