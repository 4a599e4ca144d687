using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Packets;

namespace Fulcrum.Tests.TestSupport;

/// <summary>
/// Builds test frames: Ethernet (optionally one 802.1Q tag) carrying IPv4 + TCP/UDP/ICMP/raw, ARP,
/// IPv6 or raw bytes. Checksums are right by default and computed here with a naive RFC 1071 loop,
/// independent of Fulcrum.Packets.Checksum, so tests of that class compare against something else.
/// The With* breakers produce the malformed frames the classifier must count and drop.
/// </summary>
/// <example><code>
/// byte[] syn = new FrameBuilder().WithIpv4("203.0.113.10", "198.51.100.1").Tcp(40000, 80, TcpFlags.Syn).Build();
/// </code></example>
public sealed class FrameBuilder
{
    private enum L3Kind { Ipv4, Arp, Ipv6, Raw }

    private enum L4Kind { Tcp, Udp, Icmp, Raw }

    private enum L4Checksum { Correct, Partial, Bad, Zero }

    private ulong _sourceMac = 0x02_00_00_00_00_01;
    private ulong _destinationMac = 0x02_00_00_00_00_02;
    private ushort? _vlanTci;
    private ushort _rawEtherType = 0x88B5; // IEEE 802 local experimental EtherType.

    private L3Kind _l3 = L3Kind.Ipv4;
    private uint _sourceIp = Ip("203.0.113.10");
    private uint _destinationIp = Ip("198.51.100.1");
    private byte _ttl = 64;
    private byte _tos;
    private ushort _identification = 0x1c46;
    private bool _dontFragment = true;
    private bool _moreFragments;
    private int _fragmentOffset;
    private int _ipOptionWords;
    private int? _ihlOverride;
    private int? _versionOverride;
    private int? _totalLengthOverride;
    private bool _badIpChecksum;

    private L4Kind _l4 = L4Kind.Tcp;
    private byte _rawProtocol = 47;
    private ushort _sourcePort = 40000;
    private ushort _destinationPort = 80;
    private byte _tcpFlags = TcpFlags.Syn;
    private uint _sequence = 1000;
    private uint _acknowledgment;
    private ushort _window = 64240;
    private int _tcpOptionWords;
    private int? _dataOffsetOverride;
    private int? _udpLengthOverride;
    private byte _icmpType = 8;
    private byte _icmpCode;
    private uint _icmpRest = 0x0001_0001;
    private L4Checksum _l4Checksum = L4Checksum.Correct;

    private ushort _arpOperation = 1;
    private ulong _arpSenderMac;
    private uint _arpSenderIp;
    private ulong _arpTargetMac;
    private uint _arpTargetIp;

    private UInt128 _sourceIp6 = Ip6("2001:db8::10");
    private UInt128 _destinationIp6 = Ip6("2001:db8::1");
    private byte _nextHeader = 59; // No Next Header (RFC 8200).
    private bool _ipv6Transport;

    private byte[] _payload = [];
    private int _padTo;
    private int? _truncateTo;

    /// <summary>Parses a dotted IPv4 address into a host-order uint.</summary>
    public static uint Ip(string dotted)
    {
        IPAddress a = IPAddress.Parse(dotted);
        if (a.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"not IPv4: {dotted}", nameof(dotted));
        return BinaryPrimitives.ReadUInt32BigEndian(a.GetAddressBytes());
    }

    /// <summary>Parses an IPv6 address into a host-order UInt128.</summary>
    public static UInt128 Ip6(string text) => BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse(text).GetAddressBytes());

    /// <summary>Parses "02:00:00:00:00:01" into a 48-bit MAC number.</summary>
    public static ulong Mac(string text)
    {
        string[] parts = text.Split(':');
        if (parts.Length != 6)
            throw new ArgumentException($"not a MAC: {text}", nameof(text));
        ulong mac = 0;
        foreach (string part in parts)
            mac = (mac << 8) | byte.Parse(part, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return mac;
    }

    // ---- Ethernet ----

    public FrameBuilder WithMacs(ulong source, ulong destination)
    {
        _sourceMac = source;
        _destinationMac = destination;
        return this;
    }

    /// <summary>Adds one 802.1Q tag (TPID 0x8100) with this VLAN id and priority.</summary>
    public FrameBuilder WithVlan(ushort vlanId, byte priority = 0)
    {
        _vlanTci = (ushort)((priority << 13) | (vlanId & 0x0FFF));
        return this;
    }

    /// <summary>Pads the frame with zeros to at least this length (60 = the Ethernet minimum without FCS).</summary>
    public FrameBuilder PadTo(int frameLength)
    {
        _padTo = frameLength;
        return this;
    }

    /// <summary>Cuts the finished frame to this many bytes (after all checksums).</summary>
    public FrameBuilder TruncateTo(int frameLength)
    {
        _truncateTo = frameLength;
        return this;
    }

    /// <summary>A frame with an arbitrary EtherType and the payload as its only content.</summary>
    public FrameBuilder WithRawEtherType(ushort etherType)
    {
        _l3 = L3Kind.Raw;
        _rawEtherType = etherType;
        return this;
    }

    // ---- L3 ----

    /// <summary>IPv4 (the default) with these host-order addresses.</summary>
    public FrameBuilder WithIpv4(uint source, uint destination)
    {
        _l3 = L3Kind.Ipv4;
        _sourceIp = source;
        _destinationIp = destination;
        return this;
    }

    public FrameBuilder WithIpv4(string source, string destination) => WithIpv4(Ip(source), Ip(destination));

    public FrameBuilder WithTtl(byte ttl)
    {
        _ttl = ttl;
        return this;
    }

    public FrameBuilder WithTypeOfService(byte tos)
    {
        _tos = tos;
        return this;
    }

    public FrameBuilder WithIdentification(ushort id)
    {
        _identification = id;
        return this;
    }

    /// <summary>Sets or clears DF (set by default, as Linux does for TCP with PMTU discovery).</summary>
    public FrameBuilder WithDontFragment(bool dontFragment)
    {
        _dontFragment = dontFragment;
        return this;
    }

    /// <summary>Adds this many 32-bit words of IPv4 options (NOPs ending with EOL), raising IHL to match.</summary>
    public FrameBuilder WithIpOptions(int words)
    {
        _ipOptionWords = words;
        return this;
    }

    /// <summary>An ARP packet (Ethernet/IPv4) instead of IP.</summary>
    public FrameBuilder Arp(ushort operation, ulong senderMac, uint senderIp, ulong targetMac, uint targetIp)
    {
        _l3 = L3Kind.Arp;
        _arpOperation = operation;
        _arpSenderMac = senderMac;
        _arpSenderIp = senderIp;
        _arpTargetMac = targetMac;
        _arpTargetIp = targetIp;
        return this;
    }

    /// <summary>
    /// IPv6 carrying the builder's L4 (TCP by default; Udp/Tcp choose), with the IPv6 pseudo-header in its
    /// checksum (RFC 8200 section 8.1). <see cref="WithIpVersion"/> and <see cref="WithTotalLength"/> (the
    /// payload length field here) break it.
    /// </summary>
    public FrameBuilder WithIpv6(string source, string destination)
    {
        _l3 = L3Kind.Ipv6;
        _ipv6Transport = true;
        _sourceIp6 = Ip6(source);
        _destinationIp6 = Ip6(destination);
        return this;
    }

    /// <summary>An IPv6 packet whose payload is the builder's payload bytes.</summary>
    public FrameBuilder Ipv6(UInt128 source, UInt128 destination, byte nextHeader = 59)
    {
        _l3 = L3Kind.Ipv6;
        _ipv6Transport = false;
        _sourceIp6 = source;
        _destinationIp6 = destination;
        _nextHeader = nextHeader;
        return this;
    }

    // ---- L4 ----

    /// <summary>TCP (the default: 40000 → 80, SYN). ACK in flags sets the acknowledgment number to 1 unless given.</summary>
    public FrameBuilder Tcp(ushort sourcePort, ushort destinationPort, byte flags = TcpFlags.Syn)
    {
        _l4 = L4Kind.Tcp;
        _sourcePort = sourcePort;
        _destinationPort = destinationPort;
        _tcpFlags = flags;
        if ((flags & TcpFlags.Ack) != 0 && _acknowledgment == 0)
            _acknowledgment = 1;
        return this;
    }

    public FrameBuilder WithSequence(uint sequence, uint acknowledgment)
    {
        _sequence = sequence;
        _acknowledgment = acknowledgment;
        return this;
    }

    public FrameBuilder WithWindow(ushort window)
    {
        _window = window;
        return this;
    }

    /// <summary>Adds this many 32-bit words of TCP options (NOPs), raising the data offset to match.</summary>
    public FrameBuilder WithTcpOptions(int words)
    {
        _tcpOptionWords = words;
        return this;
    }

    public FrameBuilder Udp(ushort sourcePort, ushort destinationPort)
    {
        _l4 = L4Kind.Udp;
        _sourcePort = sourcePort;
        _destinationPort = destinationPort;
        return this;
    }

    /// <summary>ICMP with this type/code (default echo request) and rest-of-header word.</summary>
    public FrameBuilder Icmp(byte type, byte code, uint restOfHeader = 0x0001_0001)
    {
        _l4 = L4Kind.Icmp;
        _icmpType = type;
        _icmpCode = code;
        _icmpRest = restOfHeader;
        return this;
    }

    /// <summary>IPv4 with an arbitrary protocol number and the payload as its only content.</summary>
    public FrameBuilder WithIpProtocol(byte protocol)
    {
        _l4 = L4Kind.Raw;
        _rawProtocol = protocol;
        return this;
    }

    public FrameBuilder WithPayload(ReadOnlySpan<byte> payload)
    {
        _payload = payload.ToArray();
        return this;
    }

    public FrameBuilder WithPayload(string ascii) => WithPayload(Encoding.ASCII.GetBytes(ascii));

    /// <summary>A payload of this many bytes of a fixed non-zero pattern.</summary>
    public FrameBuilder WithPayload(int length)
    {
        _payload = new byte[length];
        for (int i = 0; i < length; i++)
            _payload[i] = (byte)(i * 7 + 1);
        return this;
    }

    // ---- breakers ----

    /// <summary>Writes this IHL (words) regardless of the real header layout.</summary>
    public FrameBuilder WithIhl(int words)
    {
        _ihlOverride = words;
        return this;
    }

    /// <summary>Writes this IP version nibble in an IPv4 frame.</summary>
    public FrameBuilder WithIpVersion(int version)
    {
        _versionOverride = version;
        return this;
    }

    /// <summary>Writes this IPv4 total length (the header checksum still matches it).</summary>
    public FrameBuilder WithTotalLength(int totalLength)
    {
        _totalLengthOverride = totalLength;
        return this;
    }

    public FrameBuilder WithBadIpChecksum()
    {
        _badIpChecksum = true;
        return this;
    }

    /// <summary>Makes the packet a fragment: MF and/or offset (in 8-byte units); clears DF.</summary>
    public FrameBuilder WithFragment(bool moreFragments, int offsetUnits)
    {
        _moreFragments = moreFragments;
        _fragmentOffset = offsetUnits;
        _dontFragment = false;
        return this;
    }

    /// <summary>Writes this TCP data offset (words) regardless of the real header layout.</summary>
    public FrameBuilder WithTcpDataOffset(int words)
    {
        _dataOffsetOverride = words;
        return this;
    }

    /// <summary>Writes this UDP length field instead of the real one.</summary>
    public FrameBuilder WithUdpLength(int length)
    {
        _udpLengthOverride = length;
        return this;
    }

    /// <summary>A TCP/UDP/ICMP checksum that does not verify (the correct one with bits flipped).</summary>
    public FrameBuilder WithBadL4Checksum()
    {
        _l4Checksum = L4Checksum.Bad;
        return this;
    }

    /// <summary>
    /// The TCP/UDP checksum field as CHECKSUM_PARTIAL leaves it on a veth: only the folded pseudo-header
    /// sum, not complemented (Linux: th->check = ~tcp_v4_check(len, saddr, daddr, 0)).
    /// </summary>
    public FrameBuilder WithPartialL4Checksum()
    {
        _l4Checksum = L4Checksum.Partial;
        return this;
    }

    /// <summary>A UDP checksum of 0 ("no checksum", RFC 768).</summary>
    public FrameBuilder WithoutUdpChecksum()
    {
        _l4Checksum = L4Checksum.Zero;
        return this;
    }

    // ---- build ----

    public byte[] Build()
    {
        byte[] l3 = _l3 switch
        {
            L3Kind.Ipv4 => BuildIpv4(),
            L3Kind.Arp => BuildArp(),
            L3Kind.Ipv6 => BuildIpv6(),
            _ => _payload,
        };
        ushort etherType = _l3 switch
        {
            L3Kind.Ipv4 => 0x0800,
            L3Kind.Arp => 0x0806,
            L3Kind.Ipv6 => 0x86DD,
            _ => _rawEtherType,
        };

        int l2 = _vlanTci is null ? 14 : 18;
        byte[] frame = new byte[Math.Max(l2 + l3.Length, _padTo)];
        WriteMac(frame.AsSpan(0), _destinationMac);
        WriteMac(frame.AsSpan(6), _sourceMac);
        if (_vlanTci is ushort tci)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), tci);
        }
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l2 - 2), etherType);
        l3.CopyTo(frame, l2);

        if (_truncateTo is int cut && cut < frame.Length)
            Array.Resize(ref frame, cut);
        return frame;
    }

    private byte[] BuildIpv4()
    {
        byte[] l4 = BuildL4();
        int headerLength = 20 + _ipOptionWords * 4;
        byte[] ip = new byte[headerLength + l4.Length];
        Span<byte> h = ip;
        int version = _versionOverride ?? 4;
        int ihl = _ihlOverride ?? headerLength / 4;
        h[0] = (byte)((version << 4) | (ihl & 0xF));
        h[1] = _tos;
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)(_totalLengthOverride ?? ip.Length));
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], _identification);
        int flags = (_dontFragment ? 0x4000 : 0) | (_moreFragments ? 0x2000 : 0) | (_fragmentOffset & 0x1FFF);
        BinaryPrimitives.WriteUInt16BigEndian(h[6..], (ushort)flags);
        h[8] = _ttl;
        h[9] = Protocol;
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], _sourceIp);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], _destinationIp);
        for (int i = 20; i < headerLength - 1; i++)
            h[i] = 1; // NOP
        // The last option byte stays 0 (End of Option List).

        // Checksum the bytes the IHL field claims when they exist, so a wrong-but-fitting IHL still
        // has a "valid" checksum and only the IHL check can catch it.
        int summed = ihl * 4 >= 20 && ihl * 4 <= ip.Length ? ihl * 4 : headerLength;
        ushort checksum = NaiveChecksum(h[..summed], 0);
        if (_badIpChecksum)
            checksum ^= 0x5A5A;
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], checksum);

        l4.CopyTo(ip, headerLength);
        return ip;
    }

    private byte Protocol => _l4 switch
    {
        L4Kind.Tcp => 6,
        L4Kind.Udp => 17,
        L4Kind.Icmp => 1,
        _ => _rawProtocol,
    };

    private byte[] BuildL4()
    {
        int headerLength = _l4 switch
        {
            L4Kind.Tcp => 20 + _tcpOptionWords * 4,
            L4Kind.Udp or L4Kind.Icmp => 8,
            _ => 0,
        };
        byte[] l4 = new byte[headerLength + _payload.Length];
        _payload.CopyTo(l4, headerLength);
        Span<byte> s = l4;
        int checksumAt;
        switch (_l4)
        {
            case L4Kind.Tcp:
                BinaryPrimitives.WriteUInt16BigEndian(s, _sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(s[2..], _destinationPort);
                BinaryPrimitives.WriteUInt32BigEndian(s[4..], _sequence);
                BinaryPrimitives.WriteUInt32BigEndian(s[8..], _acknowledgment);
                s[12] = (byte)((_dataOffsetOverride ?? headerLength / 4) << 4);
                s[13] = _tcpFlags;
                BinaryPrimitives.WriteUInt16BigEndian(s[14..], _window);
                for (int i = 20; i < headerLength; i++)
                    s[i] = 1; // NOP
                checksumAt = 16;
                break;
            case L4Kind.Udp:
                BinaryPrimitives.WriteUInt16BigEndian(s, _sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(s[2..], _destinationPort);
                BinaryPrimitives.WriteUInt16BigEndian(s[4..], (ushort)(_udpLengthOverride ?? l4.Length));
                checksumAt = 6;
                break;
            case L4Kind.Icmp:
                s[0] = _icmpType;
                s[1] = _icmpCode;
                BinaryPrimitives.WriteUInt32BigEndian(s[4..], _icmpRest);
                checksumAt = 2;
                break;
            default:
                return l4;
        }

        uint pseudo = 0;
        if (_l3 == L3Kind.Ipv6)
        {
            for (int i = 0; i < 8; i++)
                pseudo += (uint)(ushort)(_sourceIp6 >> (16 * i)) + (uint)(ushort)(_destinationIp6 >> (16 * i));
            pseudo += Protocol + (uint)l4.Length;
        }
        else if (_l4 != L4Kind.Icmp)
        {
            pseudo = (_sourceIp >> 16) + (_sourceIp & 0xFFFF) + (_destinationIp >> 16) + (_destinationIp & 0xFFFF)
                + Protocol + (uint)l4.Length;
        }
        ushort checksum = _l4Checksum switch
        {
            L4Checksum.Partial => (ushort)~NaiveChecksum([], pseudo),
            L4Checksum.Zero => 0,
            _ => NaiveChecksum(l4, pseudo),
        };
        if (_l4Checksum == L4Checksum.Correct && _l4 == L4Kind.Udp && checksum == 0)
            checksum = 0xFFFF;
        if (_l4Checksum == L4Checksum.Bad)
            checksum ^= 0x00FF;
        BinaryPrimitives.WriteUInt16BigEndian(s[checksumAt..], checksum);
        return l4;
    }

    private byte[] BuildArp()
    {
        byte[] arp = new byte[28 + _payload.Length];
        Span<byte> s = arp;
        BinaryPrimitives.WriteUInt16BigEndian(s, 1);
        BinaryPrimitives.WriteUInt16BigEndian(s[2..], 0x0800);
        s[4] = 6;
        s[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(s[6..], _arpOperation);
        WriteMac(s[8..], _arpSenderMac);
        BinaryPrimitives.WriteUInt32BigEndian(s[14..], _arpSenderIp);
        WriteMac(s[18..], _arpTargetMac);
        BinaryPrimitives.WriteUInt32BigEndian(s[24..], _arpTargetIp);
        _payload.CopyTo(arp, 28);
        return arp;
    }

    private byte[] BuildIpv6()
    {
        byte[] payload = _ipv6Transport ? BuildL4() : _payload;
        byte[] ip = new byte[40 + payload.Length];
        Span<byte> s = ip;
        s[0] = (byte)((_versionOverride ?? 6) << 4);
        BinaryPrimitives.WriteUInt16BigEndian(s[4..], (ushort)(_totalLengthOverride ?? payload.Length));
        s[6] = _ipv6Transport ? Protocol : _nextHeader;
        s[7] = _ttl;
        BinaryPrimitives.WriteUInt128BigEndian(s[8..], _sourceIp6);
        BinaryPrimitives.WriteUInt128BigEndian(s[24..], _destinationIp6);
        payload.CopyTo(ip, 40);
        return ip;
    }

    private static void WriteMac(Span<byte> destination, ulong mac)
    {
        for (int i = 0; i < 6; i++)
            destination[i] = (byte)(mac >> (40 - 8 * i));
    }

    /// <summary>RFC 1071 the slow, obvious way: 16-bit big-endian words, odd byte padded, fold, complement.</summary>
    private static ushort NaiveChecksum(ReadOnlySpan<byte> data, uint initial)
    {
        ulong sum = initial;
        for (int i = 0; i < data.Length; i += 2)
            sum += (uint)(data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0u);
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
