using System.Globalization;
using Fulcrum.Balancing;
using Fulcrum.Metrics;
using Fulcrum.Packets;
using Fulcrum.Vrrp;

namespace Fulcrum.Director;

/// <summary>
/// The director's metrics page: first node_exporter's IPVS collector, name for name and label for
/// label (collector/ipvs_linux.go, reading /proc/net/ip_vs_stats and /proc/net/ip_vs), so dashboards
/// built for a kernel LVS director work unchanged; then fulcrum_* families for what the kernel does
/// not show there: per-service and per-real-server counters, VRRP, health checks and the data plane.
/// Read from the same status report `fulcrum status` renders, so the two always agree.
/// </summary>
internal sealed class DirectorMetrics : IMetricsSource
{
    private static readonly string[] VrrpStates = ["init", "backup", "master", "fault", "stop"];

    private readonly DirectorStatus _status;

    public DirectorMetrics(DirectorStatus status) => _status = status;

    public void Write(MetricsWriter writer) => Write(writer, _status.Collect());

    internal static void Write(MetricsWriter w, StatusReport report)
    {
        // Each label set is rendered once and written in every family that carries it.
        var services = new List<Row<ServiceInfo>>(report.Services.Count);
        var backends = new List<Row<DestInfo>>();
        foreach (var s in report.Services)
        {
            services.Add(new(s, MetricLabels.Of(ServiceLabels(s.Spec.Key))));
            foreach (var d in s.Dests)
                backends.Add(new(d, MetricLabels.Of(BackendLabels(s.Spec.Key, d.Spec))));
        }

        WriteNodeIpvs(w, report.Services, backends);
        WriteServices(w, services, backends);
        WriteVrrp(w, report.Vrrp);
        WriteHealth(w, report);
        WriteDataPlane(w, report.Workers);
        if (report.Defense is { } defense)
            WriteDefense(w, defense, report.Workers);
    }

    // ip_vs_ctl.c's update_defense_level: the three /proc/sys/net/ipv4/vs knobs and what they do now.
    private static void WriteDefense(MetricsWriter w, IpvsDefense d, IReadOnlyList<WorkerCounters> workers)
    {
        w.Family("fulcrum_defense_connection_entries_available", "Connection entries still free across workers (the kernel's available memory for amemthresh).", MetricType.Gauge);
        w.Sample(d.Available);
        w.Family("fulcrum_defense_connection_entries_threshold", "amemthresh: below this many free entries the defenses switch on.", MetricType.Gauge);
        w.Sample((long)d.AmemThresh);
        w.Family("fulcrum_defense_mode", "Configured mode of each defense (0 off, 1 automatic, 2 automatic and acting now, 3 always), as the ipvs sysctls.", MetricType.Gauge);
        w.Sample((long)d.DropEntryMode, "defense", "drop_entry");
        w.Sample((long)d.DropPacketMode, "defense", "drop_packet");
        w.Sample((long)d.SecureTcpMode, "defense", "secure_tcp");
        w.Family("fulcrum_defense_active", "1 when the defense is acting now.", MetricType.Gauge);
        w.Sample(d.DropEntryActive ? 1 : 0, "defense", "drop_entry");
        w.Sample(d.DropRate != 0 ? 1 : 0, "defense", "drop_packet");
        w.Sample(d.SecureTcpActive ? 1 : 0, "defense", "secure_tcp");
        w.Family("fulcrum_defense_drop_packet_rate", "drop_packet drops 1 in this many new connections' packets; 0 when not dropping.", MetricType.Gauge);
        w.Sample((long)d.DropRate);
        WorkerFamily(w, workers, "fulcrum_defense_dropped_entries_total", "Connection entries drop_entry removed early.", static c => c.DroppedEntries);
    }

    // /proc/net/ip_vs_stats is the kernel's tot_stats: all services together, zeroed by `ipvsadm -Z`.
    private static void WriteNodeIpvs(MetricsWriter w, IReadOnlyList<ServiceInfo> services, List<Row<DestInfo>> backends)
    {
        ulong conns = 0, inPkts = 0, outPkts = 0, inBytes = 0, outBytes = 0;
        foreach (var s in services)
        {
            conns += s.Stats.Conns;
            inPkts += s.Stats.InPackets;
            outPkts += s.Stats.OutPackets;
            inBytes += s.Stats.InBytes;
            outBytes += s.Stats.OutBytes;
        }

        w.Family("node_ipvs_connections_total", "The total number of connections made.", MetricType.Counter);
        w.Sample(conns);
        w.Family("node_ipvs_incoming_packets_total", "The total number of incoming packets.", MetricType.Counter);
        w.Sample(inPkts);
        w.Family("node_ipvs_outgoing_packets_total", "The total number of outgoing packets.", MetricType.Counter);
        w.Sample(outPkts);
        w.Family("node_ipvs_incoming_bytes_total", "The total amount of incoming data.", MetricType.Counter);
        w.Sample(inBytes);
        w.Family("node_ipvs_outgoing_bytes_total", "The total amount of outgoing data.", MetricType.Counter);
        w.Sample(outBytes);

        w.Family("node_ipvs_backend_connections_active", "The current active connections by local and remote address.", MetricType.Gauge);
        foreach (var b in backends)
            w.Sample(b.Item.ActiveConns, b.Labels);
        w.Family("node_ipvs_backend_connections_inactive", "The current inactive connections by local and remote address.", MetricType.Gauge);
        foreach (var b in backends)
            w.Sample(b.Item.InactiveConns, b.Labels);
        w.Family("node_ipvs_backend_weight", "The current backend weight by local and remote address.", MetricType.Gauge);
        foreach (var b in backends)
            w.Sample(b.Item.Spec.Weight, b.Labels);
    }

    // ipvsadm -L --stats per service and per real server: what node_exporter cannot see in /proc/net/ip_vs.
    private static void WriteServices(MetricsWriter w, List<Row<ServiceInfo>> services, List<Row<DestInfo>> backends)
    {
        StatFamily(w, services, backends, "connections_total", "Connections scheduled (ipvsadm --stats Conns).", static s => s.Conns);
        StatFamily(w, services, backends, "incoming_packets_total", "Packets from clients (ipvsadm --stats InPkts).", static s => s.InPackets);
        StatFamily(w, services, backends, "outgoing_packets_total", "Packets to clients (ipvsadm --stats OutPkts; 0 with direct routing, as in the kernel).", static s => s.OutPackets);
        StatFamily(w, services, backends, "incoming_bytes_total", "Bytes from clients (ipvsadm --stats InBytes).", static s => s.InBytes);
        StatFamily(w, services, backends, "outgoing_bytes_total", "Bytes to clients (ipvsadm --stats OutBytes).", static s => s.OutBytes);

        w.Family("fulcrum_ipvs_backend_connections_persistent", "Persistence templates pointing at the real server.", MetricType.Gauge);
        foreach (var b in backends)
            w.Sample(b.Item.PersistentConns, b.Labels);
    }

    private static void StatFamily(MetricsWriter w, List<Row<ServiceInfo>> services, List<Row<DestInfo>> backends, string suffix, string help, Func<IpvsStats, ulong> pick)
    {
        w.Family("fulcrum_ipvs_service_" + suffix, help, MetricType.Counter);
        foreach (var s in services)
            w.Sample(pick(s.Item.Stats), s.Labels);
        w.Family("fulcrum_ipvs_backend_" + suffix, help, MetricType.Counter);
        foreach (var b in backends)
            w.Sample(pick(b.Item.Stats), b.Labels);
    }

    private static void WriteVrrp(MetricsWriter w, IReadOnlyList<VrrpInstanceStatus> instances)
    {
        // One series per possible state, 1 for the current one (OpenMetrics' StateSet): alerts read
        // fulcrum_vrrp_state{state="master"} == 1 without knowing an enum's numbers.
        w.Family("fulcrum_vrrp_state", "VRRP instance state: 1 for the state the instance is in, 0 for the others.", MetricType.Gauge);
        foreach (var i in instances)
        {
            string current = StatusRenderer.VrrpStateName(i.State).ToLowerInvariant();
            foreach (var state in VrrpStates)
                w.Sample(state == current ? 1 : 0, [.. VrrpLabels(i), "state", state]);
        }

        w.Family("fulcrum_vrrp_priority", "VRRP effective priority (configured priority plus tracking weights).", MetricType.Gauge);
        foreach (var i in instances)
            w.Sample((long)i.Priority, VrrpLabels(i));
        w.Family("fulcrum_vrrp_transitions_total", "VRRP state changes since the director started (the first INIT to BACKUP included).", MetricType.Counter);
        foreach (var i in instances)
            w.Sample(i.Transitions, VrrpLabels(i));
    }

    private static void WriteHealth(MetricsWriter w, StatusReport report)
    {
        // keepalived's checkers judge a real server of a virtual_server block; labels name the IPVS
        // services it stands for, so they join with node_ipvs_backend_*. A real server that is down is
        // often absent from the IPVS table (keepalived removes it): these series keep showing it.
        var rows = new List<(string[] Labels, MetricLabels Set, Health.RealServerHealth Rs)>();
        foreach (var (key, rs) in report.HealthByService)
        {
            var labels = BackendLabels(key, new DestSpec(rs.Address, rs.Port));
            rows.Add((labels, MetricLabels.Of(labels), rs));
        }

        w.Family("fulcrum_healthcheck_up", "1 when the real server's health checks pass, 0 when it is failed out.", MetricType.Gauge);
        foreach (var (_, set, rs) in rows)
            w.Sample(rs.IsUp ? 1 : 0, set);
        w.Family("fulcrum_healthcheck_last_change_timestamp_seconds", "When the real server last went up or down (Unix time).", MetricType.Gauge);
        foreach (var (_, set, rs) in rows)
            w.Sample(rs.Since.ToUnixTimeMilliseconds() / 1000.0, set);
        w.Family("fulcrum_healthcheck_checker_up", "1 when one checker of the real server passes; checker is the check kind, index its place in the block.", MetricType.Gauge);
        foreach (var (labels, _, rs) in rows)
        {
            for (int c = 0; c < rs.Checkers.Count; c++)
                w.Sample(rs.Checkers[c].IsUp ? 1 : 0, [.. labels, "checker", rs.Checkers[c].Kind, "index", c.ToString(CultureInfo.InvariantCulture)]);
        }

        w.Family("fulcrum_healthcheck_quorum_up", "1 when the virtual server's live weight meets its quorum.", MetricType.Gauge);
        var quorumSeen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var vs in report.VirtualServers)
        {
            string name = vs.VirtualServer.ToString();
            if (quorumSeen.Add(name))
                w.Sample(vs.QuorumUp ? 1 : 0, "virtual_server", name);
        }
    }

    private static void WriteDataPlane(MetricsWriter w, IReadOnlyList<WorkerCounters> workers)
    {
        WorkerFamily(w, workers, "fulcrum_dataplane_rx_frames_total", "Frames the worker's RX ring delivered.", static c => c.Ring.RxFrames);
        WorkerFamily(w, workers, "fulcrum_dataplane_tx_frames_total", "Frames queued on the worker's TX ring.", static c => c.Ring.TxFrames);
        WorkerFamily(w, workers, "fulcrum_dataplane_forwarded_frames_total", "Frames the worker balanced and sent to a real server.", static c => c.Forwarded);
        WorkerFamily(w, workers, "fulcrum_dataplane_checksums_completed_total", "Checksums the worker completed for frames with CHECKSUM_PARTIAL.", static c => c.ChecksumsCompleted);

        w.Family("fulcrum_dataplane_drops_total", "Frames the worker dropped, by reason (the drop reasons of fulcrum status).", MetricType.Counter);
        foreach (var c in workers)
        {
            string worker = c.Index.ToString(CultureInfo.InvariantCulture);
            for (int d = 1; d < (int)DropReason.Count; d++)
                w.Sample(c.Drops[d], "worker", worker, "reason", SnakeCase(((DropReason)d).ToString()));
        }

        WorkerFamily(w, workers, "fulcrum_ring_kernel_drops_total", "Frames the kernel dropped because the worker's RX ring was full (PACKET_STATISTICS tp_drops).", static c => c.Ring.KernelDrops);
        WorkerFamily(w, workers, "fulcrum_ring_kernel_freezes_total", "Times the kernel froze the worker's RX queue (tp_freeze_q_cnt).", static c => c.Ring.KernelFreezes);
        WorkerFamily(w, workers, "fulcrum_ring_tx_full_total", "Frames refused because the TX ring had no free slot.", static c => c.Ring.TxRingFull);
        WorkerFamily(w, workers, "fulcrum_ring_tx_errors_total", "Failed TX flushes (e.g. interface down).", static c => c.Ring.TxErrors);

        w.Family("fulcrum_connections", "Connections (and persistence templates) in the worker's connection table.", MetricType.Gauge);
        foreach (var c in workers)
            w.Sample((long)c.Connections, "worker", c.Index.ToString(CultureInfo.InvariantCulture));
        w.Family("fulcrum_connection_table_capacity", "The worker's connection table bound (fulcrum run's max connections).", MetricType.Gauge);
        foreach (var c in workers)
            w.Sample((long)c.ConnectionCapacity, "worker", c.Index.ToString(CultureInfo.InvariantCulture));
        WorkerFamily(w, workers, "fulcrum_kernel_scheduled_connections_total", "New connections the kernel tier scheduled itself (SYNs of the services it schedules), by the worker whose table took them.", static c => c.KernelScheduled);
        WorkerFamily(w, workers, "fulcrum_kernel_schedule_refused_total", "Connections the kernel tier scheduled that the worker could not take as scheduled (service or real server gone, table full, port reuse of a connection on another real server).", static c => c.KernelScheduleRefused);
    }

    private static void WorkerFamily(MetricsWriter w, IReadOnlyList<WorkerCounters> workers, string name, string help, Func<WorkerCounters, long> pick)
    {
        w.Family(name, help, MetricType.Counter);
        foreach (var c in workers)
            w.Sample(pick(c), "worker", c.Index.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// node_exporter's labels from /proc/net/ip_vs: an address-keyed service gives its address and port
    /// and an empty local_mark; a firewall-mark service ("FWM  %08X" in ip_vs_info_seq_show) gives
    /// proto "FWM", the mark as 8 hex digits, an empty local_address and local_port 0.
    /// </summary>
    internal static string[] BackendLabels(ServiceKey key, DestSpec dest) =>
    [
        "local_address", key.IsFwMark ? "" : key.Address.ToString(),
        "local_port", key.IsFwMark ? "0" : key.Port.ToString(CultureInfo.InvariantCulture),
        "remote_address", dest.Address.ToString(),
        "remote_port", dest.Port.ToString(CultureInfo.InvariantCulture),
        "proto", key.IsFwMark ? "FWM" : StatusRenderer.ProtocolName(key.Protocol),
        "local_mark", key.IsFwMark ? key.FwMark.ToString("X8", CultureInfo.InvariantCulture) : "",
    ];

    internal static string[] ServiceLabels(ServiceKey key) =>
    [
        "local_address", key.IsFwMark ? "" : key.Address.ToString(),
        "local_port", key.IsFwMark ? "0" : key.Port.ToString(CultureInfo.InvariantCulture),
        "proto", key.IsFwMark ? "FWM" : StatusRenderer.ProtocolName(key.Protocol),
        "local_mark", key.IsFwMark ? key.FwMark.ToString("X8", CultureInfo.InvariantCulture) : "",
    ];

    private readonly record struct Row<T>(T Item, MetricLabels Labels);

    private static string[] VrrpLabels(VrrpInstanceStatus i) =>
    [
        "instance", i.Name,
        "interface", i.Interface ?? "",
        "vrid", i.VirtualRouterId.ToString(CultureInfo.InvariantCulture),
    ];

    /// <summary>NoRealServer → no_real_server.</summary>
    internal static string SnakeCase(string pascal)
    {
        var sb = new System.Text.StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsAsciiLetterUpper(c))
            {
                if (i > 0)
                    sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
