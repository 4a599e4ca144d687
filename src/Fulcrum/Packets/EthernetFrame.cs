using System.Buffers.Binary;

namespace Fulcrum.Packets;

/// <summary>
/// A view over an Ethernet II frame, skipping at most one IEEE 802.1Q tag (0x8100). Stacked tags
/// (QinQ) are not unwrapped: the inner 0x8100/0x88A8 is reported as the EtherType, so the frame is
/// "not ours" rather than misparsed.
/// </summary>
public readonly ref struct EthernetFrame
{
    /// <summary>Destination MAC, source MAC, EtherType.</summary>
    public const int HeaderLength = 14;

    /// <summary>Header length behind one 802.1Q tag (4 more bytes: TPID 0x8100 + TCI).</summary>
    public const int TaggedHeaderLength = 18;

    private readonly Span<byte> _b;
    private readonly int _payloadOffset;

    private EthernetFrame(Span<byte> b, int payloadOffset)
    {
        _b = b;
        _payloadOffset = payloadOffset;
    }

    /// <summary>False when the frame is shorter than its Ethernet header (including a tag, if any).</summary>
    public static bool TryCreate(Span<byte> frame, out EthernetFrame ethernet)
    {
        ethernet = default;
        if (frame.Length < HeaderLength)
            return false;
        int offset = HeaderLength;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == EtherTypes.Vlan)
        {
            if (frame.Length < TaggedHeaderLength)
                return false;
            offset = TaggedHeaderLength;
        }
        ethernet = new EthernetFrame(frame, offset);
        return true;
    }

    /// <summary>The whole frame this view was created over.</summary>
    public Span<byte> Frame => _b;

    /// <summary>The 6 destination MAC bytes, writable in place.</summary>
    public Span<byte> Destination => _b[..6];

    /// <summary>The 6 source MAC bytes, writable in place.</summary>
    public Span<byte> Source => _b.Slice(6, 6);

    /// <summary>Destination MAC as a 48-bit number (first wire byte most significant).</summary>
    public ulong DestinationMac
    {
        get => ReadMac(_b);
        set => WriteMac(_b, value);
    }

    /// <summary>Source MAC as a 48-bit number (first wire byte most significant).</summary>
    public ulong SourceMac
    {
        get => ReadMac(_b[6..]);
        set => WriteMac(_b[6..], value);
    }

    /// <summary>True when one 802.1Q tag sits between the source MAC and the EtherType.</summary>
    public bool HasVlanTag => _payloadOffset == TaggedHeaderLength;

    /// <summary>The 802.1Q tag control information (PCP, DEI, VID); 0 when untagged.</summary>
    public ushort VlanTci => HasVlanTag ? BinaryPrimitives.ReadUInt16BigEndian(_b[14..]) : (ushort)0;

    /// <summary>The 12-bit VLAN id; 0 when untagged.</summary>
    public ushort VlanId => (ushort)(VlanTci & 0x0FFF);

    /// <summary>The EtherType of the payload (the inner one behind a tag).</summary>
    public ushort EtherType
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_b[(_payloadOffset - 2)..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_b[(_payloadOffset - 2)..], value);
    }

    /// <summary>Offset of the L3 header in the frame: 14, or 18 behind a tag.</summary>
    public int PayloadOffset => _payloadOffset;

    /// <summary>The bytes after the Ethernet header (may include Ethernet padding).</summary>
    public Span<byte> Payload => _b[_payloadOffset..];

    /// <summary>Reads a MAC from the first 6 bytes of <paramref name="source"/>.</summary>
    public static ulong ReadMac(ReadOnlySpan<byte> source) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(source) << 32) | BinaryPrimitives.ReadUInt32BigEndian(source[2..6]);

    /// <summary>Writes the low 48 bits of <paramref name="mac"/> into the first 6 bytes of <paramref name="destination"/>.</summary>
    public static void WriteMac(Span<byte> destination, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..6], (uint)mac);
    }

    /// <summary>Copies a 6-byte MAC into the destination field (the DR rewrite).</summary>
    public void SetDestination(ReadOnlySpan<byte> mac) => mac[..6].CopyTo(_b);

    /// <summary>Copies a 6-byte MAC into the source field.</summary>
    public void SetSource(ReadOnlySpan<byte> mac) => mac[..6].CopyTo(_b[6..]);
}
