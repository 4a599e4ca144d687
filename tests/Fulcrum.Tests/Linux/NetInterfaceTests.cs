using Fulcrum.Linux;

namespace Fulcrum.Tests.Linux;

public class NetInterfaceTests
{
    [Fact]
    public void FormatMac_PrintsWireOrder()
    {
        Assert.Equal("00:11:22:33:44:ff", NetInterface.FormatMac(0x0011223344ff));
    }

    [Fact]
    public void GetIndex_Loopback_IsOne()
    {
        Assert.Equal(1, NetInterface.GetIndex("lo"));
        Assert.Equal(0UL, NetInterface.GetMac("lo"));
        Assert.Equal(65536, NetInterface.GetMtu("lo"));
    }

    [Fact]
    public void GetIndex_Missing_ThrowsWithErrno()
    {
        var ex = Assert.Throws<LinuxException>(() => NetInterface.GetIndex("fx-nope0"));
        Assert.Equal(19, ex.Errno); // ENODEV
        Assert.Contains("ENODEV", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetIndex_NameTooLong_Throws()
    {
        Assert.Throws<ArgumentException>(() => NetInterface.GetIndex("a-name-that-is-too-long"));
    }
}
