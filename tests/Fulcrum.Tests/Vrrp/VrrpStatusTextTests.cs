using System.Net;
using System.Text;
using Fulcrum.Vrrp;

namespace Fulcrum.Tests.Vrrp;

public class VrrpStatusTextTests
{
    [Fact]
    public void Append_Instances_OneLineEach()
    {
        var sb = new StringBuilder();
        VrrpStatusText.Append(sb,
        [
            new VrrpInstanceStatus("VI_1", "eth0", 51, 2, VrrpInstanceState.Master, 150, IPAddress.Parse("198.51.100.11"), [IPAddress.Parse("198.51.100.100")]),
            new VrrpInstanceStatus("VI_2", "eth1", 52, 3, VrrpInstanceState.Init, 100, null, []),
        ]);
        Assert.Equal(
            "VRRP instances:\n"
            + "  VI_1 eth0 vrid 51 v2 MASTER priority 150 master 198.51.100.11 vips 198.51.100.100\n"
            + "  VI_2 eth1 vrid 52 v3 INIT priority 100 master - vips\n",
            sb.ToString());
    }

    [Fact]
    public void Append_NoInstances_SaysNone()
    {
        var sb = new StringBuilder();
        VrrpStatusText.Append(sb, []);
        Assert.Equal("VRRP instances:\n  (none)\n", sb.ToString());
    }
}
