using Fulcrum.Adm;

namespace Fulcrum.Tests.Adm;

public class AdmAddressTests
{
    [Theory]
    [InlineData("10.1", 0x0A000001u)]
    [InlineData("1.2.3", 0x01020003u)]
    [InlineData("0x0a.0.0.1", 0x0A000001u)]
    [InlineData("010.0.0.1", 0x08000001u)]
    [InlineData("3325256804", 0xC6336464u)]
    [InlineData("1.2.3.4 anything", 0x01020304u)]
    [InlineData("0", 0u)]
    public void InetAton_GlibcForms_Accepted(string s, uint expected)
    {
        Assert.True(AdmAddress.TryInetAton(s, out uint v));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData("")]
    [InlineData("08.0.0.1")]
    [InlineData("1.2.3.256")]
    [InlineData("256.1.1.1")]
    [InlineData("4294967296")]
    [InlineData("0x")]
    [InlineData("1.2.3.4.5")]
    [InlineData("a.b.c.d")]
    [InlineData("1..2")]
    [InlineData(" 1.2.3.4")]
    public void InetAton_Malformed_Rejected(string s) => Assert.False(AdmAddress.TryInetAton(s, out _));

    [Theory]
    [InlineData("224.0.0.81", true)]
    [InlineData("224.0.0.081", false)]
    [InlineData("10.1", false)]
    [InlineData("1.2.3.4 ", false)]
    public void InetPton4_IsStrict(string s, bool ok) => Assert.Equal(ok, AdmAddress.TryParseIPv4Strict(s, out _));

    [Theory]
    [InlineData("2001:db8::1", true)]
    [InlineData("::ffff:1.2.3.4", true)]
    [InlineData("fe80::1%eth0", false)]
    [InlineData("[::1]", false)]
    [InlineData("1.2.3.4", false)]
    public void InetPton6_NoScopeNoBrackets(string s, bool ok) => Assert.Equal(ok, AdmAddress.TryParseIPv6(s, out _));

    [Theory]
    [InlineData(0xFFFFFF00u, 24)]
    [InlineData(0xFFFFFFFFu, 32)]
    [InlineData(0u, 0)]
    [InlineData(0xFF00FF00u, -1)]
    public void MaskToPrefix_ContiguousOnly(uint mask, int prefix) => Assert.Equal(prefix, AdmAddress.MaskToPrefix(mask));

    [Fact]
    public void Names_HostsAndServices_FollowFilesBackendRules()
    {
        AdmNames n = AdmHarness.Names;
        Assert.True(n.TryHostToIPv4("VIP.example.COM", out System.Net.IPAddress a));
        Assert.Equal("198.51.100.100", a.ToString());
        Assert.False(n.TryHostToIPv4("rs6.example.com", out _)); // IPv6-only name: gethostbyname is AF_INET
        Assert.Equal("vip.example.com", n.AddressToHost(System.Net.IPAddress.Parse("198.51.100.100")));
        Assert.Equal(80, n.ServiceToPort("www", "tcp"));
        Assert.Equal(-1, n.ServiceToPort("WWW", "tcp"));
        Assert.Equal(-1, n.ServiceToPort("https", "udp"));
        Assert.Equal("domain", n.PortToService(53, "udp"));
    }
}
