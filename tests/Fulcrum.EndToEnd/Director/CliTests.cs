using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.RealServerSetup;

namespace Fulcrum.EndToEnd.Director;

/// <summary>The `fulcrum` binary as an operator runs it: realserver, adm without a daemon, the daemon's socket and systemd readiness.</summary>
public sealed class CliTests
{
    [Fact]
    public void RealServerUpDown_InAFreshNamespace_SetsVipAndArpSysctls_ThenRestoresExactly()
    {
        Root.Require();
        var ns = "fc" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        Run("ip", "netns", "add", ns).EnsureSuccess("ip netns add");
        try
        {
            Run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1").EnsureSuccess("veth");
            Run("ip", "-n", ns, "link", "set", "lo", "up").EnsureSuccess("lo up");
            var before = Sysctls(ns);

            InNs(ns, LabDirector.FulcrumPath, "realserver", "up", "--vip", "198.51.100.100", "--dev", "eth0").EnsureSuccess("realserver up");
            Assert.Contains("198.51.100.100/32", InNs(ns, "ip", "-4", "addr", "show", "dev", "lo").StdOut, StringComparison.Ordinal);
            var up = Sysctls(ns);
            Assert.Equal(["1", "2", "1", "2"], up);

            InNs(ns, LabDirector.FulcrumPath, "realserver", "down", "--vip", "198.51.100.100").EnsureSuccess("realserver down");
            Assert.DoesNotContain("198.51.100.100", InNs(ns, "ip", "-4", "addr", "show", "dev", "lo").StdOut, StringComparison.Ordinal);
            Assert.Equal(before, Sysctls(ns));
        }
        finally
        {
            Run("ip", "netns", "del", ns);
        }
    }

    [Fact]
    public void Adm_WithoutADaemon_SaysSoAndExitsNonZero_ButAnswersHelpAndVersion()
    {
        var socket = $"/tmp/fulcrum-none-{Guid.NewGuid():N}.sock";
        var r = Run(LabDirector.FulcrumPath, "adm", "--control", socket, "-ln");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"no fulcrum director at {socket}", r.StdErr, StringComparison.Ordinal);
        Assert.Equal("", r.StdOut);

        var v = Run(LabDirector.FulcrumPath, "adm", "--control", socket, "-v").EnsureSuccess("adm -v");
        Assert.Equal("ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n", v.StdOut);
        var bad = Run(LabDirector.FulcrumPath, "adm", "-n", "-L");
        Assert.Equal(255, bad.ExitCode);
        Assert.Equal("Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n", bad.StdErr);
    }

    [Fact]
    public void Run_NotifiesSystemdWhenReady_OwnerOnlySocket_AndStopsCleanlyOnSigterm()
    {
        Root.Require();
        var ns = "fc" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        var dir = Directory.CreateTempSubdirectory("fulcrum-cli-");
        Run("ip", "netns", "add", ns).EnsureSuccess("ip netns add");
        Process? daemon = null;
        try
        {
            Run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1").EnsureSuccess("veth");
            Run("ip", "-n", ns, "link", "set", "eth0", "up").EnsureSuccess("eth0 up");
            var notifyPath = Path.Combine(dir.FullName, "notify");
            using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
            notify.ReceiveTimeout = 20000;
            var control = Path.Combine(dir.FullName, "ctl", "fulcrum.sock");

            var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "netns", "exec", ns, LabDirector.FulcrumPath, "run", "-i", "eth0", "--control", control })
            {
                psi.ArgumentList.Add(a);
            }

            psi.Environment["NOTIFY_SOCKET"] = notifyPath;
            daemon = Process.Start(psi)!;
            var buffer = new byte[256];
            int n = notify.Receive(buffer);
            Assert.Contains("READY=1", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(control));
            Assert.True(Run("ip", "netns", "exec", ns, "nft", "list", "table", "netdev", "fulcrum_eth0").Succeeded);

            Run("kill", "-TERM", daemon.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(daemon.WaitForExit(10000), "the daemon did not stop on SIGTERM");
            Assert.Equal(0, daemon.ExitCode);
            Assert.False(File.Exists(control), "the control socket outlived the daemon");
            Assert.False(Run("ip", "netns", "exec", ns, "nft", "list", "table", "netdev", "fulcrum_eth0").Succeeded, "the drop rules outlived the daemon");
        }
        finally
        {
            if (daemon is { HasExited: false })
            {
                daemon.Kill();
                daemon.WaitForExit();
            }

            daemon?.Dispose();
            Run("ip", "netns", "del", ns);
            dir.Delete(recursive: true);
        }
    }

    private static string[] Sysctls(string ns)
    {
        var r = InNs(ns, "sysctl", "-n", "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce",
            "net.ipv4.conf.eth0.arp_ignore", "net.ipv4.conf.eth0.arp_announce").EnsureSuccess("sysctl");
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static CommandResult InNs(string ns, params string[] argv) => Run("ip", ["netns", "exec", ns, .. argv]);

    private static CommandResult Run(string file, params string[] args) => ExternalCommand.Run(file, args);
}
