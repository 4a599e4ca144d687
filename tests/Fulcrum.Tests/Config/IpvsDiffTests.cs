using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Config;

namespace Fulcrum.Tests.Config;

public class IpvsDiffTests
{
    private static IReadOnlyList<(ServiceSpec Service, IReadOnlyList<DestSpec> Dests)> Table(string conf)
    {
        var r = KeepalivedConfig.Parse(conf, "r.conf");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        return KeepalivedIpvs.ToIpvs(r.Configuration);
    }

    private const string Before = """
        virtual_server 198.51.100.100 80 {
            lb_kind DR
            lb_algo wrr
            real_server 198.51.100.2 80 {
                weight 3
            }
            real_server 198.51.100.3 80 {
            }
        }
        virtual_server 198.51.100.100 443 {
            lb_kind DR
            real_server 198.51.100.2 443 {
            }
        }
        """;

    [Fact]
    public void Compute_SameConfig_IsEmpty()
    {
        Assert.True(IpvsDiff.Compute(Table(Before), Table(Before)).IsEmpty);
    }

    [Fact]
    public void Compute_Reload_EditsInPlaceAddsAndRemoves()
    {
        const string After = """
            virtual_server 198.51.100.100 80 {
                lb_kind DR
                lb_algo wlc
                real_server 198.51.100.2 80 {
                    weight 5
                }
                real_server 198.51.100.4 80 {
                }
            }
            virtual_server 198.51.100.100 8080 {
                lb_kind DR
                real_server 198.51.100.2 8080 {
                }
            }
            """;
        var diff = IpvsDiff.Compute(Table(Before), Table(After));
        var web = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 80);
        var alt = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 8080);
        Assert.Equal([alt], diff.AddedServices.Select(s => s.Key));
        Assert.Equal("wlc", Assert.Single(diff.ChangedServices).Scheduler);
        Assert.Equal([new ServiceKey(IpProtocol.Tcp, IPAddress.Parse("198.51.100.100"), 443)], diff.RemovedServices);
        Assert.Equal(
            [(web, new DestSpec(IPAddress.Parse("198.51.100.4"), 80, ForwardingMethod.DirectRoute, 1)), (alt, new DestSpec(IPAddress.Parse("198.51.100.2"), 8080, ForwardingMethod.DirectRoute, 1))],
            diff.AddedDests);
        Assert.Equal([(web, new DestSpec(IPAddress.Parse("198.51.100.2"), 80, ForwardingMethod.DirectRoute, 5))], diff.ChangedDests);
        Assert.Equal([(web, new DestSpec(IPAddress.Parse("198.51.100.3"), 80, ForwardingMethod.DirectRoute, 1))], diff.RemovedDests);
    }
}
