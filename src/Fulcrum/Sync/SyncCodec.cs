using System.Buffers.Binary;
using System.Net;
using Fulcrum.Balancing;

namespace Fulcrum.Sync;

/// <summary>Why a received datagram (or one record of it) was not installed.</summary>
public enum SyncParseResult
{
    Ok,
    /// <summary>Shorter than a message header.</summary>
    TooShort,
    /// <summary>The header's size is not the datagram's length ("bogus message size").</summary>
    SizeMismatch,
    /// <summary>A syncid other than ours while ours is not 0 (the kernel ignores these).</summary>
    OtherSyncId,
    /// <summary>Not a version-1 header: a version-0 message, which Fulcrum does not take.</summary>
    NotVersion1,
    /// <summary>A record runs past the message, has an unknown version, or bad options: the message is dropped.</summary>
    Malformed,
}

/// <summary>
/// The kernel's IPVS connection sync protocol, version 1 (net/netfilter/ipvs/ip_vs_sync.c), byte for byte:
/// message header struct ip_vs_sync_mesg, records struct ip_vs_sync_v4 / ip_vs_sync_v6, all big-endian,
/// each record 32-bit aligned. Fulcrum's extensions (the resync request, the HMAC trailer) are built so a
/// kernel drops them as "bogus message size": their header size never equals the datagram length.
/// </summary>
public static class SyncCodec
{
    /// <summary>sizeof(struct ip_vs_sync_mesg).</summary>
    public const int HeaderSize = 8;
    /// <summary>sizeof(struct ip_vs_sync_v4).</summary>
    public const int V4RecordSize = 36;
    /// <summary>sizeof(struct ip_vs_sync_v6).</summary>
    public const int V6RecordSize = 72;
    /// <summary>SYNC_PROTO_VER.</summary>
    public const byte Version = 1;
    /// <summary>IP_VS_SYNC_GROUP 224.0.0.81 and IP_VS_SYNC_PORT 8848.</summary>
    public static readonly IPAddress DefaultGroup = IPAddress.Parse("224.0.0.81");
    public const int DefaultPort = 8848;
    public const int DefaultTtl = 1;
    /// <summary>IPv4 + UDP headers, which the kernel takes off the MTU for sync_maxlen.</summary>
    public const int Ipv4UdpOverhead = 28;
    public const int Ipv6UdpOverhead = 48;

    // ip_vs_sync.c: STYPE_F_INET6, SVER_SHIFT/SVER_MASK, IPVS_OPT_*.
    private const byte TypeInet6 = 1;
    private const int VersionShift = 12;
    private const int SizeMask = 0x0fff;
    private const byte OptSeqData = 1;
    private const byte OptPeData = 2;
    private const byte OptPeName = 3;
    private const byte OptFlagParam = 1 << (7 - 1); // IPVS_OPT_F_PARAM: an optional parameter
    private const int SeqOptionSize = 24;         // struct ip_vs_sync_conn_options: two struct ip_vs_seq
    private const int PeDataMax = 255;            // IP_VS_PEDATA_MAXLEN
    private const int PeNameMax = 16;             // IP_VS_PENAME_MAXLEN

    // Per-protocol state counts (IP_VS_*_S_LAST): a record past them is skipped, as ip_vs_proc_sync_conn does.
    private const int TcpStates = 11;
    private const int UdpStates = 1;
    private const int SctpStates = 13;

    /// <summary>The record's size on the wire (no options: Fulcrum has no sequence adjustment or persistence engines).</summary>
    public static int RecordSize(in SyncedConnection c) => c.IsIpv6 ? V6RecordSize : V4RecordSize;

    /// <summary>Writes struct ip_vs_sync_mesg: reserved 0, syncid, size, nr_conns, version 1, spare 0.</summary>
    public static void WriteHeader(Span<byte> b, byte syncId, int size, int count)
    {
        b[0] = 0;
        b[1] = syncId;
        BinaryPrimitives.WriteUInt16BigEndian(b[2..], (ushort)size);
        b[4] = (byte)count;
        b[5] = Version;
        b[6] = 0;
        b[7] = 0;
    }

    /// <summary>Writes one record as ip_vs_sync_conn does (ver_size: version 0, size); returns its length.</summary>
    public static int WriteRecord(Span<byte> b, in SyncedConnection c)
    {
        int len = RecordSize(in c);
        b[0] = c.IsIpv6 ? TypeInet6 : (byte)0;
        b[1] = c.Protocol;
        BinaryPrimitives.WriteUInt16BigEndian(b[2..], (ushort)(len & SizeMask));
        // The kernel clears IP_VS_CONN_F_HASHED; SYNC marks a connection this director itself received.
        BinaryPrimitives.WriteUInt32BigEndian(b[4..], c.Flags & ~IpvsConnFlags.Hashed);
        BinaryPrimitives.WriteUInt16BigEndian(b[8..], c.State);
        BinaryPrimitives.WriteUInt16BigEndian(b[10..], c.ClientPort);
        BinaryPrimitives.WriteUInt16BigEndian(b[12..], c.VirtualPort);
        BinaryPrimitives.WriteUInt16BigEndian(b[14..], c.DestPort);
        BinaryPrimitives.WriteUInt32BigEndian(b[16..], c.FwMark);
        BinaryPrimitives.WriteUInt32BigEndian(b[20..], c.TimeoutSeconds);
        if (c.IsIpv6)
        {
            BinaryPrimitives.WriteUInt128BigEndian(b[24..], c.ClientAddress);
            BinaryPrimitives.WriteUInt128BigEndian(b[40..], c.VirtualAddress);
            BinaryPrimitives.WriteUInt128BigEndian(b[56..], c.DestAddress);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(b[24..], (uint)c.ClientAddress);
            BinaryPrimitives.WriteUInt32BigEndian(b[28..], (uint)c.VirtualAddress);
            BinaryPrimitives.WriteUInt32BigEndian(b[32..], (uint)c.DestAddress);
        }
        return len;
    }

    /// <summary>
    /// ip_vs_process_message for a version-1 message: checks the header, then every record
    /// (ip_vs_proc_sync_conn). A record the kernel skips (unsupported protocol, a state past the
    /// protocol's, an unknown mandatory option, persistence-engine data) is counted in
    /// <paramref name="skipped"/>; a record the kernel would drop the rest of the buffer for makes the
    /// whole message <see cref="SyncParseResult.Malformed"/> and nothing of it is returned (the kernel
    /// keeps the records before it: dropping all of it never installs half a message).
    /// <paramref name="syncId"/> 0 takes every syncid, as the kernel's backup does.
    /// </summary>
    public static SyncParseResult Parse(ReadOnlySpan<byte> message, byte syncId, List<SyncedConnection> into, out int skipped)
    {
        skipped = 0;
        int start = into.Count;
        if (message.Length < 4)
            return SyncParseResult.TooShort;
        if (BinaryPrimitives.ReadUInt16BigEndian(message[2..]) != message.Length)
            return SyncParseResult.SizeMismatch;
        if (syncId != 0 && message[1] != syncId)
            return SyncParseResult.OtherSyncId;
        if (message.Length < HeaderSize || message[5] != Version || message[0] != 0 || message[6] != 0 || message[7] != 0)
            return SyncParseResult.NotVersion1;

        int count = message[4];
        int end = HeaderSize;
        for (int i = 0; i < count; i++)
        {
            int p = end;
            if (p + V4RecordSize > message.Length)
                return Fail(into, start);
            ushort verSize = BinaryPrimitives.ReadUInt16BigEndian(message[(p + 2)..]);
            int size = verSize & SizeMask;
            if (p + size > message.Length || verSize >> VersionShift != 0)
                return Fail(into, start);
            int r = ParseRecord(message.Slice(p, size), out var c);
            if (r < 0)
                return Fail(into, start);
            if (r > 0)
                skipped++;
            else
                into.Add(c);
            end = p + ((size + 3) & ~3);
        }
        return SyncParseResult.Ok;
    }

    private static SyncParseResult Fail(List<SyncedConnection> into, int start)
    {
        into.RemoveRange(start, into.Count - start);
        return SyncParseResult.Malformed;
    }

    /// <summary>ip_vs_proc_sync_conn's checks: 0 ok, &gt; 0 skip this record, &lt; 0 drop the message.</summary>
    private static int ParseRecord(ReadOnlySpan<byte> r, out SyncedConnection c)
    {
        c = default;
        if (r.Length < V4RecordSize)
            return -20;
        int p;
        if ((r[0] & TypeInet6) != 0)
        {
            c.IsIpv6 = true;
            p = V6RecordSize;
        }
        else if (r[0] == 0)
        {
            p = V4RecordSize;
        }
        else
        {
            return -10;
        }
        if (p > r.Length)
            return -20;

        bool peData = false, peName = false, seq = false, skip = false;
        while (p < r.Length)
        {
            if (p + 2 > r.Length)
                return -30;
            byte type = r[p++];
            int len = r[p++];
            if (len == 0 || p + len > r.Length)
                return -40;
            switch (type & ~OptFlagParam)
            {
                case OptSeqData:
                    if (len != SeqOptionSize || seq)
                        return -50;
                    seq = true;
                    break;
                case OptPeData:
                    if (len > PeDataMax || peData)
                        return -60;
                    peData = true;
                    break;
                case OptPeName:
                    if (len > PeNameMax || peName)
                        return -70;
                    peName = true;
                    break;
                default:
                    if ((type & OptFlagParam) == 0)
                        skip = true; // an unknown mandatory parameter
                    break;
            }
            p += len;
        }

        c.Protocol = r[1];
        c.Flags = (BinaryPrimitives.ReadUInt32BigEndian(r[4..]) & IpvsConnFlags.BackupMask) | IpvsConnFlags.Sync;
        c.State = BinaryPrimitives.ReadUInt16BigEndian(r[8..]);
        c.ClientPort = BinaryPrimitives.ReadUInt16BigEndian(r[10..]);
        c.VirtualPort = BinaryPrimitives.ReadUInt16BigEndian(r[12..]);
        c.DestPort = BinaryPrimitives.ReadUInt16BigEndian(r[14..]);
        c.FwMark = BinaryPrimitives.ReadUInt32BigEndian(r[16..]);
        c.TimeoutSeconds = BinaryPrimitives.ReadUInt32BigEndian(r[20..]);
        if (c.IsIpv6)
        {
            c.ClientAddress = BinaryPrimitives.ReadUInt128BigEndian(r[24..]);
            c.VirtualAddress = BinaryPrimitives.ReadUInt128BigEndian(r[40..]);
            c.DestAddress = BinaryPrimitives.ReadUInt128BigEndian(r[56..]);
        }
        else
        {
            c.ClientAddress = BinaryPrimitives.ReadUInt32BigEndian(r[24..]);
            c.VirtualAddress = BinaryPrimitives.ReadUInt32BigEndian(r[28..]);
            c.DestAddress = BinaryPrimitives.ReadUInt32BigEndian(r[32..]);
        }

        if (skip)
            return 20;
        if (!c.IsTemplate)
        {
            int states = c.Protocol switch
            {
                (byte)IpProtocol.Tcp => TcpStates,
                (byte)IpProtocol.Udp => UdpStates,
                (byte)IpProtocol.Sctp => SctpStates,
                _ => 0,
            };
            if (states == 0)
                return 30;
            if (c.State >= states)
                return 40;
        }
        // Persistence-engine data needs the engine (sip), which Fulcrum does not have: BACKUP skips it,
        // as a kernel without the engine loaded does.
        if (peData || peName)
            return 50;
        return 0;
    }

    // Fulcrum's resync request: the header's size is 0, so a kernel drops it ("bogus message size").
    private static ReadOnlySpan<byte> ResyncMagic => "FRSQ"u8;

    /// <summary>Size of a resync request (before any authentication trailer).</summary>
    public const int ResyncRequestSize = 8;

    /// <summary>Writes a resync request: reserved 0, syncid, size 0, then "FRSQ".</summary>
    public static void WriteResyncRequest(Span<byte> b, byte syncId)
    {
        b[0] = 0;
        b[1] = syncId;
        b[2] = 0;
        b[3] = 0;
        ResyncMagic.CopyTo(b[4..]);
    }

    /// <summary>True for a resync request with a matching syncid (0 on either side matches every one).</summary>
    public static bool IsResyncRequest(ReadOnlySpan<byte> message, byte syncId) =>
        message.Length == ResyncRequestSize && message[0] == 0 && message[2] == 0 && message[3] == 0 &&
        message[4..8].SequenceEqual(ResyncMagic) && (syncId == 0 || message[1] == 0 || message[1] == syncId);
}
