using Fulcrum.Linux;

namespace Fulcrum.Tests.Linux;

public class FrameStatusTests
{
    [Fact]
    public void ChecksumNotReady_CsumNotReadyBit_True()
    {
        var s = new FrameStatus(0x1 | 0x8, 0, 0, 60);

        Assert.True(s.ChecksumNotReady);
        Assert.False(s.ChecksumValid);
        Assert.False(s.VlanValid);
    }

    [Fact]
    public void Vlan_ValidBits_ExposeTagAndId()
    {
        var s = new FrameStatus(0x1 | 0x10 | 0x40, 0x2064, 0x8100, 60);

        Assert.True(s.VlanValid);
        Assert.Equal(0x2064, s.VlanTci);
        Assert.Equal(0x064, s.VlanId);
        Assert.Equal(0x8100, s.VlanTpid);
    }

    [Fact]
    public void Vlan_NotValid_TagReadsZero()
    {
        var s = new FrameStatus(0x1, 0x2064, 0x8100, 60);

        Assert.Equal(0, s.VlanTci);
        Assert.Equal(0, s.VlanTpid);
    }
}
