using System.Net;
using Fulcrum.Balancing;

namespace Fulcrum.Director;

/// <summary>What `fulcrum run` was told on its command line.</summary>
public sealed record DirectorOptions
{
    /// <summary>The interface the director receives virtual-service traffic on and sends it out of (DR: one L2 segment).</summary>
    public string Interface { get; init; } = "eth0";

    /// <summary>The Unix control socket for `fulcrum adm`; one per daemon when several run on one machine.</summary>
    public string ControlSocketPath { get; init; } = ControlProtocol.DefaultSocketPath;

    /// <summary>A keepalived.conf to load at start (issue 3 brings the full grammar).</summary>
    public string? ConfigFile { get; init; }

    /// <summary>
    /// The firewall-mark rules file (<c>--fwmark-rules</c>): which destinations carry which mark, for fwmark
    /// services (Balancing/README.md, "Firewall marks").
    /// </summary>
    public string? FwMarkRulesFile { get; init; }

    /// <summary>
    /// The connection table's hard bound, all workers together (each worker gets an equal share). IPVS's own
    /// table grows without one; this bound is what the SYN-flood defense measures occupancy against.
    /// </summary>
    public int MaxConnections { get; init; } = 1 << 20;

    /// <summary>Where Prometheus metrics are served (`--metrics ADDR:PORT`); null when `--metrics off`.</summary>
    public IPEndPoint? MetricsEndpoint { get; init; } = Metrics.MetricsEndpoint.Default;

    /// <summary>sysctl net.ipv4.vs.sloppy_tcp: schedule TCP flows from any packet but a RST, not only a SYN.</summary>
    public bool SloppyTcp { get; init; }

    /// <summary>Data-plane workers (one AF_PACKET ring and connection table each); 0 = one per online CPU.</summary>
    public int Workers { get; init; }

    /// <summary>
    /// How many leading bits of the client's IPv4 address pick its worker (the fanout hash): 32 keeps every
    /// flow of one client on one worker, so persistence templates (-p) agree; a persistence netmask (-M)
    /// wider than this is exact only among clients that share a worker.
    /// </summary>
    public int FanoutPrefix { get; init; } = 32;

    /// <summary>The SYN-flood defense sysctls (amemthresh, drop_entry, drop_packet, secure_tcp, am_droprate).</summary>
    public DefenseSettings Defense { get; init; } = new();

    /// <summary><see cref="Workers"/> with 0 resolved to the number of CPUs this process may run on.</summary>
    public int ResolvedWorkers => Workers > 0 ? Workers : Environment.ProcessorCount;

    /// <summary>Each worker's share of <see cref="MaxConnections"/>.</summary>
    public int MaxConnectionsPerWorker => Math.Max(1, (int)(((long)MaxConnections + ResolvedWorkers - 1) / ResolvedWorkers));

    /// <summary>Connection sync extensions (unicast peers, HMAC key); the daemons themselves are ipvsadm's or keepalived.conf's.</summary>
    public Sync.SyncOptions Sync { get; init; } = new();

    /// <summary>`--driver`: auto, tc, xdp, xdp-generic (kernel tier + C#), afxdp (C# on AF_XDP) or afpacket (C# only); see Linux/Bpf/KernelDriver.</summary>
    public string Driver { get; init; } = "auto";
}
