using System.Net;
using Fulcrum.Adm;
using Fulcrum.Balancing;

namespace Fulcrum.Tests.Adm;

/// <summary>Runs `fulcrum adm` against a <see cref="FakeIpvsControl"/> with fixed hosts/services files.</summary>
internal sealed class AdmHarness
{
    public const string Vip = "198.51.100.100";

    // The same names make_golden.py uses for names.*.txt and conn.Lc.txt.
    public static readonly AdmNames Names = AdmNames.Parse(
        "127.0.0.1 localhost\n"
        + "198.51.100.100 vip.example.com vip   # the VIP\n"
        + "198.51.100.2 rs1.example.com\n"
        + "198.51.100.3 a-very-long-real-server-name.example.com\n"
        + "::1 localhost ip6-localhost\n"
        + "2001:db8::2 rs6.example.com\n",
        "# services\n"
        + "http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n"
        + "https\t\t443/tcp\n"
        + "domain\t\t53/tcp\n"
        + "domain\t\t53/udp\n");

    public FakeIpvsControl Control { get; } = new();

    public AdmResult Run(params string[] args) => Ipvsadm.Run(args, TextReader.Null, Control, "ipvsadm", () => Names);

    public AdmResult Restore(string stdin) => Ipvsadm.Run(["-R"], new StringReader(stdin), Control, "ipvsadm", () => Names);

    /// <summary>Runs a command line (split on spaces) and asserts it succeeded silently.</summary>
    public void Ok(string line)
    {
        AdmResult r = Run(Split(line));
        Assert.True(r.ExitCode == 0 && r.Stderr.Length == 0, $"`{line}` → {r.ExitCode}: {r.Stderr}");
    }

    public static string[] Split(string line) =>
        line.Length == 0 ? [] : line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public static string Golden(string name) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", "Adm", name));

    public static ServiceKey Tcp(string addr, ushort port) => new(IpProtocol.Tcp, IPAddress.Parse(addr), port);

    /// <summary>The reference's seed: VIP:80 rr with two DR real servers.</summary>
    public static AdmHarness Seed()
    {
        var h = new AdmHarness();
        h.Ok("-A -t 198.51.100.100:80 -s rr");
        h.Ok("-a -t 198.51.100.100:80 -r 198.51.100.2:80 -g -w 1");
        h.Ok("-a -t 198.51.100.100:80 -r 198.51.100.3:80 -g -w 1");
        return h;
    }
}
