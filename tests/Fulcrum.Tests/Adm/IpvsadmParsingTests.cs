using System.Net;
using Fulcrum.Adm;
using Fulcrum.Balancing;

namespace Fulcrum.Tests.Adm;

/// <summary>popt's parsing model and process_options' defaults, observed through the stored table.</summary>
public class IpvsadmParsingTests
{
    private static readonly ServiceKey Vip80 = AdmHarness.Tcp(AdmHarness.Vip, 80);

    [Theory]
    [InlineData("-A -t 198.51.100.100:81 -p -s rr", 360u, "rr")]
    [InlineData("-A -t 198.51.100.100:81 -s rr -p", 360u, "rr")]
    [InlineData("-A -t 198.51.100.100:81 -p 600 -s rr", 600u, "rr")]
    [InlineData("-A -t 198.51.100.100:81 -p600", 600u, "wlc")]
    [InlineData("-A -t 198.51.100.100:81 --persistent=700", 700u, "wlc")]
    [InlineData("-A -t 198.51.100.100:81 -p --scheduler=sh", 360u, "sh")]
    [InlineData("-A -t 198.51.100.100:81", 0u, "wlc")]
    public void Persistent_OptionalArgument_TakenOnlyWhenNextWordIsNotAnOption(string args, uint timeout, string sched)
    {
        var h = new AdmHarness();
        h.Ok(args);
        ServiceSpec spec = h.Control.GetService(AdmHarness.Tcp(AdmHarness.Vip, 81))!.Spec;
        Assert.Equal(timeout, spec.PersistenceTimeout);
        Assert.Equal(sched, spec.Scheduler);
    }

    [Theory]
    [InlineData("-A -t198.51.100.100:80")]
    [InlineData("-At 198.51.100.100:80")]
    [InlineData("-A -t=198.51.100.100:80")]
    [InlineData("--add-service --tcp-service=198.51.100.100:80")]
    [InlineData("--add-service --tcp-service 198.51.100.100:80")]
    [InlineData("-A -t 198.51.100.100:http")]
    [InlineData("-A -t vip.example.com:www")]
    [InlineData("-A -t VIP:80")]
    [InlineData("-A -t 0xc6.51.25700:80")]
    [InlineData("-A -t 3325256804:80")]
    [InlineData("-A -- -t")]
    public void ServiceAddress_AcceptedSpellings_AllNameTheSameService(string args)
    {
        var h = new AdmHarness();
        AdmResult r = h.Run(AdmHarness.Split(args));
        if (args.EndsWith("-- -t", StringComparison.Ordinal))
        {
            // "--" ends option parsing: "-t" becomes a leftover argument.
            Assert.Equal(new AdmResult(2, "", "unexpected argument -t\n"), r);
            return;
        }
        Assert.Equal(new AdmResult(0, "", ""), r);
        Assert.NotNull(h.Control.GetService(Vip80));
    }

    [Fact]
    public void BracketedIPv4_LosesItsPort_AsIpvsadmResplitsTheHost()
    {
        // parse_service: "[1.2.3.4]:80" is not IPv6, so the port is looked for inside the brackets.
        AdmResult r = new AdmHarness().Run("-A", "-t", "[198.51.100.100]:80");
        Assert.Equal(new AdmResult(2, "", "Zero port specified for non-persistent service\n"), r);
    }

    [Theory]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9:8080 -g", 80)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9:8080", 80)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9:8080 -i", 80)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9:8080 -m", 8080)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -m", 80)]
    [InlineData("-a -r 198.51.100.9 -m -t 198.51.100.100:80", 0)]
    public void RealServerPort_FollowsIpvsadmRules(string args, int port)
    {
        AdmHarness h = AdmHarness.Seed();
        h.Ok(args);
        ServiceInfo svc = h.Control.GetService(Vip80)!;
        Assert.Contains(svc.Dests, d => d.Spec.Address.Equals(IPAddress.Parse("198.51.100.9")) && d.Spec.Port == port);
    }

    [Fact]
    public void EditService_ResetsOmittedFieldsToDefaults()
    {
        var h = new AdmHarness();
        h.Ok("-A -t 198.51.100.100:80 -s rr -p 600");
        h.Ok("-E -t 198.51.100.100:80");
        ServiceSpec spec = h.Control.GetService(Vip80)!.Spec;
        Assert.Equal("wlc", spec.Scheduler);
        Assert.Equal(0u, spec.PersistenceTimeout);
    }

    [Fact]
    public void EditServer_ResetsWeightAndMethod()
    {
        AdmHarness h = AdmHarness.Seed();
        h.Ok("-a -t 198.51.100.100:80 -r 198.51.100.9:80 -m -w 7");
        h.Ok("-e -t 198.51.100.100:80 -r 198.51.100.9:80");
        DestSpec d = h.Control.GetService(Vip80)!.Dests.Single(x => x.Spec.Address.Equals(IPAddress.Parse("198.51.100.9"))).Spec;
        Assert.Equal(1, d.Weight);
        Assert.Equal(ForwardingMethod.DirectRoute, d.Method);
    }

    [Fact]
    public void AddService_PortZeroPersistent_IsAllowed()
    {
        var h = new AdmHarness();
        h.Ok("-A -t 198.51.100.100 -p");
        Assert.Equal(360u, h.Control.GetService(AdmHarness.Tcp(AdmHarness.Vip, 0))!.Spec.PersistenceTimeout);
    }

    [Fact]
    public void Fwmark6_UsesIPv6KeyAndPrefix128()
    {
        var h = new AdmHarness();
        h.Ok("-A -f 5 -6 -p");
        ServiceInfo s = h.Control.GetServices().Single();
        Assert.Equal(new ServiceKey(IpProtocol.Tcp, IPAddress.IPv6Any, 0, 5), s.Spec.Key);
        Assert.Equal(128, s.Spec.NetmaskPrefix);
    }

    [Fact]
    public void Netmask_IPv4MaskBecomesPrefix()
    {
        var h = new AdmHarness();
        h.Ok("-A -t 198.51.100.100:80 -p -M 255.255.240.0");
        Assert.Equal(20, h.Control.GetService(Vip80)!.Spec.NetmaskPrefix);
    }

    [Fact]
    public void Netmask_NonContiguousPersistent_RefusedAsKernelEinval()
    {
        AdmResult r = new AdmHarness().Run("-A", "-t", "198.51.100.100:80", "-p", "-M", "255.0.255.0");
        Assert.Equal(new AdmResult(255, "", "Invalid operation.  Possibly wrong module version, address not unicast, ...\n"), r);
    }

    [Fact]
    public void SchedFlags_MapToKernelBits()
    {
        var h = new AdmHarness();
        h.Ok("-A -t 198.51.100.100:80 -s mh -b mh-port,mh-fallback");
        Assert.Equal(SchedulerFlags.Flag1 | SchedulerFlags.Flag2, h.Control.GetService(Vip80)!.Spec.Flags);
    }

    [Fact]
    public void SetTimeouts_ZeroKeepsCurrentValue()
    {
        var h = new AdmHarness();
        h.Ok("--set 0 60 0");
        Assert.Equal("Timeout (tcp tcpfin udp): 900 60 300\n", h.Run("-L", "--timeout").Stdout);
    }

    [Fact]
    public void Zero_WithoutService_ZeroesAll_WithServiceOnlyThatOne()
    {
        AdmHarness h = AdmHarness.Seed();
        h.Ok("-A -t 198.51.100.100:81");
        var stats = new IpvsStats(5, 5, 5, 5, 5);
        h.Control.SetServiceCounters(Vip80, stats, default);
        h.Control.SetServiceCounters(AdmHarness.Tcp(AdmHarness.Vip, 81), stats, default);
        h.Ok("-Z -t 198.51.100.100:81");
        Assert.Equal(stats, h.Control.GetService(Vip80)!.Stats);
        Assert.Equal(default, h.Control.GetService(AdmHarness.Tcp(AdmHarness.Vip, 81))!.Stats);
        h.Ok("-Z");
        Assert.Equal(default, h.Control.GetService(Vip80)!.Stats);
    }

    [Fact]
    public void DeleteAndFlush_RemoveEntries()
    {
        AdmHarness h = AdmHarness.Seed();
        h.Ok("-d -t 198.51.100.100:80 -r 198.51.100.2");
        Assert.Single(h.Control.GetService(Vip80)!.Dests);
        h.Ok("-D -t 198.51.100.100:80");
        Assert.Empty(h.Control.GetServices());
        h.Ok("-A -t 198.51.100.100:80");
        h.Ok("-C");
        Assert.Empty(h.Control.GetServices());
    }

    [Fact]
    public void Daemon_ListsNothingWhenNoSyncDaemonRuns()
    {
        Assert.Equal(new AdmResult(0, "", ""), new AdmHarness().Run("-L", "--daemon"));
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("-Ln", true)]
    [InlineData("-A -t 198.51.100.100:80", true)]
    [InlineData("-R", true)]
    [InlineData("-Lnc", true)]
    [InlineData("-h", false)]
    [InlineData("--version", false)]
    [InlineData("-n -L", false)]
    [InlineData("-L --bogus", false)]
    [InlineData("-A -t bad", false)]
    [InlineData("-A -t 198.51.100.100:80 -w 3", false)]
    [InlineData("-L -c --stats", false)]
    [InlineData("--set 1 2", false)]
    public void NeedsDirector_FalseForWhatIpvsadmAnswersBeforeTheKernel(string args, bool expected) =>
        Assert.Equal(expected, Ipvsadm.NeedsDirector(AdmHarness.Split(args), () => AdmHarness.Names));
}
