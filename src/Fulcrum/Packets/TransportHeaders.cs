using System.Buffers.Binary;

namespace Fulcrum.Packets;

/// <summary>A view over a TCP header (RFC 9293 section 3.1). Ports are host order.</summary>
public readonly ref struct TcpHeader
{
    public const int MinLength = 20;

    /// <summary>Offset of the checksum field within the header.</summary>
    public const int ChecksumOffset = 16;

    private readonly Span<byte> _b;

    private TcpHeader(Span<byte> b) => _b = b;

    /// <summary>False unless 20 &lt;= data offset*4 &lt;= the bytes given.</summary>
    public static bool TryCreate(Span<byte> segment, out TcpHeader header)
    {
        header = default;
        if (segment.Length < MinLength)
            return false;
        int dataOffset = (segment[12] >> 4) * 4;
        if (dataOffset < MinLength || dataOffset > segment.Length)
            return false;
        header = new TcpHeader(segment);
        return true;
    }

    public ushort SourcePort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b, value);
    }

    public ushort DestinationPort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[2..], value);
    }

    public uint SequenceNumber
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_b[4..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_b[4..], value);
    }

    public uint AcknowledgmentNumber
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_b[8..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_b[8..], value);
    }

    /// <summary>Header length in 32-bit words. Setting it keeps the 4 reserved bits.</summary>
    public int DataOffset
    {
        get => _b[12] >> 4;
        set => _b[12] = (byte)((_b[12] & 0x0F) | ((value & 0xF) << 4));
    }

    /// <summary>Header length in bytes (data offset*4), options included.</summary>
    public int HeaderLength => (_b[12] >> 4) * 4;

    /// <summary>The flags byte; see <see cref="TcpFlags"/>.</summary>
    public byte Flags
    {
        get => _b[13];
        set => _b[13] = value;
    }

    public ushort Window
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[14..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[14..], value);
    }

    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[ChecksumOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[ChecksumOffset..], value);
    }

    public ushort UrgentPointer
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[18..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[18..], value);
    }
}

/// <summary>A view over a UDP header (RFC 768). Ports are host order.</summary>
public readonly ref struct UdpHeader
{
    public const int Length = 8;

    /// <summary>Offset of the checksum field within the header.</summary>
    public const int ChecksumOffset = 6;

    private readonly Span<byte> _b;

    private UdpHeader(Span<byte> b) => _b = b;

    /// <summary>False when fewer than 8 bytes are given. The length field is not checked.</summary>
    public static bool TryCreate(Span<byte> datagram, out UdpHeader header)
    {
        header = default;
        if (datagram.Length < Length)
            return false;
        header = new UdpHeader(datagram);
        return true;
    }

    public ushort SourcePort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b, value);
    }

    public ushort DestinationPort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[2..], value);
    }

    /// <summary>Header + data length in bytes.</summary>
    public ushort DatagramLength
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[4..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[4..], value);
    }

    /// <summary>0 means "no checksum" over IPv4 (RFC 768); a computed 0 is sent as 0xFFFF.</summary>
    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[ChecksumOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[ChecksumOffset..], value);
    }
}

/// <summary>A view over an ICMP header (RFC 792): type, code, checksum and the 4-byte rest of header.</summary>
public readonly ref struct IcmpHeader
{
    public const int Length = 8;
    public const byte TypeEchoReply = 0;
    public const byte TypeDestinationUnreachable = 3;
    public const byte TypeEchoRequest = 8;
    public const byte TypeTimeExceeded = 11;

    /// <summary>Code 4 of Destination Unreachable: fragmentation needed and DF set (RFC 1191).</summary>
    public const byte CodeFragmentationNeeded = 4;

    private readonly Span<byte> _b;

    private IcmpHeader(Span<byte> b) => _b = b;

    /// <summary>False when fewer than the 8 header bytes every ICMP message carries are given.</summary>
    public static bool TryCreate(Span<byte> message, out IcmpHeader header)
    {
        header = default;
        if (message.Length < Length)
            return false;
        header = new IcmpHeader(message);
        return true;
    }

    public byte Type
    {
        get => _b[0];
        set => _b[0] = value;
    }

    public byte Code
    {
        get => _b[1];
        set => _b[1] = value;
    }

    /// <summary>Checksum over the whole ICMP message (no pseudo-header for ICMPv4).</summary>
    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[2..], value);
    }

    /// <summary>The type-specific 4 bytes (echo id + sequence, next-hop MTU, ...).</summary>
    public uint RestOfHeader
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_b[4..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_b[4..], value);
    }
}
