using System.Globalization;
using System.Text.RegularExpressions;
using Fulcrum.Lab;
using Fulcrum.RealServerSetup;

namespace Fulcrum.EndToEnd.Infrastructure;

/// <summary>What wrk reported.</summary>
public sealed record WrkResult(long Requests, double RequestsPerSecond, long ConnectErrors, long ReadErrors, long WriteErrors, long Timeouts, long Non2xx, string Output)
{
    public long Errors => ConnectErrors + ReadErrors + WriteErrors + Timeouts + Non2xx;
}

/// <summary>Clients run from a lab host (the client by default): curl, wrk, a UDP probe, arping.</summary>
public static partial class ClientTools
{
    /// <summary>`curl -s --max-time 2 URL` from <paramref name="host"/>.</summary>
    public static CommandResult Curl(LabCluster lab, string url, string host = "client", params string[] extra)
    {
        string[] argv = ["curl", "-s", "--max-time", "2", .. extra, url];
        return lab.Exec(host, TimeSpan.FromSeconds(10), argv);
    }

    /// <summary>The body curl got, or throws with curl's exit code (28: timeout, 7: refused ...).</summary>
    public static string CurlBody(LabCluster lab, string url, string host = "client") =>
        Curl(lab, url, host).EnsureSuccess($"curl {url} from {host}").StdOut;

    /// <summary>Runs wrk from the client; <paramref name="closeConnection"/> makes it one connection per request.</summary>
    public static WrkResult Wrk(LabCluster lab, string url, int threads = 1, int connections = 32, int seconds = 5, bool closeConnection = false)
    {
        var argv = new List<string>
        {
            "wrk", "-t" + threads.ToString(CultureInfo.InvariantCulture), "-c" + connections.ToString(CultureInfo.InvariantCulture),
            "-d" + seconds.ToString(CultureInfo.InvariantCulture) + "s",
        };
        if (closeConnection)
        {
            argv.Add("-H");
            argv.Add("Connection: close");
        }

        argv.Add(url);
        var r = lab.Exec("client", TimeSpan.FromSeconds(seconds + 30), [.. argv]).EnsureSuccess("wrk");
        return ParseWrk(r.StdOut);
    }

    public static WrkResult ParseWrk(string output)
    {
        var requests = WrkRequests().Match(output);
        var rate = WrkRate().Match(output);
        if (!requests.Success || !rate.Success)
        {
            throw new FormatException("not wrk output: " + output);
        }

        long connect = 0, read = 0, write = 0, timeout = 0, non2xx = 0;
        var errors = WrkErrors().Match(output);
        if (errors.Success)
        {
            connect = long.Parse(errors.Groups[1].Value, CultureInfo.InvariantCulture);
            read = long.Parse(errors.Groups[2].Value, CultureInfo.InvariantCulture);
            write = long.Parse(errors.Groups[3].Value, CultureInfo.InvariantCulture);
            timeout = long.Parse(errors.Groups[4].Value, CultureInfo.InvariantCulture);
        }

        var bad = WrkNon2xx().Match(output);
        if (bad.Success)
        {
            non2xx = long.Parse(bad.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        return new WrkResult(
            long.Parse(requests.Groups[1].Value, CultureInfo.InvariantCulture),
            double.Parse(rate.Groups[1].Value, CultureInfo.InvariantCulture),
            connect, read, write, timeout, non2xx, output);
    }

    /// <summary>
    /// Sends one UDP datagram from <paramref name="host"/> and returns the first reply ("" after
    /// <paramref name="timeoutSeconds"/> without one). Perl is Essential in Debian: always there, and its
    /// perl-base has IO::Socket::IP, which takes IPv4 and IPv6 addresses alike.
    /// </summary>
    public static string UdpRequest(LabCluster lab, string address, int port, string payload, string host = "client", double timeoutSeconds = 2)
    {
        const string Script = """
            my ($a, $p, $m, $t) = @ARGV;
            my $s = IO::Socket::IP->new(PeerAddr => $a, PeerPort => $p, Proto => "udp") or die "$!\n";
            $s->send($m); my $sel = IO::Select->new($s);
            if ($sel->can_read($t)) { $s->recv(my $r, 65535); print $r }
            """;
        return lab.Exec(host, TimeSpan.FromSeconds(timeoutSeconds + 10), "perl", "-MIO::Socket::IP", "-MIO::Select", "-e", Script,
            address, port.ToString(CultureInfo.InvariantCulture), payload, timeoutSeconds.ToString(CultureInfo.InvariantCulture))
            .EnsureSuccess("udp request").StdOut;
    }

    /// <summary>
    /// Broadcasts ARP requests for <paramref name="address"/> from <paramref name="host"/> and returns
    /// the MAC of every reply (lower case; one entry per reply).
    /// </summary>
    public static IReadOnlyList<string> ArpResponders(LabCluster lab, string address, string host = "router", string device = "eth1", int count = 2)
    {
        // -b: keep broadcasting, so every host that would answer gets every request.
        var r = lab.Exec(host, TimeSpan.FromSeconds(count + 10), "arping", "-b", "-c", count.ToString(CultureInfo.InvariantCulture),
            "-w", (count + 1).ToString(CultureInfo.InvariantCulture), "-I", device, address);
        if (r.ExitCode > 1)
        {
            r.EnsureSuccess("arping");
        }

        var macs = new List<string>();
        foreach (Match m in ArpingReply().Matches(r.StdOut))
        {
            macs.Add(m.Groups[1].Value.ToLowerInvariant());
        }

        return macs;
    }

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex WrkRequests();

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex WrkRate();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex WrkErrors();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex WrkNon2xx();

    [GeneratedRegex(@"reply from \S+ \[([0-9A-Fa-f:]{17})\]")]
    private static partial Regex ArpingReply();
}
