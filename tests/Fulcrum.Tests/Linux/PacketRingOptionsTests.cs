using Fulcrum.Linux;

namespace Fulcrum.Tests.Linux;

public class PacketRingOptionsTests
{
    public static TheoryData<PacketRingOptions> Invalid() => new()
    {
        new PacketRingOptions { BlockSize = 1000 },
        new PacketRingOptions { BlockCount = 0 },
        new PacketRingOptions { FrameSize = 2008 },
        new PacketRingOptions { TxFrameSize = 32 },
        new PacketRingOptions { TxFrameCount = 1000 },
        new PacketRingOptions { RetireBlockTimeoutMs = -1 },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Constructor_InvalidGeometry_ThrowsBeforeOpeningSocket(PacketRingOptions options)
    {
        Assert.Throws<ArgumentException>(() => new PacketRing(1, options));
    }
}
