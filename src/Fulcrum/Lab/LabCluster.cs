using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Fulcrum.RealServerSetup;

namespace Fulcrum.Lab;

/// <summary>
/// The lab of design.md in network namespaces: client ── router ── switch ── lb1, lb2, rs1..rs3.
/// Namespaces are named "&lt;prefix&gt;-&lt;host&gt;"; the switch is a bridge in its own namespace
/// "&lt;prefix&gt;-sw", and veth pairs are created directly inside namespaces, so nothing of the lab
/// ever appears in the root namespace. Every host's interface is eth0 (the router: eth0 client side,
/// eth1 server side).
/// </summary>
/// <remarks>
/// Built with iproute2's `ip` (batched with `ip -batch`): this is control plane run once per lab, and
/// `ip` is the reference for what the kernel accepts, so P/Invoke rtnetlink would only add code.
/// Processes the lab starts are recorded (PID and start time) in <see cref="StateDirectory"/>, so that
/// <see cref="Down()"/> from another process kills exactly those, and nothing else.
/// </remarks>
public sealed class LabCluster
{
    public const string DefaultPrefix = "fulcrum";

    /// <summary>Where each lab keeps its state (tmpfs: a reboot, which removes namespaces, clears it).</summary>
    public const string StateRoot = "/run/fulcrum-lab";

    /// <summary>The namespace suffix of the bridge that joins lb1, lb2, rs1..rs3 and the router.</summary>
    public const string SwitchHost = "sw";

    public const int HttpPort = 80;

    public const int UdpEchoPort = 5353;

    private const string Ip = "ip";
    private const string ProcessesFile = "processes";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);
    private static readonly Lazy<bool> RootForwards = new(() => File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim() != "0");
    private readonly object _gate = new();
    private readonly Stopwatch _clock = new();

    public LabCluster(string prefix = DefaultPrefix)
    {
        if (!IsValidPrefix(prefix))
        {
            throw new ArgumentException($"lab prefix '{prefix}' must be 1-20 characters of a-z, 0-9", nameof(prefix));
        }

        Prefix = prefix;
        StateDirectory = Path.Combine(StateRoot, prefix);
    }

    /// <summary>Every host of the lab, in the order of design.md's table.</summary>
    public static IReadOnlyList<string> Hosts { get; } = ["client", "router", "lb1", "lb2", "rs1", "rs2", "rs3"];

    public static IReadOnlyList<string> RealServerHosts { get; } = ["rs1", "rs2", "rs3"];

    public string Prefix { get; }

    public string StateDirectory { get; }

    /// <summary>
    /// The command line (inside the real server's namespace) of the UDP echo server, answering
    /// "&lt;host&gt;\n" + payload on <see cref="UdpEchoPort"/>. Default: a Perl one-liner (perl-base is
    /// Essential in Debian, so always there); a process-per-datagram socat would be too slow to
    /// measure with. The CLI can swap in `fulcrum lab udp-echo` (<see cref="UdpEchoServer"/>).
    /// </summary>
    public Func<string, IReadOnlyList<string>>? UdpEchoCommand { get; init; }

    /// <summary>
    /// Also IPv6 (an additive option; IPv4 is always there): every interface gets its 2001:db8:: address
    /// (<see cref="LabAddresses.OfV6"/>, without DAD so it is usable at once), default routes via the router,
    /// which forwards IPv6; rs1..rs3 are real servers for <see cref="LabAddresses.VipV6"/> too, nginx also
    /// listens on [::]:80 and the UDP echo also binds the real server's IPv6 address and the IPv6 VIP.
    /// </summary>
    public bool Ipv6 { get; init; }

    /// <summary>
    /// Makes the wire fit for a director running the kernel tier in native XDP (`--driver xdp`) on its veth, as a
    /// real NIC's wire is: the switch's lb1 and lb2 ports run fulcrum_peer.bpf.o (veth accepts an XDP_TX frame only
    /// into a peer that runs an XDP program; without one it drops them all), and the client sends complete TCP/UDP
    /// checksums (`ethtool -K eth0 tx off`), because native XDP turns the skb into an xdp_frame and loses the
    /// CHECKSUM_PARTIAL mark a local sender's frames carry between veths. Default: on when FULCRUM_DRIVER is xdp.
    /// </summary>
    public bool NativeXdpWire { get; init; } = LabDirector.DefaultDriver == "xdp";

    /// <summary>Progress lines of <see cref="Up"/> with elapsed milliseconds (for `lab up -v`), or null.</summary>
    public TextWriter? Log { get; init; }

    /// <summary>True while the lab's namespaces exist.</summary>
    public bool IsUp => NamespaceExists(NamespaceOf("client"));

    /// <summary>A lab with a fresh random prefix (for tests and benchmarks that run side by side).</summary>
    public static LabCluster WithRandomPrefix(string basePrefix = "fl")
    {
        var suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        return new LabCluster(basePrefix + suffix);
    }

    public static bool IsValidPrefix(string prefix)
    {
        if (prefix.Length is 0 or > 20)
        {
            return false;
        }

        foreach (var c in prefix)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Prefixes of labs that have state on this machine (up, or half torn down).</summary>
    public static IReadOnlyList<string> ExistingPrefixes()
    {
        if (!Directory.Exists(StateRoot))
        {
            return [];
        }

        var list = new List<string>();
        foreach (var d in Directory.GetDirectories(StateRoot))
        {
            list.Add(Path.GetFileName(d));
        }

        list.Sort(StringComparer.Ordinal);
        return list;
    }

    /// <summary>The network namespace of a host ("rs1" → "fulcrum-rs1"); "sw" is the switch.</summary>
    public string NamespaceOf(string host)
    {
        if (host != SwitchHost && !Hosts.Contains(host))
        {
            throw new ArgumentException($"no lab host '{host}' (hosts: {string.Join(", ", Hosts)})", nameof(host));
        }

        return Prefix + "-" + host;
    }

    /// <summary>
    /// Creates the namespaces, links, addresses and routes, prepares rs1..rs3 as DR real servers for
    /// the VIP, and starts their HTTP (nginx) and UDP echo servers; returns once they listen.
    /// On any failure, whatever was created is removed again.
    /// </summary>
    public void Up()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("the lab creates network namespaces and needs root");
        }

        if (IsUp || Directory.Exists(StateDirectory))
        {
            throw new InvalidOperationException($"lab '{Prefix}' is already up (or was not torn down): run down first");
        }

        _clock.Restart();
        try
        {
            Directory.CreateDirectory(StateDirectory);
            CreateNamespacesAndLinks();
            Trace("namespaces and links created");

            // One thread per host (not Parallel.ForEach): each mostly waits on child processes, and
            // blocked pool threads would make the thread pool ramp up slowly.
            var errors = new List<Exception>();
            var threads = new List<Thread>(Hosts.Count);
            foreach (var host in Hosts)
            {
                var t = new Thread(() =>
                {
                    try
                    {
                        ConfigureHost(host);
                    }
                    catch (Exception e)
                    {
                        lock (errors)
                        {
                            errors.Add(e);
                        }
                    }
                })
                { IsBackground = true, Name = "lab " + host };
                threads.Add(t);
                t.Start();
            }

            foreach (var t in threads)
            {
                t.Join();
            }

            if (errors.Count > 0)
            {
                throw new AggregateException($"lab '{Prefix}' failed to come up", errors);
            }

            Trace("up");
        }
        catch
        {
            Down();
            throw;
        }
    }

    /// <summary>
    /// Stops every process the lab started (SIGTERM, then SIGKILL), deletes its namespaces and state.
    /// Idempotent, and works from a process other than the one that ran <see cref="Up"/>.
    /// Returns the PIDs of processes still inside the namespaces that the lab did not start: they are
    /// left alone (and keep their namespace alive, anonymous, until they exit).
    /// </summary>
    public IReadOnlyList<int> Down()
    {
        StopTrackedProcesses();

        var namespaces = new List<string>();
        foreach (var host in Hosts)
        {
            namespaces.Add(NamespaceOf(host));
        }

        namespaces.Add(NamespaceOf(SwitchHost));
        namespaces.RemoveAll(n => !NamespaceExists(n));

        var strays = new List<int>();
        if (namespaces.Count > 0)
        {
            var pids = new StringBuilder();
            var del = new StringBuilder();
            foreach (var ns in namespaces)
            {
                pids.Append("netns pids ").Append(ns).Append('\n');
                del.Append("netns del ").Append(ns).Append('\n');
            }

            foreach (var line in ExternalCommand.Run(Ip, ["-force", "-batch", "-"], pids.ToString()).StdOut.Split('\n'))
            {
                if (int.TryParse(line.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                {
                    strays.Add(pid);
                }
            }

            ExternalCommand.Run(Ip, ["-force", "-batch", "-"], del.ToString());
            foreach (var ns in namespaces)
            {
                if (NamespaceExists(ns))
                {
                    throw new InvalidOperationException($"could not delete namespace {ns}");
                }
            }
        }

        if (Directory.Exists(StateDirectory))
        {
            Directory.Delete(StateDirectory, recursive: true);
        }

        return strays;
    }

    /// <summary>Runs a command inside a host's namespace (`ip netns exec`) and waits for it (30 s at most).</summary>
    public CommandResult Exec(string host, params string[] argv) => Exec(host, ExternalCommand.DefaultTimeout, argv);

    /// <summary>Runs a command inside a host's namespace and waits for it, killing it after <paramref name="timeout"/>.</summary>
    public CommandResult Exec(string host, TimeSpan timeout, params string[] argv)
    {
        ArgumentOutOfRangeException.ThrowIfZero(argv.Length);
        var args = new List<string>(argv.Length + 3) { "netns", "exec", NamespaceOf(host) };
        args.AddRange(argv);
        return ExternalCommand.Run(Ip, args, timeout: timeout);
    }

    public Task<CommandResult> ExecAsync(string host, TimeSpan timeout, params string[] argv) =>
        Task.Run(() => Exec(host, timeout, argv));

    /// <summary>
    /// Starts a long-running process inside a host's namespace, recorded so <see cref="Down()"/> stops
    /// it. Its output goes to <see cref="LabProcess.LogPath"/> (a file, so it may outlive this process).
    /// </summary>
    public LabProcess StartProcess(string host, params string[] argv)
    {
        ArgumentOutOfRangeException.ThrowIfZero(argv.Length);
        var ns = NamespaceOf(host);
        var logs = Path.Combine(StateDirectory, "logs");
        Directory.CreateDirectory(logs);
        string name = Path.GetFileName(argv[0]);
        string log;
        lock (_gate)
        {
            int n = 0;
            do
            {
                log = Path.Combine(logs, n == 0 ? $"{host}-{name}.log" : $"{host}-{name}.{n}.log");
                n++;
            }
            while (File.Exists(log));
            File.WriteAllText(log, "");
        }

        var psi = new ProcessStartInfo("sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");

        // exec all the way down: the PID we record is the program's own.
        psi.ArgumentList.Add("log=$1; shift; exec ip netns exec \"$@\" >>\"$log\" 2>&1 </dev/null");
        psi.ArgumentList.Add("sh");
        psi.ArgumentList.Add(log);
        psi.ArgumentList.Add(ns);
        foreach (var a in argv)
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {name} in {ns}");
        var start = LabProcess.ReadStartTime(process.Id, out _) ?? 0;
        var handle = new LabProcess(process.Id, start, host, name, log, process);
        lock (_gate)
        {
            File.AppendAllText(Path.Combine(StateDirectory, ProcessesFile), FormatRecord(handle));
        }

        return handle;
    }

    /// <summary>The processes the lab has recorded, alive or not.</summary>
    public IReadOnlyList<LabProcess> TrackedProcesses()
    {
        var path = Path.Combine(StateDirectory, ProcessesFile);
        string text;
        lock (_gate)
        {
            text = File.Exists(path) ? File.ReadAllText(path) : "";
        }

        return ParseRecords(text);
    }

    /// <summary>Adds the VIP (/32, as a secondary address) to a director's eth0, as the seed does by hand.</summary>
    public void AddVip(string host = "lb1") =>
        ExternalCommand.Run(Ip, ["-n", NamespaceOf(host), "addr", "add", LabAddresses.Vip + "/32", "dev", "eth0"])
            .EnsureSuccess($"adding the VIP to {host}");

    /// <summary>Adds the IPv6 VIP (/128, without DAD so it answers at once) to a director's eth0 (a lab with <see cref="Ipv6"/>).</summary>
    public void AddVipV6(string host = "lb1") =>
        ExternalCommand.Run(Ip, ["-n", NamespaceOf(host), "addr", "add", LabAddresses.VipV6 + "/128", "dev", "eth0", "nodad"])
            .EnsureSuccess($"adding the IPv6 VIP to {host}");

    public void RemoveVipV6(string host = "lb1") =>
        ExternalCommand.Run(Ip, ["-n", NamespaceOf(host), "addr", "del", LabAddresses.VipV6 + "/128", "dev", "eth0"])
            .EnsureSuccess($"removing the IPv6 VIP from {host}");

    public void RemoveVip(string host = "lb1") =>
        ExternalCommand.Run(Ip, ["-n", NamespaceOf(host), "addr", "del", LabAddresses.Vip + "/32", "dev", "eth0"])
            .EnsureSuccess($"removing the VIP from {host}");

    internal static string FormatRecord(LabProcess p) =>
        string.Create(CultureInfo.InvariantCulture, $"{p.Pid} {p.StartTime} {p.Host} {p.Name} {p.LogPath}\n");

    internal static IReadOnlyList<LabProcess> ParseRecords(string text)
    {
        var list = new List<LabProcess>();
        foreach (var line in text.Split('\n'))
        {
            var f = line.Split(' ', 5);
            if (f.Length == 5
                && int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && ulong.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong start))
            {
                list.Add(new LabProcess(pid, start, f[2], f[3], f[4], null));
            }
        }

        return list;
    }

    /// <summary>The nginx configuration of one real server: answers "&lt;name&gt;\n" on every path.</summary>
    internal static string NginxConfig(string name, string dir, bool ipv6 = false) => $$"""
        # Written by Fulcrum's lab for {{name}}; one process, no master (so one PID to track).
        master_process off;
        daemon off;
        pid {{dir}}/nginx.pid;
        error_log {{dir}}/error.log warn;
        worker_rlimit_nofile 65536;
        events { worker_connections 16384; }
        http {
            access_log off;
            client_body_temp_path {{dir}}/body;
            proxy_temp_path {{dir}}/proxy;
            fastcgi_temp_path {{dir}}/fastcgi;
            uwsgi_temp_path {{dir}}/uwsgi;
            scgi_temp_path {{dir}}/scgi;
            # Benchmarks hold keep-alive connections for the whole run.
            keepalive_requests 1000000;
            keepalive_timeout 300s;
            server {
                listen 80 default_server backlog=4096;{{(ipv6 ? "\n                listen [::]:80 default_server ipv6only=on backlog=4096;" : "")}}
                # A second port, for services spanning ports (a fwmark service over 80 and 8080).
                listen 8080 default_server backlog=4096;
                location / {
                    default_type text/plain;
                    return 200 "{{name}}\n";
                }
            }
        }

        """;

    private IReadOnlyList<string> DefaultUdpEchoCommand(string host) =>
    [
        // IO::Socket::IP (in perl-base too) takes IPv4 and IPv6 addresses alike.
        "perl", "-MIO::Socket::IP", "-MIO::Select", "-e",
        // One socket per address, so a reply to the VIP leaves from the VIP (a socket on 0.0.0.0 would
        // answer from the real server's own address, and the client would drop it).
        """
        my ($port, $name, @addrs) = @ARGV; my $sel = IO::Select->new;
        for my $a (@addrs) { $sel->add(IO::Socket::IP->new(LocalAddr => $a, LocalPort => $port, Proto => "udp") or die "bind $a:$port: $!\n") }
        while (1) { for my $s ($sel->can_read) { my $peer = $s->recv(my $m, 65535); $s->send("$name\n$m", 0, $peer) if defined $peer } }
        """,
        UdpEchoPort.ToString(CultureInfo.InvariantCulture), host,
        LabAddresses.Of(host).ToString(), LabAddresses.Vip.ToString(),
        .. (Ipv6 ? (string[])[LabAddresses.OfV6(host).ToString(), LabAddresses.VipV6.ToString()] : []),
    ];

    private void Trace(string what)
    {
        if (Log is { } log)
        {
            lock (log)
            {
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lab {Prefix}: {_clock.ElapsedMilliseconds,5} ms {what}"));
            }
        }
    }

    private static bool NamespaceExists(string ns) => File.Exists("/run/netns/" + ns);

    private void CreateNamespacesAndLinks()
    {
        var add = new StringBuilder();
        add.Append("netns add ").Append(NamespaceOf(SwitchHost)).Append('\n');
        foreach (var host in Hosts)
        {
            add.Append("netns add ").Append(NamespaceOf(host)).Append('\n');
        }

        ExternalCommand.Run(Ip, ["-batch", "-"], add.ToString()).EnsureSuccess("creating namespaces");

        // In the switch's namespace: the bridge, one veth per port whose peer is created straight in
        // the host's namespace as eth0 (the router's as eth1), so no name ever lands in the root one.
        // iproute2 6.1 rejects "peer name X address Y", hence "peer address Y name X".
        var sw = new StringBuilder();
        sw.Append("link add br0 type bridge\n");
        sw.Append("link set br0 up\n");
        foreach (var host in (string[])["router", "lb1", "lb2", "rs1", "rs2", "rs3"])
        {
            string dev = host == "router" ? "eth1" : "eth0";
            sw.Append(CultureInfo.InvariantCulture, $"link add {host} type veth peer address {LabAddresses.MacOf(host, dev)} name {dev} netns {NamespaceOf(host)}\n");
            sw.Append(CultureInfo.InvariantCulture, $"link set {host} master br0 up\n");
        }

        ExternalCommand.Run(Ip, ["-n", NamespaceOf(SwitchHost), "-batch", "-"], sw.ToString()).EnsureSuccess("creating the switch");

        // A switch forwards frames; it does not judge IP headers. With br_netfilter built in, the
        // bridge would run IPv4 sanity checks (br_validate_ipv4) and silently eat the malformed
        // frames the director must see and count, so turn its netfilter calls off in this namespace.
        Exec(SwitchHost, "sh", "-c", "for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e \"$f\" ] && echo 0 > \"$f\"; done; true")
            .EnsureSuccess("turning off bridge netfilter in the switch");

        ExternalCommand.Run(Ip,
            ["-n", NamespaceOf("client"), "link", "add", "eth0", "address", LabAddresses.MacOf("client"), "type", "veth",
             "peer", "address", LabAddresses.MacOf("router"), "name", "eth0", "netns", NamespaceOf("router")])
            .EnsureSuccess("linking client and router");

        if (NativeXdpWire)
        {
            var peer = Path.Combine(Path.GetDirectoryName(LabDirector.FulcrumPath) ?? ".", "fulcrum_peer.bpf.o");
            if (!File.Exists(peer))
            {
                peer = Path.Combine(AppContext.BaseDirectory, "fulcrum_peer.bpf.o");
            }

            foreach (var port in (string[])["lb1", "lb2"])
            {
                Exec(SwitchHost, Ip, "link", "set", "dev", port, "xdpdrv", "obj", peer, "sec", "xdp")
                    .EnsureSuccess($"attaching {peer} to the switch's {port} port (native XDP wire)");
            }

            Exec("client", "ethtool", "-K", "eth0", "tx", "off").EnsureSuccess("complete checksums from the client (native XDP wire)");
        }
    }

    private void ConfigureHost(string host)
    {
        var ns = NamespaceOf(host);
        var b = new StringBuilder("link set lo up\n");
        if (host == "router")
        {
            b.Append(CultureInfo.InvariantCulture, $"addr add {LabAddresses.RouterClientSide}/{LabAddresses.PrefixLength} dev eth0\n");
            b.Append(CultureInfo.InvariantCulture, $"addr add {LabAddresses.RouterServerSide}/{LabAddresses.PrefixLength} dev eth1\n");
            if (Ipv6)
            {
                b.Append(CultureInfo.InvariantCulture, $"addr add {LabAddresses.RouterClientSideV6}/{LabAddresses.PrefixLengthV6} dev eth0 nodad\n");
                b.Append(CultureInfo.InvariantCulture, $"addr add {LabAddresses.RouterServerSideV6}/{LabAddresses.PrefixLengthV6} dev eth1 nodad\n");
            }

            b.Append("link set eth0 up\nlink set eth1 up\n");
        }
        else
        {
            b.Append(CultureInfo.InvariantCulture, $"addr add {LabAddresses.Of(host)}/{LabAddresses.PrefixLength} dev eth0\n");
            if (Ipv6)
            {
                b.Append(CultureInfo.InvariantCulture, $"addr add {LabAddresses.OfV6(host)}/{LabAddresses.PrefixLengthV6} dev eth0 nodad\n");
            }

            b.Append("link set eth0 up\n");
            var gateway = host == "client" ? LabAddresses.RouterClientSide : LabAddresses.RouterServerSide;
            b.Append(CultureInfo.InvariantCulture, $"route add default via {gateway}\n");
            if (Ipv6)
            {
                var gateway6 = host == "client" ? LabAddresses.RouterClientSideV6 : LabAddresses.RouterServerSideV6;
                b.Append(CultureInfo.InvariantCulture, $"route add ::/0 via {gateway6}\n");
            }
        }

        ExternalCommand.Run(Ip, ["-n", ns, "-batch", "-"], b.ToString()).EnsureSuccess($"configuring {host}");
        Trace(host + ": addresses and routes");

        // New namespaces inherit IPv4 settings from the root one (net.core.devconf_inherit_init_net=0),
        // so forwarding is stated explicitly where it could differ; a process per namespace is the
        // cost (/proc/sys/net is the opener's namespace), so skip it when the root already says 0.
        if (host == "router" || RootForwards.Value)
        {
            Exec(host, "sysctl", "-q", "-w", host == "router" ? "net.ipv4.ip_forward=1" : "net.ipv4.ip_forward=0")
                .EnsureSuccess($"setting ip_forward in {host}");
        }

        // IPv6 settings start from the kernel defaults in a new namespace (forwarding 0), so only the router.
        if (Ipv6 && host == "router")
        {
            Exec(host, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1").EnsureSuccess("setting IPv6 forwarding in the router");
        }

        if (!RealServerHosts.Contains(host))
        {
            return;
        }

        // nginx listens on 0.0.0.0 and so can start before the VIP exists; it starts first because it
        // is the slowest to come up. The UDP echo binds the VIP itself, so it waits for it.
        var dir = Path.Combine(StateDirectory, host);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), NginxConfig(host, dir, Ipv6));
        var nginx = StartProcess(host, "nginx", "-e", Path.Combine(dir, "error.log"), "-p", dir, "-c", Path.Combine(dir, "nginx.conf"));

        new RealServerConfigurator(SystemRealServerHost.InNamespace(ns), Path.Combine(dir, "realserver.json"))
            .Up(LabAddresses.Vip, "eth0");
        if (Ipv6)
        {
            new RealServerConfigurator(SystemRealServerHost.InNamespace(ns), Path.Combine(dir, "realserver.json"))
                .Up(LabAddresses.VipV6, "eth0");
        }

        Trace(host + ": real server for the VIP");

        var echo = StartProcess(host, [.. (UdpEchoCommand ?? DefaultUdpEchoCommand)(host)]);
        Trace(host + ": servers started");
        WaitListening(nginx, "tcp", HttpPort);
        WaitListening(echo, "udp", UdpEchoPort);
        Trace(host + ": servers listening");
    }

    /// <summary>
    /// Waits until the process has a socket bound to the port. /proc/PID/net/* shows the sockets of the
    /// namespace that PID is in, so this needs no process of its own.
    /// </summary>
    private static void WaitListening(LabProcess p, string proto, int port)
    {
        var needle = string.Create(CultureInfo.InvariantCulture, $":{port:X4} ");
        var deadline = Stopwatch.GetTimestamp() + (long)(ReadyTimeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException($"{p} exited at start: {p.ReadLog().Trim()}");
            }

            string table;
            try
            {
                table = File.ReadAllText($"/proc/{p.Pid}/net/{proto}");
            }
            catch (IOException)
            {
                table = "";
            }

            foreach (var line in table.Split('\n'))
            {
                // "sl local_address rem_address st": TCP must be LISTEN (0A); a bound UDP socket is 07.
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 3 && f[1].EndsWith(needle.TrimEnd(), StringComparison.Ordinal) && (proto == "udp" || f[3] == "0A"))
                {
                    return;
                }
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{p} is not listening on {proto} port {port} after {ReadyTimeout.TotalSeconds} s: {p.ReadLog().Trim()}");
            }

            Thread.Sleep(5);
        }
    }

    private void StopTrackedProcesses()
    {
        var alive = new List<LabProcess>();
        foreach (var p in TrackedProcesses())
        {
            if (!p.HasExited)
            {
                alive.Add(p);
            }
        }

        if (alive.Count == 0)
        {
            return;
        }

        var pids = new List<int>(alive.Count);
        foreach (var p in alive)
        {
            pids.Add(p.Pid);
        }

        LabProcess.SendSignal("TERM", pids);
        var deadline = Stopwatch.GetTimestamp() + 3 * Stopwatch.Frequency;
        while (alive.Exists(p => !p.HasExited) && Stopwatch.GetTimestamp() < deadline)
        {
            Thread.Sleep(10);
        }

        pids.Clear();
        foreach (var p in alive)
        {
            if (!p.HasExited)
            {
                pids.Add(p.Pid);
            }
        }

        LabProcess.SendSignal("KILL", pids);
        foreach (var p in alive)
        {
            p.WaitForExit(TimeSpan.FromSeconds(3));
        }
    }
}
