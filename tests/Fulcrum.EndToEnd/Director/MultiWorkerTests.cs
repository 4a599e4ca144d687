using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Director;

/// <summary>
/// The director with two workers in one PACKET_FANOUT group: flows from many clients spread over both,
/// every flow of a client stays on one, and the counters ipvsadm shows are the exact sums over workers.
/// </summary>
public sealed class MultiWorkerTests : IClassFixture<CSharpTierDirectorFixture>
{
    private const int Datagrams = 5;
    private const int PortsPerClient = 4;
    private static readonly string UdpVip = LabAddresses.Vip + ":" + LabCluster.UdpEchoPort;
    private readonly DirectorFixture _f;

    public MultiWorkerTests(CSharpTierDirectorFixture fixture)
    {
        _f = fixture;
        _f.ResetToSeed();
        _f.Director.Adm("-A", "-u", UdpVip, "-s", "rr").EnsureSuccess("ipvsadm -A -u");
        foreach (var rs in LabAddresses.RealServers)
        {
            _f.Director.Adm("-a", "-u", UdpVip, "-r", $"{rs}:{LabCluster.UdpEchoPort}", "-g").EnsureSuccess("ipvsadm -a -u");
        }
    }

    [Fact]
    public void Stats_DatagramsOverManyFlowsFromManyClients_CountExactlyN_SpreadOverBothWorkers()
    {
        var clients = Enumerable.Range(20, 16).Select(i => "203.0.113." + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        AddClientAddresses(clients);
        try
        {
            Warm();
            var before = WorkerForwarded();
            int sent = Send(clients);
            Assert.Equal(clients.Length * PortsPerClient * Datagrams, sent);

            Wait.For(() => UdpInPackets() >= sent, $"ipvsadm --stats to count {sent} packets");
            Thread.Sleep(300);
            Assert.Equal(sent, UdpInPackets());

            // One connection per flow, listed from both workers' tables (other tests' flows may linger: -C
            // leaves connections to expire, as in the kernel).
            var listing = _f.Director.Adm("-lnc").EnsureSuccess("ipvsadm -lnc").StdOut;
            int flows = listing.Split('\n').Count(l => l.Contains(UdpVip, StringComparison.Ordinal) &&
                clients.Any(c => l.Contains(" " + c + ":", StringComparison.Ordinal)));
            Assert.Equal(clients.Length * PortsPerClient, flows);

            var after = WorkerForwarded();
            Assert.Equal(DirectorFixture.Workers, after.Length);
            Assert.Equal(sent, after.Sum() - before.Sum());
            Assert.All(Enumerable.Range(0, after.Length), w => Assert.True(after[w] - before[w] > 0, $"worker {w} forwarded nothing of {sent}"));

            var status = _f.Director.Status().EnsureSuccess("fulcrum status").StdOut;
            Assert.Contains("Workers: 2\n", status, StringComparison.Ordinal);
            Assert.Contains("  worker 0: received ", status, StringComparison.Ordinal);
            Assert.Contains("  worker 1: received ", status, StringComparison.Ordinal);
        }
        finally
        {
            RemoveClientAddresses(clients);
        }
    }

    [Fact]
    public void Fanout_EveryFlowOfOneClient_LandsOnOneWorker()
    {
        Warm();
        var before = WorkerForwarded();
        int sent = Send(["203.0.113.10"]);
        Wait.For(() => WorkerForwarded().Sum() - before.Sum() >= sent, $"{sent} datagrams to be forwarded");

        var delta = WorkerForwarded().Zip(before, (a, b) => a - b).ToArray();
        Assert.Equal(sent, delta.Max());
        Assert.Equal(0, delta.Min());
    }

    /// <summary>Resolves the client's and the router's neighbours first, so no datagram waits in an ARP queue.</summary>
    private void Warm()
    {
        Assert.Contains(ClientTools.CurlBody(_f.Lab, _f.VipUrl).Trim(), (string[])["rs1", "rs2", "rs3"]);
        Thread.Sleep(200); // the connection's last ACK
    }

    /// <summary>Sends <see cref="Datagrams"/> datagrams on each of <see cref="PortsPerClient"/> sockets per client address.</summary>
    private int Send(IReadOnlyList<string> clients) => NetworkNamespace.RunIn(_f.Lab.NamespaceOf("client"), () =>
    {
        int sent = 0;
        var vip = new IPEndPoint(LabAddresses.Vip, LabCluster.UdpEchoPort);
        // Every socket stays open until all are done: a port freed by one could be handed to the next bind, and two
        // "flows" with one 5-tuple are one connection (a listing one short, seen once in CI).
        var sockets = new List<Socket>();
        try
        {
            foreach (var client in clients)
            {
                for (int p = 0; p < PortsPerClient; p++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    sockets.Add(socket);
                    socket.Bind(new IPEndPoint(IPAddress.Parse(client), 0));
                    for (int d = 0; d < Datagrams; d++)
                    {
                        socket.SendTo(Encoding.ASCII.GetBytes($"mc-{client}-{p}-{d}"), vip);
                        sent++;
                    }
                }
            }
        }
        finally
        {
            foreach (var s in sockets)
                s.Dispose();
        }

        return sent;
    });

    private long UdpInPackets()
    {
        var stats = _f.Director.Adm("-ln", "--stats", "--exact").EnsureSuccess("ipvsadm --stats").StdOut;
        var line = stats.Split('\n').Single(l => l.StartsWith("UDP  " + UdpVip, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], CultureInfo.InvariantCulture);
    }

    private long[] WorkerForwarded()
    {
        var json = _f.Director.Status(json: true).EnsureSuccess("fulcrum status --json").StdOut;
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("workers").EnumerateArray().Select(w => w.GetProperty("forwarded").GetInt64()).ToArray();
    }

    private void AddClientAddresses(IEnumerable<string> addresses)
    {
        foreach (var a in addresses)
        {
            _f.Lab.Exec("client", "ip", "addr", "replace", a + "/24", "dev", "eth0").EnsureSuccess("client address " + a);
        }
    }

    private void RemoveClientAddresses(IEnumerable<string> addresses)
    {
        foreach (var a in addresses)
        {
            _f.Lab.Exec("client", "ip", "addr", "del", a + "/24", "dev", "eth0");
        }
    }
}
