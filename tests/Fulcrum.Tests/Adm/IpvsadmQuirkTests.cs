using System.Net;
using Fulcrum.Adm;
using Fulcrum.Balancing;

namespace Fulcrum.Tests.Adm;

/// <summary>Smaller listing quirks, each traced to one line of ipvsadm.c.</summary>
public class IpvsadmQuirkTests
{
    [Fact]
    public void LocalNodeDest_ListsAsLocal_SavesAsGatewaying()
    {
        AdmHarness h = AdmHarness.Seed();
        // No ipvsadm switch creates a local-node dest; the kernel makes one for a local address.
        Assert.Equal(0, h.Control.AddDest(AdmHarness.Tcp(AdmHarness.Vip, 80), new DestSpec(IPAddress.Parse("198.51.100.1"), 80, ForwardingMethod.LocalNode)));
        Assert.Contains("  -> 198.51.100.1:80              Local   1      0          0         \n", h.Run("-Ln").Stdout, StringComparison.Ordinal);
        Assert.Contains("-a -t 198.51.100.100:80 -r 198.51.100.1:80 -g -w 1\n", h.Run("-Sn").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AddressPortText_IsCutAt59Chars_EvenInRules()
    {
        // addrport_to_anyname formats into a 60-byte buffer with snprintf.
        string longName = new('h', 70);
        AdmNames names = AdmNames.Parse("198.51.100.100 " + longName + "\n", "");
        var control = new FakeIpvsControl();
        Ipvsadm.Run(["-A", "-t", "198.51.100.100:80"], TextReader.Null, control, "ipvsadm", () => names);
        AdmResult r = Ipvsadm.Run(["-S"], TextReader.Null, control, "ipvsadm", () => names);
        Assert.Equal("-A -t " + longName[..59] + " -s wlc\n", r.Stdout);
        r = Ipvsadm.Run(["-L"], TextReader.Null, control, "ipvsadm", () => names);
        Assert.Contains("\nTCP  " + longName[..28] + " wlc\n", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ShFlag3_PrintsEmptyParentheses()
    {
        // print_sched_flags names only sh-fallback/sh-port for sh, but the caller tests all three bits.
        var h = new AdmHarness();
        Assert.Equal(0, h.Control.AddService(new ServiceSpec(AdmHarness.Tcp(AdmHarness.Vip, 80), "sh", SchedulerFlags.Flag3)));
        Assert.Contains("TCP  198.51.100.100:80 sh ()\n", h.Run("-Ln").Stdout, StringComparison.Ordinal);
        Assert.Equal("-A -t 198.51.100.100:80 -s sh -b \n", h.Run("-Sn").Stdout);
    }

    [Fact]
    public void PersistenceEngine_ShownOnlyWhenPersistentInListButAlwaysInRules()
    {
        var h = new AdmHarness();
        h.Ok("-A -u 198.51.100.100:5060 -s rr --pe sip");
        Assert.Contains("UDP  198.51.100.100:5060 rr\n", h.Run("-Ln").Stdout, StringComparison.Ordinal);
        Assert.Equal("-A -u 198.51.100.100:5060 -s rr --pe sip\n", h.Run("-Sn").Stdout);
    }

    [Fact]
    public void SchedulerName_TruncatedTo15Chars()
    {
        var h = new AdmHarness();
        AdmResult r = h.Run("-A", "-t", "198.51.100.100:80", "-s", "wlc-and-a-very-long-name");
        Assert.Equal(new AdmResult(255, "", "Scheduler or persistence engine not found\n"), r);
        Assert.Equal("wlc-and-a-very-", h.Control.LastServiceSpec!.Scheduler); // strncpy into sched_name[16 - 1]
    }
}
