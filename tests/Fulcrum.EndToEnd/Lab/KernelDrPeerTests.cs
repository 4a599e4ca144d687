using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Lab;

/// <summary>The lab serves the VIP through a kernel DR director: it is a sound LVS-DR setup.</summary>
public sealed class KernelDrPeerTests : IClassFixture<LabFixture>
{
    private readonly LabCluster _lab;

    public KernelDrPeerTests(LabFixture fixture) => _lab = fixture.Lab;

    [Fact]
    public void Vip_ThroughNftablesDirector_SpreadsOverRealServersAndRepliesBypassIt()
    {
        _lab.AddVip("lb1");
        using var peer = KernelDrPeer.Install(_lab);
        try
        {
            ClientTools.CurlBody(_lab, "http://198.51.100.100/");
            long before = peer.RepliesSeen();
            var counts = new Dictionary<string, int>();
            for (int i = 0; i < 30; i++)
            {
                var name = ClientTools.CurlBody(_lab, "http://198.51.100.100/").Trim();
                counts[name] = counts.GetValueOrDefault(name) + 1;
            }

            // jhash of random client ports: each of 3 servers missing from 30 draws has odds 3·(2/3)^30 ≈ 1.6e-5.
            Assert.Equal(["rs1", "rs2", "rs3"], counts.Keys.Order());
            Assert.Equal(0, peer.RepliesSeen() - before);
            Assert.True(peer.Forwarded() >= 30 * 3, $"forwarded {peer.Forwarded()}");
        }
        finally
        {
            _lab.RemoveVip("lb1");
        }
    }

    [Fact]
    public void UdpVip_ThroughNftablesDirector_EchoAnswersFromTheVip()
    {
        _lab.AddVip("lb1");
        using var peer = KernelDrPeer.Install(_lab, backends: 1);
        try
        {
            // The client's socket is connected to the VIP: a reply from rs1's own address would be dropped.
            Assert.Equal("rs1\nhello", ClientTools.UdpRequest(_lab, "198.51.100.100", LabCluster.UdpEchoPort, "hello"));
        }
        finally
        {
            _lab.RemoveVip("lb1");
        }
    }

    [Fact]
    public void Wrk_DirectToRealServer_KeepAliveWithoutErrors()
    {
        var r = ClientTools.Wrk(_lab, "http://198.51.100.2/", connections: 8, seconds: 2);

        Assert.True(r.Requests > 100, r.Output);
        Assert.Equal(0, r.Errors);
    }
}
