using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Sync;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Sync;

/// <summary>
/// The IPVS sync protocol version 1, checked against bytes assembled by hand from the kernel's structs
/// (net/netfilter/ipvs/ip_vs_sync.c: struct ip_vs_sync_mesg, struct ip_vs_sync_v4, struct ip_vs_sync_v6).
/// </summary>
public class SyncCodecTests
{
    private static readonly byte[] EstablishedV4Record =
    [
        0x00,                   // type: 0 = IPv4 (STYPE_F_INET6 clear)
        0x06,                   // protocol: IPPROTO_TCP
        0x00, 0x24,             // ver_size: version 0 (top 4 bits), size 36 = sizeof(struct ip_vs_sync_v4)
        0x00, 0x00, 0x00, 0x83, // flags: IP_VS_CONN_F_DROUTE (3) | IP_VS_CONN_F_NOOUTPUT (0x80)
        0x00, 0x01,             // state: IP_VS_TCP_S_ESTABLISHED
        0x9C, 0x40,             // cport 40000
        0x00, 0x50,             // vport 80
        0x00, 0x50,             // dport 80
        0x00, 0x00, 0x00, 0x00, // fwmark 0
        0x00, 0x00, 0x03, 0x84, // timeout 900 s (cp->timeout / HZ)
        0xCB, 0x00, 0x71, 0x0A, // caddr 203.0.113.10
        0xC6, 0x33, 0x64, 0x64, // vaddr 198.51.100.100
        0xC6, 0x33, 0x64, 0x03, // daddr 198.51.100.3
    ];

    private static readonly byte[] TemplateV4Record =
    [
        0x00, 0x06, 0x00, 0x24,
        0x00, 0x00, 0x10, 0x83, // flags: IP_VS_CONN_F_TEMPLATE (0x1000) | NOOUTPUT | DROUTE
        0x00, 0x00,             // state: IP_VS_CTPL_S_NONE
        0x00, 0x00,             // cport 0: a template is keyed by the client network only
        0x00, 0x50, 0x00, 0x50,
        0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x68, // timeout 360 s: the persistence timeout
        0xCB, 0x00, 0x71, 0x00, // caddr 203.0.113.0 (client & netmask /24)
        0xC6, 0x33, 0x64, 0x64,
        0xC6, 0x33, 0x64, 0x04, // daddr 198.51.100.4
    ];

    private static readonly byte[] FinWaitV6Record =
    [
        0x01,                   // type: STYPE_F_INET6
        0x06,
        0x00, 0x48,             // size 72 = sizeof(struct ip_vs_sync_v6)
        0x00, 0x00, 0x01, 0x83, // flags: INACTIVE (0x100) | NOOUTPUT | DROUTE
        0x00, 0x04,             // state: IP_VS_TCP_S_FIN_WAIT
        0xC3, 0x50,             // cport 50000
        0x01, 0xBB,             // vport 443
        0x01, 0xBB,             // dport 443
        0x00, 0x00, 0x00, 0x07, // fwmark 7
        0x00, 0x00, 0x00, 0x78, // timeout 120 s
        0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10,   // caddr 2001:db8::10
        0x20, 0x01, 0x0D, 0xB8, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, // vaddr 2001:db8:0:100::100
        0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x03,   // daddr 2001:db8::3
    ];

    internal static SyncedConnection Established() => new()
    {
        Protocol = 6,
        Flags = (uint)ForwardingMethod.DirectRoute | IpvsConnFlags.NoOutput,
        State = (ushort)IpvsTcpState.Established,
        ClientAddress = V4("203.0.113.10"),
        ClientPort = 40000,
        VirtualAddress = V4("198.51.100.100"),
        VirtualPort = 80,
        DestAddress = V4("198.51.100.3"),
        DestPort = 80,
        TimeoutSeconds = 900,
    };

    private static SyncedConnection Template() => new()
    {
        Protocol = 6,
        Flags = IpvsConnFlags.Template | IpvsConnFlags.NoOutput | 3,
        ClientAddress = V4("203.0.113.0"),
        VirtualAddress = V4("198.51.100.100"),
        VirtualPort = 80,
        DestAddress = V4("198.51.100.4"),
        DestPort = 80,
        TimeoutSeconds = 360,
    };

    private static SyncedConnection FinWaitV6() => new()
    {
        IsIpv6 = true,
        Protocol = 6,
        Flags = IpvsConnFlags.Inactive | IpvsConnFlags.NoOutput | 3,
        State = (ushort)IpvsTcpState.FinWait,
        ClientAddress = V6("2001:db8::10"),
        ClientPort = 50000,
        VirtualAddress = V6("2001:db8:0:100::100"),
        VirtualPort = 443,
        DestAddress = V6("2001:db8::3"),
        DestPort = 443,
        FwMark = 7,
        TimeoutSeconds = 120,
    };

    internal static UInt128 V4(string a) => Balancing.Lab.U32(IPAddress.Parse(a));

    private static UInt128 V6(string a) => System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse(a).GetAddressBytes());

    private static byte[] Message(byte syncId, params byte[][] records)
    {
        var body = records.SelectMany(r => r).ToArray();
        int size = 8 + body.Length;
        return [0x00, syncId, (byte)(size >> 8), (byte)size, (byte)records.Length, 0x01, 0x00, 0x00, .. body];
    }

    [Fact]
    public void WriteRecord_Ipv4Established_KernelBytes()
    {
        var b = new byte[64];
        var c = Established();
        Assert.Equal(36, SyncCodec.WriteRecord(b, in c));
        Assert.Equal(EstablishedV4Record, b[..36]);
    }

    [Fact]
    public void WriteRecord_Ipv6FinWait_KernelBytes()
    {
        var b = new byte[80];
        var c = FinWaitV6();
        Assert.Equal(72, SyncCodec.WriteRecord(b, in c));
        Assert.Equal(FinWaitV6Record, b[..72]);
    }

    [Fact]
    public void WriteRecord_HashedFlag_Cleared()
    {
        var b = new byte[36];
        var c = Established() with { Flags = Established().Flags | IpvsConnFlags.Hashed };
        SyncCodec.WriteRecord(b, in c);
        Assert.Equal(EstablishedV4Record, b);
    }

    [Fact]
    public void Builder_ThreeRecords_HeaderReservedSyncIdSizeCountVersionSpare()
    {
        var builder = new SyncMessageBuilder(7, 1472);
        foreach (var c in new[] { Established(), Template(), FinWaitV6() })
            Assert.True(builder.TryAdd(in c));
        int len = builder.Finish();
        byte[] expected = Message(7, EstablishedV4Record, TemplateV4Record, FinWaitV6Record);
        Assert.Equal(8 + 36 + 36 + 72, len);
        Assert.Equal(expected, builder.Buffer[..len]);
        // struct ip_vs_sync_mesg: reserved 0, syncid 7, size 152 (BE), nr_conns 3, version 1, spare 0.
        Assert.Equal(new byte[] { 0x00, 0x07, 0x00, 0x98, 0x03, 0x01, 0x00, 0x00 }, builder.Buffer[..8]);
    }

    [Fact]
    public void Builder_DefaultMasterMaxlen_FortyIpv4RecordsPerMessage()
    {
        // 1500 - 20 - 8 = 1472 bytes: (1472 - 8) / 36 = 40 records.
        var builder = new SyncMessageBuilder(0, 1472);
        var c = Established();
        int n = 0;
        while (builder.TryAdd(in c))
            n++;
        Assert.Equal(40, n);
        Assert.Equal(8 + 40 * 36, builder.Finish());
    }

    [Fact]
    public void Builder_HugeMaxlen_StopsAt255Records()
    {
        var builder = new SyncMessageBuilder(0, 65507);
        var c = Established();
        int n = 0;
        while (builder.TryAdd(in c))
            n++;
        Assert.Equal(255, n); // nr_conns is one byte
    }

    [Fact]
    public void Builder_ReserveForTrailer_KeepsRoom()
    {
        var builder = new SyncMessageBuilder(0, 1472, SyncAuthenticator.TrailerSize);
        var c = Established();
        while (builder.TryAdd(in c))
        {
        }
        Assert.True(builder.Finish() + SyncAuthenticator.TrailerSize <= 1472);
    }

    [Fact]
    public void Parse_GoldenMessage_RecordsWithSyncFlagAdded()
    {
        var list = new List<SyncedConnection>();
        var r = SyncCodec.Parse(Message(7, EstablishedV4Record, TemplateV4Record, FinWaitV6Record), 7, list, out int skipped);
        Assert.Equal(SyncParseResult.Ok, r);
        Assert.Equal(0, skipped);
        Assert.Equal(3, list.Count);
        // ip_vs_proc_sync_conn: flags & IP_VS_CONN_F_BACKUP_MASK | IP_VS_CONN_F_SYNC.
        Assert.Equal(Established() with { Flags = Established().Flags | IpvsConnFlags.Sync }, list[0]);
        Assert.Equal(Template() with { Flags = Template().Flags | IpvsConnFlags.Sync }, list[1]);
        Assert.Equal(FinWaitV6() with { Flags = FinWaitV6().Flags | IpvsConnFlags.Sync }, list[2]);
        Assert.True(list[1].IsTemplate);
    }

    [Fact]
    public void Parse_SyncIdZero_TakesEverySyncId()
    {
        var list = new List<SyncedConnection>();
        Assert.Equal(SyncParseResult.Ok, SyncCodec.Parse(Message(42, EstablishedV4Record), 0, list, out _));
        Assert.Single(list);
    }

    [Fact]
    public void Parse_OtherSyncId_Ignored()
    {
        var list = new List<SyncedConnection>();
        Assert.Equal(SyncParseResult.OtherSyncId, SyncCodec.Parse(Message(42, EstablishedV4Record), 7, list, out _));
        Assert.Empty(list);
    }

    [Fact]
    public void Parse_FlagsOutsideBackupMask_Cleared()
    {
        var record = (byte[])EstablishedV4Record.Clone();
        record[5] = 0x20; // IP_VS_CONN_F_ONE_PACKET (0x2000) is not in IP_VS_CONN_F_BACKUP_MASK
        record[7] = 0xC3; // + IP_VS_CONN_F_HASHED (0x40)
        var list = new List<SyncedConnection>();
        Assert.Equal(SyncParseResult.Ok, SyncCodec.Parse(Message(0, record), 0, list, out _));
        Assert.Equal(0x83u | IpvsConnFlags.Sync, list[0].Flags);
    }

    public static TheoryData<string, byte[], SyncParseResult> Malformed => new()
    {
        { "shorter than the v0 header", [0x00, 0x00, 0x00], SyncParseResult.TooShort },
        { "size is not the datagram length", [.. Message(0, EstablishedV4Record), 0x00], SyncParseResult.SizeMismatch },
        { "version 0 header", [0x01, 0x00, 0x00, 0x2C, .. EstablishedV4Record, 0, 0, 0, 0], SyncParseResult.NotVersion1 },
        { "spare not zero", Patch(Message(0, EstablishedV4Record), 7, 0x01), SyncParseResult.NotVersion1 },
        { "nr_conns past the end", Patch(Message(0, EstablishedV4Record), 4, 2), SyncParseResult.Malformed },
        { "record size past the end", Patch(Message(0, EstablishedV4Record), 8 + 3, 0x30), SyncParseResult.Malformed },
        { "record version not 0", Patch(Message(0, EstablishedV4Record), 8 + 2, 0x10), SyncParseResult.Malformed },
        { "record size below the struct", Patch(Message(0, EstablishedV4Record), 8 + 3, 0x20), SyncParseResult.Malformed },
        { "unknown type bits", Patch(Message(0, EstablishedV4Record), 8, 0x02), SyncParseResult.Malformed },
        { "IPv6 type in an IPv4-sized record", Patch(Message(0, EstablishedV4Record), 8, 0x01), SyncParseResult.Malformed },
        { "zero-length option", Message(0, WithOptions(0x01, 0x00, 0x00, 0x00)), SyncParseResult.Malformed },
        { "option past the record", Message(0, WithOptions(0x02, 0x08, 0x00, 0x00)), SyncParseResult.Malformed },
        { "sequence option of the wrong length", Message(0, WithOptions(0x01, 0x02, 0x00, 0x00)), SyncParseResult.Malformed },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Parse_Malformed_DroppedWhole(string why, byte[] message, SyncParseResult expected)
    {
        var list = new List<SyncedConnection>();
        var r = SyncCodec.Parse(message, 0, list, out _);
        Assert.True(expected == r, $"{why}: {r}");
        Assert.Empty(list);
    }

    [Fact]
    public void Parse_BadSecondRecord_FirstNotReturnedEither()
    {
        var message = Message(0, EstablishedV4Record, EstablishedV4Record);
        message[8 + 36 + 2] = 0x10; // the second record's version nibble
        var list = new List<SyncedConnection>();
        Assert.Equal(SyncParseResult.Malformed, SyncCodec.Parse(message, 0, list, out _));
        Assert.Empty(list);
    }

    public static TheoryData<string, byte[]> Skipped => new()
    {
        { "unsupported protocol (ICMP)", Patch(EstablishedV4Record, 1, 1) },
        { "TCP state past IP_VS_TCP_S_LAST", Patch(EstablishedV4Record, 9, 11) },
        { "UDP state other than NORMAL", Patch(Patch(EstablishedV4Record, 1, 17), 9, 1) },
        { "unknown mandatory option", WithOptions(0x05, 0x02, 0xAA, 0xBB) },
        { "persistence-engine data", WithOptions(0x02, 0x02, 0xAA, 0xBB) },
    };

    [Theory]
    [MemberData(nameof(Skipped))]
    public void Parse_RecordTheKernelSkips_SkippedAloneOthersKept(string why, byte[] record)
    {
        var list = new List<SyncedConnection>();
        var r = SyncCodec.Parse(Message(0, record, EstablishedV4Record), 0, list, out int skipped);
        Assert.True(r == SyncParseResult.Ok, why);
        Assert.Equal(1, skipped);
        Assert.Single(list);
    }

    [Fact]
    public void Parse_OptionalUnknownParamAndSequenceOption_RecordKept()
    {
        // IPVS_OPT_F_PARAM (0x40) marks an optional parameter a receiver may ignore.
        byte[] seq = [0x01, 24, .. new byte[24]];
        byte[] optional = [0x45, 0x01, 0xEE];
        var record = WithOptions([.. seq, .. optional]);
        Assert.Equal(36 + 26 + 3, (record[2] << 8) | record[3]);
        // The next record starts 32-bit aligned: 65 bytes, 3 bytes of padding.
        byte[] padded = [.. record, 0, 0, 0];
        var list = new List<SyncedConnection>();
        var message = Message(0, padded, EstablishedV4Record);
        Assert.Equal(SyncParseResult.Ok, SyncCodec.Parse(message, 0, list, out int skipped));
        Assert.Equal(0, skipped);
        Assert.Equal(2, list.Count);
    }

    [Fact]
    public void Parse_RandomBytes_NeverThrows()
    {
        var random = new Random(4);
        var list = new List<SyncedConnection>();
        for (int i = 0; i < 20000; i++)
        {
            var b = new byte[random.Next(0, 400)];
            random.NextBytes(b);
            if (b.Length >= 8 && (i & 1) == 0)
            {
                // Make half of them pass the header checks so the record parser is exercised.
                b[0] = 0;
                b[2] = (byte)(b.Length >> 8);
                b[3] = (byte)b.Length;
                b[5] = 1;
                b[6] = b[7] = 0;
            }
            list.Clear();
            SyncCodec.Parse(b, 0, list, out _);
        }
    }

    [Fact]
    public void ResyncRequest_KernelWouldDropAsBogusSize()
    {
        var b = new byte[SyncCodec.ResyncRequestSize];
        SyncCodec.WriteResyncRequest(b, 9);
        Assert.True(SyncCodec.IsResyncRequest(b, 9));
        Assert.True(SyncCodec.IsResyncRequest(b, 0));
        Assert.False(SyncCodec.IsResyncRequest(b, 8));
        Assert.Equal(SyncParseResult.SizeMismatch, SyncCodec.Parse(b, 0, [], out _));
        Assert.False(SyncCodec.IsResyncRequest(Message(9, EstablishedV4Record), 9));
    }

    [Fact]
    public void Authenticator_SignedMessage_VerifiesAndKernelWouldDropIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var auth = new SyncAuthenticator("secret"u8, time);
        var buffer = new byte[200];
        var message = Message(3, EstablishedV4Record);
        message.CopyTo(buffer, 0);
        int len = auth.Sign(buffer, message.Length);
        Assert.Equal(message.Length + SyncAuthenticator.TrailerSize, len);

        Assert.True(auth.TryVerify(buffer.AsSpan(0, len), out var inner));
        Assert.Equal(message, inner.ToArray());
        // A kernel (or Fulcrum without the key) sees a size that is not the datagram's length.
        Assert.Equal(SyncParseResult.SizeMismatch, SyncCodec.Parse(buffer.AsSpan(0, len), 0, [], out _));
    }

    [Fact]
    public void Authenticator_TamperedWrongKeyUnsignedOrStale_Refused()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var auth = new SyncAuthenticator("secret"u8, time);
        var message = Message(3, EstablishedV4Record);
        var buffer = new byte[200];
        message.CopyTo(buffer, 0);
        int len = auth.Sign(buffer, message.Length);
        var signed = buffer[..len];

        var tampered = (byte[])signed.Clone();
        tampered[8 + 35] ^= 1; // the dest address
        Assert.False(auth.TryVerify(tampered, out _));
        Assert.False(new SyncAuthenticator("other"u8, time).TryVerify(signed, out _));
        Assert.False(auth.TryVerify(message, out _));

        time.Advance(TimeSpan.FromMinutes(2));
        Assert.False(auth.TryVerify(signed, out _)); // a replay two minutes later
    }

    private static byte[] Patch(byte[] b, int at, byte value)
    {
        var c = (byte[])b.Clone();
        c[at] = value;
        return c;
    }

    /// <summary>The established record followed by raw option bytes, its size field counting them.</summary>
    private static byte[] WithOptions(params byte[] options)
    {
        byte[] r = [.. EstablishedV4Record, .. options];
        r[2] = (byte)(r.Length >> 8);
        r[3] = (byte)r.Length;
        return r;
    }
}
