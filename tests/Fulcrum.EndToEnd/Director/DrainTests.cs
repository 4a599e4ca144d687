using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Director;

/// <summary>`fulcrum adm -d ... --drain SECONDS` (our extension) end to end through the lab's director.</summary>
public sealed class DrainTests : IClassFixture<DirectorFixture>
{
    private static readonly string Vip80 = LabAddresses.Vip + ":80";
    private readonly DirectorFixture _f;

    public DrainTests(DirectorFixture fixture)
    {
        _f = fixture;
        _f.ResetToSeed();
    }

    [Fact]
    public void Drain_OpenConnectionKeepsFlowingAtWeightZero_ThenTheRealServerLeavesOnceItCloses()
    {
        // FIN_WAIT after the client's FIN lasts tcpfin seconds: 1 s, so the closed connection ends fast.
        _f.Director.Adm("--set", "900", "1", "300").EnsureSuccess("ipvsadm --set");
        Socket? onRs1 = null;
        try
        {
            var others = new List<Socket>();
            for (int i = 0; i < 3 && onRs1 is null; i++)
            {
                var s = KeepAliveClient.Open(_f.Lab);
                if (KeepAliveClient.Get(s) == "rs1")
                {
                    onRs1 = s;
                }
                else
                {
                    others.Add(s);
                }
            }

            foreach (var s in others)
            {
                s.Dispose();
            }

            Assert.NotNull(onRs1);
            var rs1Line = $"  -> {LabAddresses.Rs1}:80";

            // Returns at once, silently, like ipvsadm; the daemon finishes the drain.
            var drain = _f.Director.Adm("-d", "-t", Vip80, "-r", LabAddresses.Rs1 + ":80", "--drain", "30");
            Assert.Equal((0, "", ""), (drain.ExitCode, drain.StdOut, drain.StdErr));
            Assert.Contains(rs1Line.PadRight(33) + " Route   0      1", _f.Director.Adm("-ln").EnsureSuccess("ipvsadm -ln").StdOut, StringComparison.Ordinal);

            var bodies = Enumerable.Range(0, 6).Select(_ => ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim()).ToList();
            Assert.DoesNotContain("rs1", bodies);
            Assert.Equal(3, bodies.Count(b => b == "rs2"));
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal("rs1", KeepAliveClient.Get(onRs1));
            }

            // Still draining: its connection is open, so it must not have left yet.
            Thread.Sleep(1000);
            Assert.Contains(rs1Line, _f.Director.Adm("-ln").EnsureSuccess("ipvsadm -ln").StdOut, StringComparison.Ordinal);

            onRs1.Shutdown(SocketShutdown.Both);
            onRs1.Dispose();
            Wait.For(() => !_f.Director.Adm("-ln").EnsureSuccess("ipvsadm -ln").StdOut.Contains(rs1Line, StringComparison.Ordinal),
                "rs1 to leave once its last connection ended");

            var listing = _f.Director.Adm("-ln").EnsureSuccess("ipvsadm -ln").StdOut;
            Assert.Contains($"  -> {LabAddresses.Rs2}:80", listing, StringComparison.Ordinal);
            Assert.Contains($"  -> {LabAddresses.Rs3}:80", listing, StringComparison.Ordinal);
            Assert.Contains("drain of real server 198.51.100.2:80 ended: Drained", _f.Director.Process.ReadLog(), StringComparison.Ordinal);
        }
        finally
        {
            onRs1?.Dispose();
            _f.Director.Adm("--set", "900", "120", "300").EnsureSuccess("ipvsadm --set (restore)");
        }
    }

    [Fact]
    public void Drain_WithoutDelete_IsRefusedLikeIpvsadmRefusesAnIllegalOption()
    {
        var r = _f.Director.Adm("-e", "-t", Vip80, "-r", LabAddresses.Rs1 + ":80", "--drain", "30");
        Assert.Equal((2, "", "Illegal 'drain' option with the 'edit-server' command\n"), (r.ExitCode, r.StdOut, r.StdErr));
        r = _f.Director.Adm("-d", "-t", Vip80, "-r", LabAddresses.Rs1 + ":80", "--drain", "0");
        Assert.Equal((2, "", "illegal drain timeout specified\n"), (r.ExitCode, r.StdOut, r.StdErr));
        r = _f.Director.Adm("-d", "-t", LabAddresses.Vip + ":81", "-r", LabAddresses.Rs1 + ":80", "--drain", "30");
        Assert.Equal((255, "", "Service not defined\n"), (r.ExitCode, r.StdOut, r.StdErr));
    }
}
