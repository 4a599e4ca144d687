using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.Linux;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Sync;

/// <summary>
/// Two directors (the real `fulcrum run -f keepalived.conf` in lb1 and lb2) with VRRP and, where the
/// test says so, `lvs_sync_daemon eth0 VI_1`: the MASTER (lb1) is SIGKILLed while 50 keep-alive clients
/// each send a request every 50 ms, and the test checks which real server answers each connection after
/// lb2 took the VIP. With sync every connection keeps its real server; without sync `mh` keeps them
/// (consistent hashing, sloppy_tcp) and `rr` breaks them, which shows the sync test measures something.
/// The sync test and its `rr` control run over IPv4 and over IPv6 (a VRRPv3 instance for the IPv6 VIP,
/// the service on [2001:db8:100::100]:80; the sync messages themselves still go to 224.0.0.81).
/// </summary>
public sealed class ConnectionSyncTests : IClassFixture<DualStackLabFixture>
{
    private const int Clients = 50;
    private static readonly TimeSpan RequestInterval = TimeSpan.FromMilliseconds(50);

    private readonly LabCluster _lab;
    private readonly ITestOutputHelper _output;

    public ConnectionSyncTests(DualStackLabFixture fixture, ITestOutputHelper output)
    {
        _lab = fixture.Lab;
        _output = output;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Failover_WithSync_EveryConnectionKeepsItsRealServer(bool ipv6)
    {
        var r = Failover(sync: true, scheduler: "rr", sloppyTcp: false, ipv6);
        Assert.True(r.Errors == 0, $"{r.Errors} connection(s) failed: {r.FirstError}");
        Assert.Equal(Clients, r.Kept);
        Assert.True(r.SyncedOnBackup >= Clients, $"lb2 held {r.SyncedOnBackup} synced connections before the takeover");
    }

    /// <summary>
    /// The bulk resync (Fulcrum's extension): lb2 starts only once the 50 connections are established and
    /// idle, so no periodic sync message can tell it about them; the table its BACKUP daemon requests at
    /// start is all it has, and after lb1's death every connection still keeps its real server.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Failover_BackupJoinsWhileConnectionsIdle_ResyncKeepsEveryConnection(bool ipv6)
    {
        var r = Failover(sync: true, scheduler: "rr", sloppyTcp: false, ipv6, lateBackup: true);
        Assert.True(r.Errors == 0, $"{r.Errors} connection(s) failed: {r.FirstError}");
        Assert.Equal(Clients, r.Kept);
        Assert.True(r.SyncedOnBackup >= Clients, $"lb2 held {r.SyncedOnBackup} synced connections before the takeover");
    }

    [Fact]
    public void Failover_NoSyncMaglev_ConnectionsSurvive()
    {
        var r = Failover(sync: false, scheduler: "mh", sloppyTcp: true, ipv6: false);
        Assert.True(r.Errors == 0, $"{r.Errors} connection(s) failed: {r.FirstError}");
        Assert.Equal(Clients, r.Kept);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Failover_NoSyncRoundRobin_ConnectionsBreak(bool ipv6)
    {
        var r = Failover(sync: false, scheduler: "rr", sloppyTcp: true, ipv6);
        // rr on lb2 starts over: about two in three flows land on another real server, which resets them.
        Assert.True(Clients - r.Kept >= 10, $"only {Clients - r.Kept} of {Clients} connections broke without sync");
    }

    [Fact]
    public void SyncUnderLoad_BackupTableMatchesMastersWithinOneSecond()
    {
        var lb1 = LabDirector.Start(_lab, "lb1", "-f", WriteConfig("lb1", 150, sync: true, "rr", ipv6: false));
        LabDirector? lb2 = null;
        try
        {
            Wait.For(() => HoldsVip("lb1", ipv6: false), "lb1 to become MASTER", 20, () => "lb1's log:\n" + lb1.Process.ReadLog());
            lb2 = LabDirector.Start(_lab, "lb2", "-f", WriteConfig("lb2", 100, sync: true, "rr", ipv6: false));
            WaitForMasterAndDaemons(lb1, lb2, sync: true, ipv6: false);
            var cpu1 = ProcessCpu(lb1.Process.Pid);
            var cpu2 = ProcessCpu(lb2.Process.Pid);
            var syncCpu1 = ThreadCpu(lb1.Process.Pid, "sync-master");
            var syncCpu2 = ThreadCpu(lb2.Process.Pid, "sync-backup");
            long sentBefore = SyncCounter(lb1, "sent_bytes");
            long recordsBefore = SyncCounter(lb1, "sent_records");

            const int Rate = 2000;
            const int Seconds = 10;
            var load = Load(Rate, Seconds);
            var loadEnd = Stopwatch.GetTimestamp();
            double cpuSeconds = load.Elapsed.TotalSeconds;
            double lb1Cpu = (ProcessCpu(lb1.Process.Pid) - cpu1) / cpuSeconds;
            double lb2Cpu = (ProcessCpu(lb2.Process.Pid) - cpu2) / cpuSeconds;
            double master = (ThreadCpu(lb1.Process.Pid, "sync-master") - syncCpu1) / cpuSeconds;
            double backup = (ThreadCpu(lb2.Process.Pid, "sync-backup") - syncCpu2) / cpuSeconds;

            // The backup's table is read first: if it already holds every connection the master has
            // (the master's no longer changes: the load is over), it did so when that read began. The
            // master's is read once, after the backup's first read: listing 11,000 entries takes ~0.5 s on
            // a loaded machine, and reading both each round made the rounds ~1 s apart, coarser than the
            // 1 s this measures (a match seen at +1.04 s after one entry was missing at +0.001 s).
            Dictionary<string, string>? lastMissing = null;
            Dictionary<string, string>? masterTable = null;
            double matchedAfter = -1;
            var deadline = loadEnd + Stopwatch.Frequency * 5;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                double startedAfter = Stopwatch.GetElapsedTime(loadEnd).TotalSeconds;
                var backupTable = Connections(lb2);
                masterTable ??= Connections(lb1);
                var missing = masterTable.Where(m => !backupTable.TryGetValue(m.Key, out var v) || v != m.Value).ToDictionary();
                _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"+{startedAfter:0.000} s: master {masterTable.Count} connections, backup {backupTable.Count}, {missing.Count} missing or different"));
                if (missing.Count == 0 && masterTable.Count > 0)
                {
                    matchedAfter = startedAfter;
                    break;
                }
                lastMissing = missing;
            }
            long sentBytes = SyncCounter(lb1, "sent_bytes") - sentBefore;
            long sentRecords = SyncCounter(lb1, "sent_records") - recordsBefore;
            _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"load: {load.Succeeded} connections ok, {load.Failed} failed in {load.Elapsed.TotalSeconds:0.00} s ({load.Succeeded / load.Elapsed.TotalSeconds:0} conn/s)"));
            _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sync: {sentBytes / load.Elapsed.TotalSeconds:0} bytes/s, {sentRecords / load.Elapsed.TotalSeconds:0} records/s; CPU lb1 {lb1Cpu:P1} (sync-master thread {master:P1}), lb2 {lb2Cpu:P1} (sync-backup thread {backup:P1})"));
            Assert.True(load.Succeeded >= Rate * Seconds * 9 / 10, $"the load generator made only {load.Succeeded} connections");
            Assert.True(matchedAfter >= 0, $"the backup never matched; e.g. {string.Join(", ", (lastMissing ?? []).Take(5))}");
            Assert.True(matchedAfter <= 1.0, $"the backup matched only {matchedAfter:0.000} s after the load ended");
            Assert.Equal("0", SyncCounter(lb1, "queue_drops").ToString(CultureInfo.InvariantCulture));
        }
        finally
        {
            Stop(lb1, lb2, ipv6: false);
        }
    }

    private sealed record FailoverResult(int Kept, int Errors, string? FirstError, int SyncedOnBackup);

    /// <param name="lateBackup">lb2 starts after the clients' first requests, while they pause (a resync's only).</param>
    private FailoverResult Failover(bool sync, string scheduler, bool sloppyTcp, bool ipv6, bool lateBackup = false)
    {
        string[] extra = sloppyTcp ? ["--sloppy-tcp"] : [];
        var vip = ipv6 ? LabAddresses.VipV6 : LabAddresses.Vip;
        // lb1 first, MASTER before lb2 exists: lb2 never holds the VIP, so no router has its MAC cached for it.
        var lb1 = LabDirector.Start(_lab, "lb1", ["-f", WriteConfig("lb1", 150, sync, scheduler, ipv6), .. extra]);
        string[] lb2Args = ["-f", WriteConfig("lb2", 100, sync, scheduler, ipv6), .. extra];
        LabDirector? lb2 = null;
        var clients = new List<Client>();
        try
        {
            Wait.For(() => HoldsVip("lb1", ipv6), "lb1 to become MASTER", 20, () => "lb1's log:\n" + lb1.Process.ReadLog());
            if (!lateBackup)
                lb2 = LabDirector.Start(_lab, "lb2", lb2Args);
            if (lb2 is not null)
                WaitForMasterAndDaemons(lb1, lb2, sync, ipv6);
            for (int i = 0; i < Clients; i++)
                clients.Add(new Client(KeepAliveClient.Open(_lab, vip)));
            foreach (var c in clients)
                c.Start();
            Wait.For(() => clients.All(c => c.Successes >= 10), "every client to complete 10 requests", 20);

            long served = 0;
            if (lb2 is null)
            {
                foreach (var c in clients)
                    c.Paused = true;
                Thread.Sleep(500); // the last answers and their ACKs are through
                served = SyncCounter(lb1, "resync_requests_served");
                lb2 = LabDirector.Start(_lab, "lb2", lb2Args);
                WaitForMasterAndDaemons(lb1, lb2, sync, ipv6);
            }

            int synced = 0;
            if (sync)
            {
                Wait.For(() => (synced = EstablishedTo(lb2)) >= Clients, $"lb2 to hold the {Clients} synced connections", 10);
            }
            if (lateBackup)
            {
                Assert.True(SyncCounter(lb1, "resync_requests_served") > served, "lb1 served no resync to lb2");
                var resumed = Stopwatch.GetTimestamp();
                foreach (var c in clients)
                    c.Paused = false;
                Wait.For(() => clients.All(c => c.SuccessesAfter(resumed) >= 3), "every client to go on through lb1 after the pause", 20);
            }

            Assert.True(HoldsVip("lb1", ipv6) && !HoldsVip("lb2", ipv6), "lb1 must still be the only MASTER when it is killed");
            var lb1Mac = _lab.Exec("lb1", "cat", "/sys/class/net/eth0/address").StdOut.Trim();
            var routerNeighbour = _lab.Exec("router", "ip", ipv6 ? "-6" : "-4", "neigh", "show", vip.ToString()).StdOut;
            Assert.True(routerNeighbour.Contains(lb1Mac, StringComparison.OrdinalIgnoreCase), $"the router sends the VIP's traffic to lb1 ({lb1Mac}): {routerNeighbour}");
            var killedAt = Stopwatch.GetTimestamp();
            lb1.Process.Signal("KILL");
            Assert.True(lb1.Process.WaitForExit(TimeSpan.FromSeconds(5)));
            while (!HoldsVip("lb2", ipv6) && Stopwatch.GetElapsedTime(killedAt) < TimeSpan.FromSeconds(10))
                Thread.Sleep(5);
            var takeover = Stopwatch.GetElapsedTime(killedAt);
            Wait.For(() => clients.All(c => c.Failed || c.SuccessesAfter(killedAt) >= 10),
                "every client to complete 10 requests after the takeover (or fail)", 40);
            foreach (var c in clients)
                c.Stop();
            Assert.True(HoldsVip("lb2", ipv6), "lb2 took the VIP");

            var outages = clients.Where(c => !c.Failed).Select(c => c.LongestGapSince(killedAt).TotalMilliseconds).Order().ToList();
            int kept = clients.Count(c => !c.Failed && c.AllSameServer);
            int errors = clients.Count(c => c.Failed);
            _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(ipv6 ? "IPv6" : "IPv4")} sync={sync} scheduler={scheduler} sloppy_tcp={sloppyTcp}: kept {kept}/{Clients} on their real server, {errors} failed, " +
                $"{clients.Count(c => !c.Failed && !c.AllSameServer)} moved; synced on lb2 before the kill: {synced}"));
            if (outages.Count > 0)
            {
                _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"VIP on lb2 {takeover.TotalMilliseconds:0} ms after the kill; outage seen by clients (longest wait between two responses after the kill): median {outages[outages.Count / 2]:0} ms, max {outages[^1]:0} ms"));
            }
            foreach (var c in clients.Where(c => c.Failed).Take(3))
                _output.WriteLine("error: " + c.Error);
            return new FailoverResult(kept, errors, clients.FirstOrDefault(c => c.Failed)?.Error, synced);
        }
        finally
        {
            foreach (var c in clients)
                c.Dispose();
            Stop(lb1, lb2, ipv6);
        }
    }

    private void WaitForMasterAndDaemons(LabDirector lb1, LabDirector lb2, bool sync, bool ipv6)
    {
        Wait.For(() => HoldsVip("lb1", ipv6) && !HoldsVip("lb2", ipv6), "lb1 to become MASTER and hold the VIP alone", 20);
        if (sync)
        {
            Wait.For(() => lb1.Adm("-L", "--daemon").StdOut.Contains("master sync daemon (mcast=eth0, syncid=51, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)", StringComparison.Ordinal),
                "lb1's master sync daemon", 10);
            Wait.For(() => lb2.Adm("-L", "--daemon").StdOut.Contains("backup sync daemon (mcast=eth0, syncid=51", StringComparison.Ordinal),
                "lb2's backup sync daemon", 10);
        }
        else
        {
            Assert.Equal("", lb1.Adm("-L", "--daemon").StdOut);
        }
    }

    private void Stop(LabDirector lb1, LabDirector? lb2, bool ipv6)
    {
        lb1.Process.Stop();
        lb2?.Process.Stop();
        // A SIGKILLed director leaves its VIP behind; the next test's directors must start clean.
        foreach (var host in new[] { "lb1", "lb2" })
            _lab.Exec(host, "ip", "addr", "del", VipPrefix(ipv6), "dev", "eth0");
    }

    private static string VipPrefix(bool ipv6) => ipv6 ? LabAddresses.VipV6 + "/128" : LabAddresses.Vip + "/32";

    private bool HoldsVip(string host, bool ipv6) =>
        _lab.Exec(host, "ip", ipv6 ? "-6" : "-4", "-o", "addr", "show", "dev", "eth0").StdOut.Contains(" " + VipPrefix(ipv6) + " ", StringComparison.Ordinal);

    private static int EstablishedTo(LabDirector director) =>
        director.Adm("-L", "-n", "-c").StdOut.Split('\n').Count(l => l.Contains("ESTABLISHED", StringComparison.Ordinal));

    /// <summary>-Lnc as client:port → "dest:port state" (entries of VIP:80 past SYN_RECV, which the kernel never syncs).</summary>
    private static Dictionary<string, string> Connections(LabDirector director)
    {
        var result = new Dictionary<string, string>();
        foreach (var line in director.Adm("-L", "-n", "-c").EnsureSuccess("adm -Lnc").StdOut.Split('\n'))
        {
            // pro expire state source virtual destination
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 6 || f[0] != "TCP" || f[2] == "SYN_RECV" || f[2] == "NONE")
                continue;
            result[f[3]] = f[5] + " " + f[2];
        }
        return result;
    }

    private static long SyncCounter(LabDirector director, string name)
    {
        using var doc = JsonDocument.Parse(director.Status(json: true).EnsureSuccess("status --json").StdOut);
        return doc.RootElement.GetProperty("sync").GetProperty(name).GetInt64();
    }

    /// <summary>utime + stime of a process, in seconds (USER_HZ 100).</summary>
    private static double ProcessCpu(int pid) => StatCpu($"/proc/{pid}/stat");

    private static double ThreadCpu(int pid, string name)
    {
        double total = 0;
        foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() == name)
                    total += StatCpu(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                // the thread ended
            }
        }
        return total;
    }

    private static double StatCpu(string path)
    {
        var s = File.ReadAllText(path);
        var f = s[(s.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    private sealed record LoadResult(int Succeeded, int Failed, TimeSpan Elapsed);

    /// <summary>
    /// <paramref name="rate"/> new connections per second from the client for <paramref name="seconds"/>:
    /// each connects to VIP:80, sends an HTTP/1.0 GET, reads to the end, closes. Connection i is due at
    /// i / rate; 64 threads in the client's namespace share the schedule.
    /// </summary>
    private LoadResult Load(int rate, int seconds)
    {
        int total = rate * seconds;
        int next = -1, ok = 0, failed = 0;
        var started = Stopwatch.GetTimestamp();
        var request = Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\nHost: vip\r\n\r\n");
        var threads = new List<Thread>();
        for (int t = 0; t < 64; t++)
        {
            var thread = new Thread(() => NetworkNamespace.RunIn(_lab.NamespaceOf("client"), () =>
            {
                var buffer = new byte[4096];
                int i;
                while ((i = Interlocked.Increment(ref next)) < total)
                {
                    var due = started + (long)(i * (double)Stopwatch.Frequency / rate);
                    while (Stopwatch.GetTimestamp() < due)
                        Thread.Sleep(1);
                    try
                    {
                        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 5000, SendTimeout = 5000 };
                        s.Connect(new IPEndPoint(LabAddresses.Vip, 80));
                        s.Send(request);
                        while (s.Receive(buffer) > 0)
                        {
                        }
                        Interlocked.Increment(ref ok);
                    }
                    catch (SocketException)
                    {
                        Interlocked.Increment(ref failed);
                    }
                }
                return 0;
            }));
            threads.Add(thread);
            thread.Start();
        }
        foreach (var t in threads)
            t.Join();
        return new LoadResult(ok, failed, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// keepalived.conf for a director: one VRRPv3 instance (virtual_router_id 51, the sync id) holding the
    /// IPv4 or (an IPv6 instance, adverts from the link-local address) the IPv6 VIP, and the seed's service on it.
    /// </summary>
    private string WriteConfig(string host, int priority, bool sync, string scheduler, bool ipv6)
    {
        var path = Path.Combine(_lab.StateDirectory, $"keepalived-sync-{host}.conf");
        string vip = ipv6 ? LabAddresses.VipV6.ToString() : LabAddresses.Vip.ToString();
        var realServers = string.Concat((ipv6 ? LabAddresses.RealServersV6 : LabAddresses.RealServers)
            .Select(rs => $"\n    real_server {rs} 80 {{ weight 1 }}"));
        File.WriteAllText(path, $$"""
            global_defs {
                router_id {{host}}
                {{(sync ? "lvs_sync_daemon eth0 VI_1" : "")}}
            }
            vrrp_instance VI_1 {
                state BACKUP
                interface eth0
                virtual_router_id 51
                priority {{priority}}
                advert_int 0.5
                version 3
                virtual_ipaddress {
                    {{VipPrefix(ipv6)}} dev eth0
                }
            }
            virtual_server {{vip}} 80 {
                lb_algo {{scheduler}}
                lb_kind DR
                protocol TCP{{realServers}}
            }
            """);
        return path;
    }

    /// <summary>One keep-alive connection sending a request every 50 ms on its own thread, recording who answered when.</summary>
    private sealed class Client : IDisposable
    {
        private readonly Socket _socket;
        private readonly List<(long At, string Server)> _responses = [];
        private readonly Lock _gate = new();
        private Thread? _thread;
        private volatile bool _stop;
        private volatile bool _paused;

        public Client(Socket socket)
        {
            _socket = socket;
            // Requests sent during the outage are retransmitted by TCP until the new MASTER answers: late, not lost.
            _socket.ReceiveTimeout = 30000;
            _socket.SendTimeout = 30000;
        }

        public string? Error { get; private set; }

        public bool Failed => Error is not null;

        /// <summary>While set, the connection stays open and idle: no request, so no packet the MASTER could sync.</summary>
        public bool Paused
        {
            get => _paused;
            set => _paused = value;
        }

        public int Successes
        {
            get
            {
                lock (_gate)
                    return _responses.Count;
            }
        }

        public bool AllSameServer
        {
            get
            {
                lock (_gate)
                    return _responses.Count > 0 && _responses.All(r => r.Server == _responses[0].Server);
            }
        }

        public int SuccessesAfter(long at)
        {
            lock (_gate)
                return _responses.Count(r => r.At > at);
        }

        /// <summary>The longest wait between two consecutive responses from the last one before <paramref name="at"/> on.</summary>
        public TimeSpan LongestGapSince(long at)
        {
            lock (_gate)
            {
                long longest = 0;
                for (int i = 1; i < _responses.Count; i++)
                {
                    if (_responses[i].At > at)
                        longest = Math.Max(longest, _responses[i].At - _responses[i - 1].At);
                }
                return Stopwatch.GetElapsedTime(0, longest);
            }
        }

        public void Start()
        {
            _thread = new Thread(Run) { IsBackground = true };
            _thread.Start();
        }

        private void Run()
        {
            while (!_stop)
            {
                if (_paused)
                {
                    Thread.Sleep(10);
                    continue;
                }
                try
                {
                    var server = KeepAliveClient.Get(_socket);
                    lock (_gate)
                        _responses.Add((Stopwatch.GetTimestamp(), server));
                }
                catch (Exception e) when (e is SocketException or Xunit.Sdk.XunitException or ObjectDisposedException)
                {
                    if (!_stop)
                        Error = e.Message;
                    return;
                }
                Thread.Sleep(RequestInterval);
            }
        }

        public void Stop()
        {
            _stop = true;
            _thread?.Join(TimeSpan.FromSeconds(35));
        }

        public void Dispose()
        {
            _stop = true;
            _socket.Dispose();
            _thread?.Join(TimeSpan.FromSeconds(5));
        }
    }
}
