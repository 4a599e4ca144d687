using System.Buffers.Binary;

namespace Fulcrum.Vrrp;

/// <summary>
/// A view over a VRRP message (the IP payload), version 2 (RFC 3768 §5.1) or 3 (RFC 5798 §5.1), IPv4:
/// <code>
///  0                   1                   2                   3
/// |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
/// v2: |   Auth Type   |   Adver Int   |          Checksum             |
/// v3: |(rsvd) |     Max Adver Int     |          Checksum             |
/// |                      IPv4 address(es)                         |
/// v2 only: Authentication Data (8 octets; keepalived's PASS puts the password here)
/// </code>
/// <see cref="TryCreate"/> checks only that the fixed header, the addresses and (v2) the auth data fit;
/// <see cref="VrrpCodec.Validate"/> does the receive checks.
/// </summary>
public readonly ref struct VrrpPacket
{
    public const int HeaderLength = 8;
    public const int AuthDataLength = 8;
    public const byte TypeAdvertisement = 1;
    public const byte PriorityOwner = 255;
    public const byte PriorityStop = 0;

    private readonly Span<byte> _b;

    private VrrpPacket(Span<byte> b) => _b = b;

    /// <summary>False if the bytes are shorter than the header plus its addresses (plus auth data for v2).</summary>
    public static bool TryCreate(Span<byte> message, out VrrpPacket packet)
    {
        packet = default;
        if (message.Length < HeaderLength)
            return false;
        int version = message[0] >> 4;
        if (message.Length < LengthOf(version, message[3]))
            return false;
        packet = new VrrpPacket(message);
        return true;
    }

    /// <summary>The message length for <paramref name="addressCount"/> IPv4 addresses: v2 carries 8 bytes of auth data.</summary>
    public static int LengthOf(int version, int addressCount) =>
        HeaderLength + (addressCount * 4) + (version == 2 ? AuthDataLength : 0);

    public int Version => _b[0] >> 4;

    public int Type => _b[0] & 0xF;

    public byte VirtualRouterId => _b[1];

    public byte Priority => _b[2];

    public byte AddressCount => _b[3];

    /// <summary>v2: 0 none, 1 simple text password (RFC 2338, kept by keepalived), 2 IP AH.</summary>
    public byte AuthType => _b[4];

    /// <summary>v2: the advertisement interval in whole seconds.</summary>
    public byte AdvertIntervalSeconds => _b[5];

    /// <summary>v3: Max Adver Int in centiseconds, the low 12 bits (the top 4 are reserved).</summary>
    public int MaxAdvertIntervalCentiseconds => BinaryPrimitives.ReadUInt16BigEndian(_b[4..]) & 0xFFF;

    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(_b[6..]);

    /// <summary>The i-th IPv4 address, host order.</summary>
    public uint GetAddress(int index) => BinaryPrimitives.ReadUInt32BigEndian(_b[(HeaderLength + (index * 4))..]);

    /// <summary>v2: the 8 bytes after the addresses.</summary>
    public ReadOnlySpan<byte> AuthData => _b.Slice(HeaderLength + (AddressCount * 4), AuthDataLength);

    /// <summary>The message bytes: header, addresses and (v2) auth data.</summary>
    public Span<byte> Message => _b[..LengthOf(Version, AddressCount)];
}
