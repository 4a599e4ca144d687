using System.Buffers.Binary;
using System.Net;
using Fulcrum.Linux;

namespace Fulcrum.Tests.Linux;

public class NeighbourTableTests
{
    [Fact]
    public void TryParseNeighbour_Ipv4WithMac_DecodesAllFields()
    {
        byte[] body = Neighbour(family: 2, ifIndex: 7, state: 0x04, dst: [198, 51, 100, 2], mac: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);

        Assert.True(NeighbourTable.TryParseNeighbour(body, out NeighbourEntry e));
        Assert.Equal(7, e.IfIndex);
        Assert.Equal(IPAddress.Parse("198.51.100.2"), e.Address);
        Assert.Equal(0x021122334455UL, e.Mac);
        Assert.Equal(NeighbourState.Stale, e.State);
        Assert.True(e.HasUsableMac);
    }

    [Fact]
    public void TryParseNeighbour_IncompleteWithoutMac_HasNoUsableMac()
    {
        byte[] body = Neighbour(family: 2, ifIndex: 3, state: 0x01, dst: [198, 51, 100, 9], mac: null);

        Assert.True(NeighbourTable.TryParseNeighbour(body, out NeighbourEntry e));
        Assert.Equal(0UL, e.Mac);
        Assert.False(e.HasUsableMac);
    }

    [Fact]
    public void TryParseNeighbour_Ipv6_DecodesAddress()
    {
        byte[] dst = IPAddress.Parse("2001:db8::2").GetAddressBytes();
        byte[] body = Neighbour(family: 10, ifIndex: 3, state: 0x02, dst: dst, mac: [2, 0, 0, 0, 0, 1]);

        Assert.True(NeighbourTable.TryParseNeighbour(body, out NeighbourEntry e));
        Assert.Equal(IPAddress.Parse("2001:db8::2"), e.Address);
    }

    [Theory]
    [InlineData(7)] // AF_BRIDGE fdb entries are not neighbours we use
    [InlineData(0)]
    public void TryParseNeighbour_OtherFamily_IsSkipped(byte family)
    {
        byte[] body = Neighbour(family, ifIndex: 3, state: 0x02, dst: [198, 51, 100, 2], mac: [2, 0, 0, 0, 0, 1]);

        Assert.False(NeighbourTable.TryParseNeighbour(body, out _));
    }

    [Fact]
    public void TryParseNeighbour_TruncatedAttribute_StopsWithoutThrowing()
    {
        byte[] body = Neighbour(family: 2, ifIndex: 3, state: 0x02, dst: [198, 51, 100, 2], mac: [2, 0, 0, 0, 0, 1]);

        Assert.True(NeighbourTable.TryParseNeighbour(body.AsSpan(0, body.Length - 3), out NeighbourEntry e));
        Assert.Equal(0UL, e.Mac);
        Assert.False(NeighbourTable.TryParseNeighbour(body.AsSpan(0, 8), out _));
    }

    [Theory]
    [InlineData(NeighbourState.Reachable, true)]
    [InlineData(NeighbourState.Stale, true)]
    [InlineData(NeighbourState.Delay, true)]
    [InlineData(NeighbourState.Probe, true)]
    [InlineData(NeighbourState.Permanent, true)]
    [InlineData(NeighbourState.Incomplete, false)]
    [InlineData(NeighbourState.Failed, false)]
    [InlineData(NeighbourState.None, false)]
    [InlineData(NeighbourState.NoArp, false)]
    public void HasUsableMac_ByState(NeighbourState state, bool usable)
    {
        Assert.Equal(usable, new NeighbourEntry(1, IPAddress.Loopback, 0x020000000001, state).HasUsableMac);
    }

    // ndmsg (12 bytes) then NDA_DST and NDA_LLADDR attributes, each padded to 4 bytes.
    private static byte[] Neighbour(byte family, int ifIndex, ushort state, byte[] dst, byte[]? mac)
    {
        var bytes = new List<byte>();
        var nd = new byte[12];
        nd[0] = family;
        BinaryPrimitives.WriteInt32LittleEndian(nd.AsSpan(4), ifIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(nd.AsSpan(8), state);
        bytes.AddRange(nd);
        AddAttribute(bytes, 1, dst);
        if (mac is not null)
        {
            AddAttribute(bytes, 2, mac);
        }

        return [.. bytes];
    }

    private static void AddAttribute(List<byte> bytes, ushort type, byte[] value)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)(4 + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), type);
        bytes.AddRange(header);
        bytes.AddRange(value);
        while (bytes.Count % 4 != 0)
        {
            bytes.Add(0);
        }
    }
}
