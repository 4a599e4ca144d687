using System.Diagnostics;
using System.Text;
using Fulcrum.Adm;

namespace Fulcrum.Tests.Adm;

/// <summary>-R: config_stream_read's tokenizing and restore_table's per-line processing.</summary>
public class IpvsadmRestoreTests
{
    private const string TryHelp = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n";

    public static TheoryData<string, string> RoundTrips() => new()
    {
        { "misc", "-Sn" },
        { "v6", "-Sn" },
        { "pt", "-Sn" },
        { "names", "-S" },
        { "names", "-Sn" },
    };

    [Theory]
    [MemberData(nameof(RoundTrips))]
    public void SaveThenRestore_IntoFreshTable_SavesIdentically(string table, string save)
    {
        AdmHarness source = table switch
        {
            "misc" => IpvsadmGoldenTests.Misc(),
            "v6" => IpvsadmGoldenTests.V6(),
            "pt" => IpvsadmGoldenTests.Thresholds(),
            _ => IpvsadmGoldenTests.Names(),
        };
        if (table == "names" && save == "-S")
            source.Ok("-D -t [2001:db8::2]:http"); // see SaveWithIPv6Names_DoesNotRestore
        string saved = source.Run(save).Stdout;
        Assert.NotEmpty(saved);

        var fresh = new AdmHarness();
        Assert.Equal(new AdmResult(0, "", ""), fresh.Restore(saved));
        Assert.Equal(saved, fresh.Run(save).Stdout);
    }

    [Fact]
    public void SaveWithIPv6Names_DoesNotRestore()
    {
        // -S prints "[name]:port"; parse_service only accepts an IPv6 literal inside brackets and
        // gethostbyname is IPv4-only, so ipvsadm cannot read its own line back.
        string saved = IpvsadmGoldenTests.Names().Run("-S").Stdout;
        Assert.Contains("-A -t [rs6.example.com]:http -s rr\n", saved, StringComparison.Ordinal);
        AdmResult r = new AdmHarness().Restore(saved);
        Assert.Equal(new AdmResult(2, "", "illegal virtual server address[:port] specified\n"), r);
    }

    [Fact]
    public void Restore_RestoreWithArguments_FailsOnTheArgumentFirst()
    {
        AdmResult r = new AdmHarness().Restore("-R # comment\n");
        Assert.Equal(new AdmResult(2, "", "unexpected argument #\n"), r);
    }

    [Fact]
    public void Restore_TokenizingQuirks_FollowConfigStream()
    {
        var h = new AdmHarness();
        string input =
            "ipvsadm -A -t 198.51.100.100:80 -s rr\n"         // leading "ipvsadm" dropped
            + "\n"                                              // empty line skipped
            + "   \t\n"                                         // blank line skipped
            + "ipvsadm\n"                                       // nothing left: skipped
            + "  -a\t-t 198.51.100.100:80   -r 198.51.100.2\r\n"  // blanks, tabs and CRLF
            + "-a -t 198.51.100.100:80 ipvsadm -r 198.51.100.3\n"; // every "ipvsadm" token is dropped
        Assert.Equal(new AdmResult(0, "", ""), h.Restore(input));
        Assert.Equal(2, h.Control.GetService(AdmHarness.Tcp(AdmHarness.Vip, 80))!.Dests.Count);
    }

    [Fact]
    public void Restore_LastLineWithoutNewline_IsApplied()
    {
        var h = new AdmHarness();
        Assert.Equal(0, h.Restore("-A -t 198.51.100.100:80\n-A -t 198.51.100.100:81").ExitCode);
        Assert.Equal(2, h.Control.GetServices().Count);
    }

    [Fact]
    public void Restore_LastLineEndingInTwoBlanksWithoutNewline_IsLost()
    {
        var h = new AdmHarness();
        Assert.Equal(0, h.Restore("-A -t 198.51.100.100:80\n-A -t 198.51.100.100:81  ").ExitCode);
        Assert.Single(h.Control.GetServices());
    }

    [Fact]
    public void Restore_KernelErrors_ContinueAndLastLineDecidesStatus()
    {
        AdmHarness h = AdmHarness.Seed();
        AdmResult r = h.Restore("-A -t 198.51.100.100:80\n-A -t 198.51.100.100:81\n");
        Assert.Equal(new AdmResult(0, "", "Service already exists\n"), r);
        Assert.NotNull(h.Control.GetService(AdmHarness.Tcp(AdmHarness.Vip, 81)));

        r = h.Restore("-A -t 198.51.100.100:82\n-A -t 198.51.100.100:80\n");
        Assert.Equal(new AdmResult(255, "", "Service already exists\n"), r);
        Assert.NotNull(h.Control.GetService(AdmHarness.Tcp(AdmHarness.Vip, 82)));
    }

    [Fact]
    public void Restore_PoptErrorOnALine_Continues()
    {
        var h = new AdmHarness();
        AdmResult r = h.Restore("-A --bogus\n-A -t 198.51.100.100:80\n");
        Assert.Equal(new AdmResult(0, "", "--bogus: unknown option\n"), r);
        Assert.Single(h.Control.GetServices());
    }

    [Fact]
    public void Restore_ValidationError_StopsEverythingWithStatus2()
    {
        var h = new AdmHarness();
        AdmResult r = h.Restore("-A -t 198.51.100.100:80\n-A -t bogus!\n-A -t 198.51.100.100:81\n");
        Assert.Equal(new AdmResult(2, "", "illegal virtual server address[:port] specified\n"), r);
        Assert.Single(h.Control.GetServices());
    }

    [Theory]
    [InlineData("-R\n")]
    [InlineData("# a comment is not skipped\n")]
    [InlineData("-n -L\n")]
    public void Restore_LineWithoutCommandOrWithRestore_ExitsWithTryHelp(string line)
    {
        var h = new AdmHarness();
        AdmResult r = h.Restore("-A -t 198.51.100.100:80\n" + line + "-A -t 198.51.100.100:81\n");
        Assert.Equal(new AdmResult(255, "", TryHelp), r);
        Assert.Single(h.Control.GetServices());
    }

    [Fact]
    public void Restore_ListLine_PrintsToStdout()
    {
        var h = new AdmHarness();
        AdmResult r = h.Restore("-A -t 198.51.100.100:80\n-L --timeout\n");
        Assert.Equal(new AdmResult(0, "Timeout (tcp tcpfin udp): 900 120 300\n", ""), r);
    }

    [Fact]
    public void Restore_TenThousandLines_IsFast()
    {
        var input = new StringBuilder();
        for (int i = 0; i < 100; i++)
        {
            input.Append("-A -t 10.1.").Append(i).Append(".1:80 -s rr\n");
            for (int j = 1; j <= 99; j++)
                input.Append("-a -t 10.1.").Append(i).Append(".1:80 -r 10.2.").Append(i).Append('.').Append(j).Append(":8080 -m -w 2\n");
        }

        var h = new AdmHarness();
        var sw = Stopwatch.StartNew();
        AdmResult r = h.Restore(input.ToString());
        sw.Stop();
        Assert.Equal(new AdmResult(0, "", ""), r);
        Assert.Equal(100, h.Control.GetServices().Count);
        Assert.Equal(9900, h.Control.GetServices().Sum(s => s.Dests.Count));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), $"10,000 lines took {sw.Elapsed}");
    }
}
