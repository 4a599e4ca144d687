using System.Buffers.Binary;
using System.Net;
using Fulcrum.Packets;
using Fulcrum.Vrrp;

namespace Fulcrum.Tests.Vrrp;

public class VrrpIpv6Tests
{
    private static readonly UInt128 Source = Number("fe80::1");
    private static readonly UInt128 Vip = Number("2001:db8:100::100");

    private static VrrpMessageFormat Format(params UInt128[] addresses) =>
        new(3, 51, [], TimeSpan.FromMilliseconds(100), Ipv6Addresses: addresses);

    [Fact]
    public void WriteIpv6Message_Layout_V3HeaderAndAddresses()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv6Message(buffer, Format(Vip), 150, Source, VrrpCodec.MulticastGroup6);
        Assert.Equal(8 + 16, n);
        Assert.Equal(0x31, buffer[0]);
        Assert.Equal(51, buffer[1]);
        Assert.Equal(150, buffer[2]);
        Assert.Equal(1, buffer[3]);
        Assert.Equal(10, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(4)) & 0xFFF);
        Assert.Equal(Vip, BinaryPrimitives.ReadUInt128BigEndian(buffer.AsSpan(8)));
    }

    [Fact]
    public void WriteIpv6Message_Checksum_CoversIpv6PseudoHeader()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv6Message(buffer, Format(Vip), 150, Source, VrrpCodec.MulticastGroup6);

        // RFC 8200 §8.1: source, destination, upper-layer length (32 bits), 3 zero bytes, next header 112.
        var pseudo = new byte[40 + n];
        BinaryPrimitives.WriteUInt128BigEndian(pseudo, Source);
        BinaryPrimitives.WriteUInt128BigEndian(pseudo.AsSpan(16), VrrpCodec.MulticastGroup6);
        BinaryPrimitives.WriteInt32BigEndian(pseudo.AsSpan(32), n);
        pseudo[39] = 112;
        buffer.AsSpan(0, n).CopyTo(pseudo.AsSpan(40));
        Assert.Equal(0, Checksum.Compute(pseudo));

        // Without the pseudo-header (as a v2 or v3_checksum_as_v2 checksum) it does not verify.
        Assert.NotEqual(0, Checksum.Compute(buffer.AsSpan(0, n)));
    }

    [Fact]
    public void ValidateIpv6_OwnAdvert_Ok()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv6Message(buffer, Format(Vip), 150, Source, VrrpCodec.MulticastGroup6);
        Assert.Equal(VrrpReceiveResult.Ok, VrrpCodec.ValidateIpv6(buffer.AsSpan(0, n), Format(Vip), Source, VrrpCodec.MulticastGroup6, out var advert));
        Assert.Equal(Source, advert.Source);
        Assert.Equal(150, advert.Priority);
        Assert.Equal(TimeSpan.FromMilliseconds(100), advert.AdvertInterval);
    }

    [Fact]
    public void ValidateIpv6_OtherSourceThanChecksummed_BadChecksum()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv6Message(buffer, Format(Vip), 150, Source, VrrpCodec.MulticastGroup6);
        Assert.Equal(VrrpReceiveResult.BadChecksum, VrrpCodec.ValidateIpv6(buffer.AsSpan(0, n), Format(Vip), Number("fe80::2"), VrrpCodec.MulticastGroup6, out _));
    }

    [Fact]
    public void ValidateIpv6_DifferentAddressList_Mismatch()
    {
        var buffer = new byte[VrrpCodec.MaxPacketLength];
        int n = VrrpCodec.WriteIpv6Message(buffer, Format(Vip), 150, Source, VrrpCodec.MulticastGroup6);
        Assert.Equal(VrrpReceiveResult.AddressMismatch, VrrpCodec.ValidateIpv6(buffer.AsSpan(0, n), Format(Vip + 1), Source, VrrpCodec.MulticastGroup6, out _));
        Assert.Equal(VrrpReceiveResult.AddressCountMismatch, VrrpCodec.ValidateIpv6(buffer.AsSpan(0, n), Format(Vip, Vip + 1), Source, VrrpCodec.MulticastGroup6, out _));
    }

    [Fact]
    public void UnsolicitedNa_Frame_AllNodesOverrideTargetLinkLayerAddress()
    {
        const ulong mac = 0x02_00_00_00_00_0B;
        var frame = new byte[UnsolicitedNeighborAdvertisement.FrameLength];
        int n = UnsolicitedNeighborAdvertisement.Write(frame, mac, Vip);
        Assert.Equal(86, n);
        Assert.Equal(0x3333_0000_0001UL, EthernetFrame.ReadMac(frame));
        Assert.Equal(mac, EthernetFrame.ReadMac(frame.AsSpan(6)));
        Assert.Equal(0x86DD, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)));
        var ip = frame.AsSpan(14);
        Assert.Equal(58, ip[6]);
        Assert.Equal(255, ip[7]);
        Assert.Equal(Vip, BinaryPrimitives.ReadUInt128BigEndian(ip[8..]));
        Assert.Equal(UnsolicitedNeighborAdvertisement.AllNodes, BinaryPrimitives.ReadUInt128BigEndian(ip[24..]));
        var na = ip[40..];
        Assert.Equal(136, na[0]);
        Assert.Equal(0x20, na[4]);   // Override, not Solicited, not Router
        Assert.Equal(Vip, BinaryPrimitives.ReadUInt128BigEndian(na[8..]));
        Assert.Equal(2, na[24]);
        Assert.Equal(1, na[25]);
        Assert.Equal(mac, EthernetFrame.ReadMac(na[26..]));

        var pseudo = new byte[40 + 32];
        BinaryPrimitives.WriteUInt128BigEndian(pseudo, Vip);
        BinaryPrimitives.WriteUInt128BigEndian(pseudo.AsSpan(16), UnsolicitedNeighborAdvertisement.AllNodes);
        BinaryPrimitives.WriteInt32BigEndian(pseudo.AsSpan(32), 32);
        pseudo[39] = 58;
        na[..32].CopyTo(pseudo.AsSpan(40));
        Assert.Equal(0, Checksum.Compute(pseudo));
    }

    [Fact]
    public void StateMachine_Ipv6Sources_HigherLinkLocalWinsTie()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var io = new NullIo();
        var vrrp = new VrrpInstance(new VrrpInstanceOptions("VI_6", Format(Vip), 100, Source), io, time);
        vrrp.Start();
        time.Advance(vrrp.MasterDownInterval);
        vrrp.Poll();
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
        vrrp.Receive(new VrrpAdvertisement(Number("fe80::2"), 100, TimeSpan.FromMilliseconds(100)));
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
        Assert.Equal(Number("fe80::2"), vrrp.MasterAddress);
    }

    private static UInt128 Number(string address) => BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse(address).GetAddressBytes());

    private sealed class NullIo : IVrrpInstanceIo
    {
        public void SendAdvertisement(VrrpInstance instance, byte priority)
        {
        }

        public void AddAddresses(VrrpInstance instance)
        {
        }

        public void RemoveAddresses(VrrpInstance instance)
        {
        }

        public void SendGratuitousArps(VrrpInstance instance, int rounds)
        {
        }

        public void StateChanged(VrrpInstance instance, VrrpInstanceState previous)
        {
        }
    }
}
