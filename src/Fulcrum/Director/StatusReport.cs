using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Fulcrum.Balancing;
using Fulcrum.Config;
using Fulcrum.Health;
using Fulcrum.Packets;
using Fulcrum.Vrrp;

namespace Fulcrum.Director;

/// <summary>Everything `fulcrum status` shows, read once; rendered by <see cref="StatusRenderer"/>.</summary>
internal sealed record StatusReport(
    string Interface,
    IReadOnlyList<WorkerCounters> Workers,
    IReadOnlyList<ServiceInfo> Services,
    IReadOnlyList<VrrpInstanceStatus> Vrrp,
    IReadOnlyList<RealServerHealth> Health,
    IReadOnlyList<VirtualServerHealth> VirtualServers,
    IpvsDefense? Defense = null,
    Sync.SyncStatus? Sync = null,
    string? DataPath = null)
{
    private List<(ServiceKey Key, RealServerHealth Health)>? _byService;
    private Dictionary<(ServiceKey, IPAddress, ushort), RealServerHealth>? _lookup;

    // `with` must not carry the cache of the original's lists.
    private StatusReport(StatusReport original)
    {
        Interface = original.Interface;
        Workers = original.Workers;
        Services = original.Services;
        Vrrp = original.Vrrp;
        Health = original.Health;
        VirtualServers = original.VirtualServers;
        Defense = original.Defense;
        Sync = original.Sync;
        DataPath = original.DataPath;
    }

    /// <summary>
    /// Each health-checked real server under every IPVS service its virtual_server block stands for
    /// (a group block stands for several), first occurrence kept.
    /// </summary>
    public IReadOnlyList<(ServiceKey Key, RealServerHealth Health)> HealthByService
    {
        get
        {
            if (_byService is not null)
                return _byService;
            var byServer = new Dictionary<VirtualServerId, List<RealServerHealth>>();
            foreach (var rs in Health)
            {
                if (!byServer.TryGetValue(rs.VirtualServer, out var list))
                    byServer[rs.VirtualServer] = list = [];
                list.Add(rs);
            }

            var lookup = new Dictionary<(ServiceKey, IPAddress, ushort), RealServerHealth>();
            var rows = new List<(ServiceKey, RealServerHealth)>();
            foreach (var vs in VirtualServers)
            {
                if (!byServer.TryGetValue(vs.VirtualServer, out var list))
                    continue;
                foreach (var key in vs.Services)
                {
                    foreach (var rs in list)
                    {
                        if (lookup.TryAdd((key, rs.Address, rs.Port), rs))
                            rows.Add((key, rs));
                    }
                }
            }

            _lookup = lookup;
            return _byService = rows;
        }
    }

    /// <summary>The health of a real server of a service, when a health checker watches it.</summary>
    public RealServerHealth? HealthOf(ServiceKey key, IPAddress address, ushort port)
    {
        _ = HealthByService;
        return _lookup!.GetValueOrDefault((key, address, port));
    }
}

/// <summary>
/// `fulcrum status` as text (for people) and JSON (for scripts). The JSON shape is documented in
/// docs/metrics.md and versioned by its "version" member: members are only ever added.
/// </summary>
internal static class StatusRenderer
{
    public const int JsonVersion = 1;

    public static string Text(StatusReport r)
    {
        var t = Totals(r.Workers);
        var sb = new StringBuilder();
        sb.Append("Interface: ").Append(r.Interface).Append(", workers: ").Append(N(r.Workers.Count)).Append('\n');
        if (!string.IsNullOrEmpty(r.DataPath))
            sb.Append("Data path: ").Append(r.DataPath).Append('\n');
        if (t.KernelScheduled != 0 || t.KernelScheduleRefused != 0)
            sb.Append("Connections scheduled by the kernel tier: ").Append(N(t.KernelScheduled)).Append(" (not taken: ").Append(N(t.KernelScheduleRefused)).Append(")\n");
        sb.Append("Frames received: ").Append(N(t.Ring.RxFrames)).Append(", sent: ").Append(N(t.Ring.TxFrames))
          .Append(", dropped by the kernel (RX ring full): ").Append(N(t.Ring.KernelDrops)).Append('\n');
        sb.Append("Forwarded frames: ").Append(N(t.Forwarded)).Append('\n');
        sb.Append("Checksums completed: ").Append(N(t.ChecksumsCompleted)).Append('\n');
        sb.Append("Connections: ").Append(N(t.Connections)).Append(" (capacity ").Append(N(t.ConnectionCapacity)).Append(")\n");
        sb.Append("Drops:\n");
        for (int d = 1; d < t.Drops.Length; d++)
            sb.Append("  ").Append(((DropReason)d).ToString().PadRight(14)).Append(' ').Append(N(t.Drops[d])).Append('\n');
        sb.Append("  ").Append("RxRingFull".PadRight(14)).Append(' ').Append(N(t.Ring.KernelDrops)).Append('\n');
        sb.Append("Workers: ").Append(N(r.Workers.Count)).Append('\n');
        foreach (var w in r.Workers)
        {
            sb.Append("  worker ").Append(N(w.Index)).Append(": received ").Append(N(w.Ring.RxFrames))
              .Append(", forwarded ").Append(N(w.Forwarded)).Append(", dropped ").Append(N(w.TotalDrops))
              .Append(", connections ").Append(N(w.Connections)).Append('/').Append(N(w.ConnectionCapacity)).Append('\n');
        }

        if (r.Defense is { } defense)
        {
            sb.Append("Defense: ").Append(N(defense.Available)).Append(" of ").Append(N(defense.Capacity))
              .Append(" connection entries free (amemthresh ").Append(N(defense.AmemThresh)).Append("); drop_entry=").Append(N(defense.DropEntryMode))
              .Append(" (entries dropped ").Append(N(t.DroppedEntries)).Append("), drop_packet=").Append(N(defense.DropPacketMode))
              .Append(" (rate ").Append(defense.DropRate == 0 ? "off" : "1/" + N(defense.DropRate))
              .Append("), secure_tcp=").Append(N(defense.SecureTcpMode)).Append(defense.SecureTcpActive ? " (dos table)" : "").Append('\n');
        }

        VrrpStatusText.Append(sb, r.Vrrp);
        if (r.Sync is { } sync)
            Fulcrum.Sync.SyncStatusText.Append(sb, sync);

        sb.Append("Virtual services:\n");
        if (r.Services.Count == 0)
            sb.Append("  (none)\n");
        foreach (var s in r.Services)
        {
            sb.Append("  ").Append(ServiceName(s.Spec.Key)).Append(' ').Append(s.Spec.Scheduler);
            if (s.Spec.Persistent)
                sb.Append(" persistent ").Append(N(s.Spec.PersistenceTimeout));
            sb.Append("  conns ").Append(N(s.Stats.Conns)).Append("  ");
            AppendRates(sb, s.Rates);
            sb.Append('\n');
            foreach (var d in s.Dests)
            {
                sb.Append("    -> ").Append(Endpoint(d.Spec.Address, d.Spec.Port)).Append(' ').Append(MethodName(d.Spec.Method))
                  .Append(" weight ").Append(N(d.Spec.Weight))
                  .Append(" active ").Append(N(d.ActiveConns))
                  .Append(" inactive ").Append(N(d.InactiveConns));
                var health = r.HealthOf(s.Spec.Key, d.Spec.Address, d.Spec.Port);
                if (health is not null)
                    sb.Append(health.IsUp ? " UP" : " DOWN");
                sb.Append("  conns ").Append(N(d.Stats.Conns)).Append("  ");
                AppendRates(sb, d.Rates);
                sb.Append('\n');
            }
        }

        if (r.Health.Count > 0)
        {
            sb.Append("Health checks:\n");
            foreach (var rs in r.Health)
            {
                sb.Append("  ").Append(rs.VirtualServer).Append(" -> ").Append(Endpoint(rs.Address, rs.Port))
                  .Append(rs.IsUp ? " UP" : " DOWN").Append(" since ").Append(rs.Since.UtcDateTime.ToString("u", CultureInfo.InvariantCulture))
                  .Append(" weight ").Append(N(rs.Weight))
                  .Append(rs.Draining ? " draining" : "");
                foreach (var c in rs.Checkers)
                {
                    sb.Append(' ').Append(c.Kind).Append(c.IsUp ? "=ok" : "=failed");
                    if (!c.IsUp && c.LastFailure is not null)
                        sb.Append(" (").Append(c.LastFailure).Append(')');
                }

                sb.Append('\n');
            }
        }

        return sb.ToString();
    }

    public static string Json(StatusReport r)
    {
        var t = Totals(r.Workers);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("version", JsonVersion);
            w.WriteString("interface", r.Interface);
            if (!string.IsNullOrEmpty(r.DataPath))
                w.WriteString("data_path", r.DataPath);
            w.WriteNumber("kernel_scheduled", t.KernelScheduled);
            w.WriteNumber("kernel_schedule_refused", t.KernelScheduleRefused);
            w.WriteNumber("rx_frames", t.Ring.RxFrames);
            w.WriteNumber("tx_frames", t.Ring.TxFrames);
            w.WriteNumber("rx_ring_kernel_drops", t.Ring.KernelDrops);
            w.WriteNumber("rx_ring_freezes", t.Ring.KernelFreezes);
            w.WriteNumber("tx_ring_full", t.Ring.TxRingFull);
            w.WriteNumber("tx_errors", t.Ring.TxErrors);
            w.WriteNumber("forwarded", t.Forwarded);
            w.WriteNumber("checksums_completed", t.ChecksumsCompleted);
            w.WriteStartObject("drops");
            for (int d = 1; d < t.Drops.Length; d++)
                w.WriteNumber(((DropReason)d).ToString(), t.Drops[d]);
            w.WriteEndObject();
            w.WriteStartObject("connections");
            w.WriteNumber("count", t.Connections);
            w.WriteNumber("capacity", t.ConnectionCapacity);
            w.WriteEndObject();

            w.WriteStartArray("workers");
            foreach (var wc in r.Workers)
            {
                w.WriteStartObject();
                w.WriteNumber("index", wc.Index);
                w.WriteNumber("rx_frames", wc.Ring.RxFrames);
                w.WriteNumber("forwarded", wc.Forwarded);
                w.WriteNumber("drops", wc.TotalDrops);
                w.WriteNumber("connections", wc.Connections);
                w.WriteNumber("capacity", wc.ConnectionCapacity);
                w.WriteEndObject();
            }

            w.WriteEndArray();

            if (r.Defense is { } defense)
            {
                w.WriteStartObject("defense");
                w.WriteNumber("available", defense.Available);
                w.WriteNumber("capacity", defense.Capacity);
                w.WriteNumber("amemthresh", defense.AmemThresh);
                w.WriteNumber("drop_entry", defense.DropEntryMode);
                w.WriteNumber("drop_packet", defense.DropPacketMode);
                w.WriteNumber("drop_rate", defense.DropRate);
                w.WriteNumber("secure_tcp", defense.SecureTcpMode);
                w.WriteBoolean("secure_tcp_active", defense.SecureTcpActive);
                w.WriteNumber("dropped_entries", t.DroppedEntries);
                w.WriteEndObject();
            }

            if (r.Sync is { } sync)
            {
                var syncJson = new StringBuilder();
                Fulcrum.Sync.SyncStatusText.AppendJson(syncJson, sync);
                w.WritePropertyName("sync");
                w.WriteRawValue(syncJson.ToString());
            }

            w.WriteStartArray("vrrp");
            foreach (var v in r.Vrrp)
            {
                w.WriteStartObject();
                w.WriteString("name", v.Name);
                WriteStringOrNull(w, "interface", v.Interface);
                w.WriteNumber("vrid", v.VirtualRouterId);
                w.WriteNumber("version", v.Version);
                w.WriteString("state", VrrpStateName(v.State));
                w.WriteNumber("priority", v.Priority);
                WriteStringOrNull(w, "master", v.Master?.ToString());
                w.WriteStartArray("vips");
                foreach (var vip in v.VirtualAddresses)
                    w.WriteStringValue(vip.ToString());
                w.WriteEndArray();
                w.WriteNumber("transitions", v.Transitions);
                w.WriteEndObject();
            }

            w.WriteEndArray();

            w.WriteStartArray("services");
            foreach (var s in r.Services)
            {
                var key = s.Spec.Key;
                w.WriteStartObject();
                w.WriteString("protocol", key.IsFwMark ? "FWM" : ProtocolName(key.Protocol));
                w.WriteString("address", key.Address.ToString());
                w.WriteNumber("port", key.Port);
                w.WriteNumber("fwmark", key.FwMark);
                w.WriteString("scheduler", s.Spec.Scheduler);
                w.WriteNumber("persistence_timeout", s.Spec.PersistenceTimeout);
                WriteStats(w, s.Stats, s.Rates);
                w.WriteStartArray("real_servers");
                foreach (var d in s.Dests)
                {
                    w.WriteStartObject();
                    w.WriteString("address", d.Spec.Address.ToString());
                    w.WriteNumber("port", d.Spec.Port);
                    w.WriteString("forward", MethodName(d.Spec.Method).ToLowerInvariant());
                    w.WriteNumber("weight", d.Spec.Weight);
                    w.WriteNumber("active", d.ActiveConns);
                    w.WriteNumber("inactive", d.InactiveConns);
                    w.WriteNumber("persistent", d.PersistentConns);
                    var health = r.HealthOf(key, d.Spec.Address, d.Spec.Port);
                    WriteStringOrNull(w, "health", health is null ? null : health.IsUp ? "up" : "down");
                    WriteStats(w, d.Stats, d.Rates);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();

            w.WriteStartArray("health");
            foreach (var rs in r.Health)
            {
                w.WriteStartObject();
                w.WriteString("virtual_server", rs.VirtualServer.ToString());
                w.WriteString("address", rs.Address.ToString());
                w.WriteNumber("port", rs.Port);
                w.WriteBoolean("up", rs.IsUp);
                w.WriteNumber("weight", rs.Weight);
                w.WriteBoolean("draining", rs.Draining);
                w.WriteString("since", rs.Since.ToUniversalTime());
                w.WriteStartArray("checks");
                foreach (var c in rs.Checkers)
                {
                    w.WriteStartObject();
                    w.WriteString("kind", c.Kind);
                    w.WriteBoolean("up", c.IsUp);
                    WriteStringOrNull(w, "last_failure", c.LastFailure);
                    if (c.LastRun is { } run)
                        w.WriteString("last_run", run.ToUniversalTime());
                    else
                        w.WriteNull("last_run");
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();

            w.WriteStartArray("virtual_servers");
            foreach (var vs in r.VirtualServers)
            {
                w.WriteStartObject();
                w.WriteString("virtual_server", vs.VirtualServer.ToString());
                w.WriteBoolean("quorum_up", vs.QuorumUp);
                w.WriteNumber("live_weight", vs.LiveWeight);
                w.WriteBoolean("sorry_server_active", vs.SorryServerActive);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length) + "\n";
    }

    /// <summary>The sum over workers (a worker's slot only ever grows, so the sum is a valid reading).</summary>
    public static WorkerCounters Totals(IReadOnlyList<WorkerCounters> workers)
    {
        long rx = 0, tx = 0, full = 0, bad = 0, errors = 0, kdrops = 0, freezes = 0, forwarded = 0, completed = 0, conns = 0, capacity = 0, droppedEntries = 0, kernelScheduled = 0, kernelRefused = 0;
        var drops = new long[(int)DropReason.Count];
        foreach (var w in workers)
        {
            rx += w.Ring.RxFrames;
            tx += w.Ring.TxFrames;
            full += w.Ring.TxRingFull;
            bad += w.Ring.TxBadLength;
            errors += w.Ring.TxErrors;
            kdrops += w.Ring.KernelDrops;
            freezes += w.Ring.KernelFreezes;
            forwarded += w.Forwarded;
            completed += w.ChecksumsCompleted;
            conns += w.Connections;
            capacity += w.ConnectionCapacity;
            droppedEntries += w.DroppedEntries;
            kernelScheduled += w.KernelScheduled;
            kernelRefused += w.KernelScheduleRefused;
            for (int d = 0; d < drops.Length; d++)
                drops[d] += w.Drops[d];
        }

        return new WorkerCounters(-1, new Linux.PacketRingCounters(rx, tx, full, bad, errors, kdrops, freezes), forwarded, completed, drops,
            (int)Math.Min(conns, int.MaxValue), (int)Math.Min(capacity, int.MaxValue), droppedEntries, kernelScheduled, kernelRefused);
    }

    /// <summary>ipvsadm's protocol column.</summary>
    public static string ProtocolName(IpProtocol p) => p switch
    {
        IpProtocol.Tcp => "TCP",
        IpProtocol.Udp => "UDP",
        IpProtocol.Sctp => "SCTP",
        _ => ((int)p).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>ipvsadm's Forward column.</summary>
    public static string MethodName(ForwardingMethod m) => m switch
    {
        ForwardingMethod.Masquerade => "Masq",
        ForwardingMethod.LocalNode => "Local",
        ForwardingMethod.Tunnel => "Tunnel",
        _ => "Route",
    };

    public static string VrrpStateName(VrrpInstanceState s) => s == VrrpInstanceState.Stopped ? "STOP" : s.ToString().ToUpperInvariant();

    private static string ServiceName(ServiceKey key) => key.IsFwMark
        ? "FWM " + key.FwMark.ToString(CultureInfo.InvariantCulture)
        : ProtocolName(key.Protocol) + " " + Endpoint(key.Address, key.Port);

    private static string Endpoint(IPAddress address, ushort port) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? "[" + address + "]:" + N(port)
            : address + ":" + N(port);

    private static void AppendRates(StringBuilder sb, IpvsRates r) =>
        sb.Append(N(r.Cps)).Append(" conn/s, ")
          .Append(N(r.InPps)).Append('/').Append(N(r.OutPps)).Append(" pkt/s in/out, ")
          .Append(N(r.InBps)).Append('/').Append(N(r.OutBps)).Append(" B/s in/out");

    private static void WriteStats(Utf8JsonWriter w, IpvsStats s, IpvsRates r)
    {
        w.WriteStartObject("stats");
        w.WriteNumber("connections", s.Conns);
        w.WriteNumber("in_packets", s.InPackets);
        w.WriteNumber("out_packets", s.OutPackets);
        w.WriteNumber("in_bytes", s.InBytes);
        w.WriteNumber("out_bytes", s.OutBytes);
        w.WriteEndObject();
        w.WriteStartObject("rates");
        w.WriteNumber("cps", r.Cps);
        w.WriteNumber("in_pps", r.InPps);
        w.WriteNumber("out_pps", r.OutPps);
        w.WriteNumber("in_bps", r.InBps);
        w.WriteNumber("out_bps", r.OutBps);
        w.WriteEndObject();
    }

    private static void WriteStringOrNull(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
            w.WriteNull(name);
        else
            w.WriteString(name, value);
    }

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string N(ulong v) => v.ToString(CultureInfo.InvariantCulture);
}
