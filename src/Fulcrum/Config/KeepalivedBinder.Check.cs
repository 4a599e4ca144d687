using System.Net;
using System.Net.Sockets;
using Fulcrum.Balancing;

namespace Fulcrum.Config;

internal sealed partial class KeepalivedBinder
{
    // check_parser.c 52-53
    private static readonly HashSet<string> LvsSchedulers = new(StringComparer.Ordinal)
    {
        "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
    };

    private static readonly HashSet<string> VsUnsupported = new(StringComparer.Ordinal)
    {
        "ip_family", "smtp_alert", "snmp_name",
    };

    private static readonly HashSet<string> RsUnsupported = new(StringComparer.Ordinal)
    {
        "smtp_alert", "snmp_name", "SMTP_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK",
    };

    private static readonly HashSet<string> CheckerUnsupported = new(StringComparer.Ordinal)
    {
        "http_protocol", "fast_recovery", "tls_compliant",
    };

    private static readonly HashSet<string> UrlUnsupported = new(StringComparer.Ordinal)
    {
        "regex", "regex_no_match", "regex_options", "regex_min_offset", "regex_max_offset", "regex_stack", "tls_compliant",
    };

    private const long MaxTimerMicros = uint.MaxValue * Second;

    /// <summary>Values a real server or checker may leave unset, to be inherited (check_data.c).</summary>
    private sealed class Inheritable
    {
        public int? Retry;
        public TimeSpan? DelayBeforeRetry;
        public TimeSpan? DelayLoop;
        public TimeSpan? Warmup;
        public TimeSpan? ConnectTimeout;
        public bool? Alpha;
    }

    /// <summary>retry, delay_before_retry, warmup, connect_timeout, delay_loop, alpha: shared by vs, rs and checkers.</summary>
    /// <param name="checker">A checker accepts retry 0 (check_api.c retry_handler); vs and rs need 1 or more.</param>
    private bool TryInheritable(ConfigNode n, Inheritable into, bool checker = false)
    {
        switch (n.Name)
        {
            case "retry" or "nb_get_retry":
                if (n.Name == "nb_get_retry")
                    Warning(n.Location, "nb_get_retry is deprecated - please use 'retry'");
                if (TryInteger(n, checker ? 0 : 1, uint.MaxValue, out long r))
                    into.Retry = (int)Math.Min(r, int.MaxValue);
                return true;
            case "delay_before_retry":
                if (TryTimer(n, 0, MaxTimerMicros, out var dbr))
                    into.DelayBeforeRetry = dbr;
                return true;
            case "warmup":
                if (TryTimer(n, 0, MaxTimerMicros, out var wu))
                    into.Warmup = wu;
                return true;
            case "connect_timeout":
                // read_timer(..., 1, UINT_MAX): the limit is in µs, about 71 minutes.
                if (TryTimer(n, 1, uint.MaxValue, out var ct))
                    into.ConnectTimeout = ct;
                return true;
            case "delay_loop":
                if (TryTimer(n, 1, MaxTimerMicros, out var dl))
                    into.DelayLoop = dl;
                return true;
            case "alpha":
                if (TryOptionalBool(n, out bool a))
                    into.Alpha = a;
                return true;
            default:
                return false;
        }
    }

    private void BindVirtualServerGroup(ConfigNode block)
    {
        if (block.Args.Count < 1)
        {
            Error(block.Location, "virtual_server_group must have a name");
            return;
        }
        var name = block.Args[0].Text;
        foreach (var g in _vsGroups)
        {
            if (g.Name == name)
            {
                Error(block.Args[0].Location, $"virtual_server_group {name} already defined");
                return;
            }
        }
        var entries = new List<VirtualServerGroupEntry>();
        foreach (var line in BlockLines(block, 1))
        {
            if (BindVsgEntry(line.Words) is { } e)
                entries.Add(e);
        }
        if (entries.Count == 0)
        {
            Warning(block.Location, $"virtual server group {name} has no entries - removing");
            return;
        }
        _vsGroups.Add(new VirtualServerGroup(name, entries, block.Location));
    }

    // Bounds an IPa-IPb or IP/MASK entry so that expanding it for IPVS stays reasonable.
    private const int MaxGroupRange = 65536;

    /// <summary>check_data.c alloc_vsg_entry: IP PORT, IP-LAST PORT, IPa-IPb PORT, IP/MASK PORT, fwmark N [inet|inet6].</summary>
    private VirtualServerGroupEntry? BindVsgEntry(IReadOnlyList<ConfigToken> words)
    {
        var first = words[0];
        if (first.Text == "fwmark")
        {
            if (words.Count < 2)
            {
                Error(first.Location, "fwmark needs a value");
                return null;
            }
            if (!TryInteger(words[1], "fwmark", 0, uint.MaxValue, out long mark))
                return null;
            AddressFamily? family = null;
            if (words.Count > 2)
            {
                if (words[2].Text == "inet")
                    family = AddressFamily.InterNetwork;
                else if (words[2].Text == "inet6")
                    family = AddressFamily.InterNetworkV6;
                else
                {
                    Error(words[2].Location, $"fwmark '{mark}' family {words[2].Text} unknown - ignoring");
                    return null;
                }
            }
            return new VirtualServerGroupEntry(null, null, 0, (uint)mark, family, first.Location);
        }

        ushort port = 0;
        if (words.Count > 1 && !TryPort(words[1], "virtual server group port", out port))
            return null;
        if (words.Count > 2)
            Warning(words[2].Location, $"extra argument '{words[2].Text}' in virtual server group entry ignored");

        var text = first.Text;
        IPAddress start, end;
        int slash = text.IndexOf('/');
        int dash = text.IndexOf('-');
        if (slash >= 0)
        {
            if (!ParseIp(text[..slash], out start))
            {
                Error(first.Location, $"Invalid virtual server group IP address {text} - skipping");
                return null;
            }
            int max = start.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            if (!ParseInteger(text[(slash + 1)..], out long mask) || mask < 1 || mask > max)
            {
                Error(first.Location, $"Invalid netmask - {text} - skipping");
                return null;
            }
            var s = ToBig(start);
            var hostBits = (System.Numerics.BigInteger.One << (max - (int)mask)) - 1;
            if ((s & hostBits) != 0)
            {
                Error(first.Location, $"Address mask bits not empty - {text} - skipping");
                return null;
            }
            end = FromBig(s | hostBits, start.AddressFamily);
        }
        else if (dash >= 0)
        {
            if (!ParseIp(text[..dash], out start))
            {
                Error(first.Location, $"Invalid virtual server group IP address {text} - skipping");
                return null;
            }
            var endText = text[(dash + 1)..];
            bool v4 = start.AddressFamily == AddressFamily.InterNetwork;
            if ((v4 && endText.Contains('.', StringComparison.Ordinal)) || (!v4 && endText.Contains(':', StringComparison.Ordinal)))
            {
                if (!ParseIp(endText, out end) || end.AddressFamily != start.AddressFamily)
                {
                    Error(first.Location, $"Invalid range end {text} - skipping");
                    return null;
                }
                if (ToBig(end) < ToBig(start))
                {
                    Error(first.Location, $"Address range end is less than address range start - {text} - skipping");
                    return null;
                }
            }
            else
            {
                // IP-LAST: the last octet (IPv4) or last 16-bit group (IPv6, hex) ends the range.
                var bytes = start.GetAddressBytes();
                bool ok = v4
                    ? ParseInteger(endText, out long last) && last >= 0 && last <= 255
                    : long.TryParse(endText, System.Globalization.NumberStyles.AllowHexSpecifier, null, out last) && last >= 0 && last <= 0xFFFF;
                long startLast = v4 ? bytes[3] : (bytes[14] << 8) | bytes[15];
                if (!ok)
                {
                    Error(first.Location, $"Invalid range end {text} - skipping");
                    return null;
                }
                if (startLast >= last)
                {
                    Error(first.Location, $"Address range end is not greater than address range start - {text} - skipping");
                    return null;
                }
                if (v4)
                    bytes[3] = (byte)last;
                else
                {
                    bytes[14] = (byte)(last >> 8);
                    bytes[15] = (byte)last;
                }
                end = new IPAddress(bytes);
            }
        }
        else
        {
            if (!ParseIp(text, out start))
            {
                Error(first.Location, $"Invalid virtual server group IP address {text} - skipping");
                return null;
            }
            end = start;
        }
        if (ToBig(end) - ToBig(start) >= MaxGroupRange)
        {
            Error(first.Location, $"virtual server group range {text} has more than {MaxGroupRange} addresses");
            return null;
        }
        return new VirtualServerGroupEntry(start, end, port, 0, null, first.Location);
    }

    internal static System.Numerics.BigInteger ToBig(IPAddress a) =>
        new(a.GetAddressBytes(), isUnsigned: true, isBigEndian: true);

    internal static IPAddress FromBig(System.Numerics.BigInteger v, AddressFamily family)
    {
        int len = family == AddressFamily.InterNetwork ? 4 : 16;
        var raw = v.ToByteArray(isUnsigned: true, isBigEndian: true);
        var bytes = new byte[len];
        Array.Copy(raw, 0, bytes, len - raw.Length, raw.Length);
        return new IPAddress(bytes);
    }

    private sealed class RsDraft
    {
        public required IPAddress Address;
        public required ushort Port;
        public required SourceLocation Location;
        public int? Weight;
        public ForwardingMethod? Method;
        public TunnelOptions? Tunnel;
        public bool? Inhibit;
        public uint UThreshold;
        public uint LThreshold;
        public string? NotifyUp;
        public string? NotifyDown;
        public string? VirtualHost;
        public Inheritable Timing = new();
        public List<CheckerDraft> Checkers = [];
    }

    private sealed class CheckerDraft
    {
        public required string Kind;
        public required SourceLocation Location;
        public Inheritable Timing = new();
        public bool LogAllFailures;
        public IPAddress? ConnectIp;
        public ushort? ConnectPort;
        public IPAddress? BindTo;
        public ushort BindPort;
        public string? BindIf;
        public uint FwMark;
        public List<HttpUrl> Urls = [];
        public string? VirtualHost;
        public bool EnableSni;
        public string? SniName;
        public string? MiscPath;
        public TimeSpan? MiscTimeout;
        public bool MiscDynamic;
        public string? User;
        public string? Group;
        public string DnsType = "SOA";
        public string DnsName = "";
    }

    private void BindVirtualServer(ConfigNode block)
    {
        if (!BindVsId(block, out var id))
            return;

        var timing = new Inheritable();
        var proto = IpProtocol.Tcp;
        ConfigToken? protoAt = null;
        string scheduler = "wlc";
        var flagTokens = new List<ConfigToken>();
        bool ops = false, hashed = false;
        ForwardingMethod? method = null;
        TunnelOptions? tunnel = null;
        uint persistence = 0;
        int? granularity = null;
        string? pe = null;
        SorryServer? sorry = null;
        int quorum = 1, hysteresis = 0;
        string? quorumUp = null, quorumDown = null;
        bool inhibit = false, alpha = false, omega = false, haSuspend = false;
        string? virtualHost = null;
        int weight = 1;
        var realServers = new List<RsDraft>();
        bool sorryInhibit = false;
        ForwardingMethod? sorryMethod = null;

        foreach (var n in block.Children!)
        {
            switch (n.Name)
            {
                case "delay_loop" or "connect_timeout" or "retry" or "delay_before_retry" or "warmup":
                    TryInheritable(n, timing);
                    break;
                case "alpha":
                    if (TryOptionalBool(n, out bool a))
                        alpha = a;
                    break;
                case "omega":
                    if (Flag(n))
                        omega = true;
                    break;
                case "ha_suspend":
                    if (Flag(n))
                        haSuspend = true;
                    break;
                case "lb_algo" or "lvs_sched":
                    if (TrySingle(n, out var sched))
                    {
                        if (LvsSchedulers.Contains(sched.Text))
                            scheduler = sched.Text;
                        else
                            Error(sched.Location, $"Invalid lvs_scheduler '{sched.Text}' - ignoring");
                    }
                    break;
                case "ops":
                    if (Flag(n))
                        ops = true;
                    break;
                case "hashed":
                    if (Flag(n))
                        hashed = true;
                    break;
                case "flag-1" or "flag-2" or "flag-3" or "sh-port" or "sh-fallback" or "mh-port" or "mh-fallback":
                    if (Flag(n))
                        flagTokens.Add(n.Keyword);
                    break;
                case "lb_kind" or "lvs_method":
                    if (NoBlock(n) && BindMethod(n, "virtual") is { } m)
                        (method, tunnel) = m;
                    break;
                case "persistence_timeout":
                    if (!NoBlock(n))
                        break;
                    // check_parser.c pto_handler: no value gives IPVS_SVC_PERSISTENT_TIMEOUT (6*60).
                    if (n.Args.Count == 0)
                        persistence = 360;
                    else if (TryInteger(n.Args[0], "persistence_timeout", 1, 86400 * 31, out long pt))
                        persistence = (uint)pt;
                    ExtraArgs(n, 1);
                    break;
                case "persistence_granularity":
                    if (TrySingle(n, out var gt) && ParseGranularity(gt) is { } gp)
                        granularity = gp;
                    break;
                case "persistence_engine":
                    if (TryString(n, out var peName))
                        pe = peName;
                    break;
                case "protocol":
                    if (TrySingle(n, out var pr))
                    {
                        // check_parser.c: the only value compared case-insensitively.
                        switch (pr.Text.ToUpperInvariant())
                        {
                            case "TCP":
                                proto = IpProtocol.Tcp;
                                break;
                            case "UDP":
                                proto = IpProtocol.Udp;
                                break;
                            case "SCTP":
                                proto = IpProtocol.Sctp;
                                break;
                            default:
                                Error(pr.Location, $"Unknown protocol {pr.Text} - ignoring");
                                break;
                        }
                        protoAt = pr;
                    }
                    break;
                case "sorry_server":
                    if (NoBlock(n) && TryArg(n, 0, out var ssIp) && TryIp(ssIp, "sorry_server", out var ssAddr))
                    {
                        ushort ssPort = 0;
                        if (n.Args.Count > 1 && !TryPort(n.Args[1], "sorry_server port", out ssPort))
                            break;
                        ExtraArgs(n, 2);
                        sorry = new SorryServer(ssAddr, ssPort, ForwardingMethod.Masquerade, false, n.Location);
                    }
                    break;
                case "sorry_server_inhibit":
                    if (TryOptionalBool(n, out bool si))
                    {
                        if (sorry is null)
                            Warning(n.Location, "Ignoring sorry_server inhibit used before or without sorry_server");
                        else
                            sorryInhibit = si;
                    }
                    break;
                case "sorry_server_lvs_method":
                    if (NoBlock(n) && BindMethod(n, "sorry") is { } sm)
                    {
                        if (sorry is null)
                            Warning(n.Location, "sorry_server forwarding used without sorry_server");
                        else
                            sorryMethod = sm.Item1;
                    }
                    break;
                case "quorum":
                    if (TryInteger(n, 1, uint.MaxValue, out long q))
                        quorum = (int)Math.Min(q, int.MaxValue);
                    break;
                case "hysteresis":
                    if (TryInteger(n, 0, uint.MaxValue, out long h))
                        hysteresis = (int)Math.Min(h, int.MaxValue);
                    break;
                case "quorum_up":
                    if (NoBlock(n) && TryArg(n, 0, out _))
                        quorumUp = JoinArgs(n);
                    break;
                case "quorum_down":
                    if (NoBlock(n) && TryArg(n, 0, out _))
                        quorumDown = JoinArgs(n);
                    break;
                case "inhibit_on_failure":
                    if (TryOptionalBool(n, out bool inh))
                        inhibit = inh;
                    break;
                case "virtualhost":
                    if (TryString(n, out var vh))
                        virtualHost = vh;
                    break;
                case "weight":
                    if (TryInteger(n, 0, int.MaxValue, out long w))
                        weight = (int)w;
                    break;
                case "real_server":
                    if (RequireBlock(n) && BindRealServer(n, id) is { } rs)
                    {
                        bool dup = false;
                        foreach (var other in realServers)
                        {
                            if (other.Address.Equals(rs.Address) && other.Port == rs.Port)
                                dup = true;
                        }
                        if (dup)
                            Warning(n.Location, $"VS {id}: real server {FormatAddr(rs.Address, rs.Port)} is duplicated - removing second rs");
                        else
                            realServers.Add(rs);
                    }
                    break;
                default:
                    Skip(n, VsUnsupported);
                    break;
            }
        }

        var flags = SchedulerFlags.None;
        foreach (var f in flagTokens)
        {
            switch (f.Text)
            {
                case "flag-1":
                    flags |= SchedulerFlags.Flag1;
                    break;
                case "flag-2":
                    flags |= SchedulerFlags.Flag2;
                    break;
                case "flag-3":
                    flags |= SchedulerFlags.Flag3;
                    break;
                default:
                    // sh-*/mh-* only mean something to their scheduler (check_parser.c lbflags_handler);
                    // fallback is IP_VS_SVC_F_SCHED1, port is SCHED2.
                    string owner = f.Text[..2];
                    if (scheduler != owner)
                        Warning(f.Location, $"{f.Text} only applies to {owner} scheduler - ignoring");
                    else
                        flags |= f.Text.EndsWith("fallback", StringComparison.Ordinal) ? SchedulerFlags.Flag1 : SchedulerFlags.Flag2;
                    break;
            }
        }

        if (protoAt is { } pa && id.Kind == VirtualServerKind.FwMark)
        {
            Warning(pa.Location, $"Virtual server {id}: protocol specified for fwmark - protocol will be ignored");
            proto = IpProtocol.Tcp;
        }
        if (granularity is not null && persistence == 0)
            persistence = 360;

        // keepalived's default forwarding is NAT (check_data.c 1186-1190), unlike ipvsadm's DR.
        var vsMethod = method ?? ForwardingMethod.Masquerade;
        if (sorry is not null)
            sorry = sorry with { Method = sorryMethod ?? vsMethod, Inhibit = sorryInhibit };

        var vsConnectTimeout = timing.ConnectTimeout ?? TimeSpan.FromSeconds(5);
        var vsDelayLoop = timing.DelayLoop ?? TimeSpan.FromSeconds(60);

        foreach (var existing in _virtualServers)
        {
            if (existing.Id == id && existing.Protocol == proto)
            {
                Error(block.Location, $"Virtual server {id} is already defined at {existing.Location} - skipping");
                return;
            }
        }

        if (realServers.Count == 0)
        {
            Warning(block.Location, $"Virtual server {id} has no real servers - ignoring");
            return;
        }

        var completed = new List<RealServer>();
        foreach (var rs in realServers)
        {
            // check_data.c 1200-1220: real servers take unset values from their virtual server.
            var rsTiming = new Inheritable
            {
                Retry = rs.Timing.Retry ?? timing.Retry,
                ConnectTimeout = rs.Timing.ConnectTimeout ?? vsConnectTimeout,
                DelayLoop = rs.Timing.DelayLoop ?? vsDelayLoop,
                Warmup = rs.Timing.Warmup ?? timing.Warmup,
                DelayBeforeRetry = rs.Timing.DelayBeforeRetry ?? timing.DelayBeforeRetry,
                Alpha = rs.Timing.Alpha ?? alpha,
            };
            var checkers = new List<HealthCheck>();
            foreach (var c in rs.Checkers)
            {
                if (CompleteChecker(c, rs, rsTiming, id, rs.VirtualHost ?? virtualHost) is { } hc)
                    checkers.Add(hc);
            }
            bool ownMethod = rs.Method is not null;
            completed.Add(new RealServer(
                rs.Address, rs.Port, rs.Weight ?? weight, rs.Method ?? vsMethod, ownMethod ? rs.Tunnel : tunnel,
                rs.Inhibit ?? inhibit, rs.UThreshold, rs.LThreshold, rs.NotifyUp, rs.NotifyDown, checkers, rs.Location));
        }

        _virtualServers.Add(new VirtualServer(
            id, proto, vsDelayLoop, scheduler, flags, ops, hashed, vsMethod, tunnel, persistence, granularity, pe, sorry,
            quorum, hysteresis, quorumUp, quorumDown, inhibit, alpha, omega, haSuspend, virtualHost, vsConnectTimeout,
            weight, completed, block.Location));
    }

    private static string FormatAddr(IPAddress a, ushort port) =>
        a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]:{port}" : $"{a}:{port}";

    private bool BindVsId(ConfigNode block, out VirtualServerId id)
    {
        id = new VirtualServerId(VirtualServerKind.Address, null, 0, 0, null);
        if (block.Args.Count == 0)
        {
            Error(block.Location, "virtual_server needs an address, 'fwmark N' or 'group NAME'");
            return false;
        }
        var a0 = block.Args[0];
        if (a0.Text == "fwmark")
        {
            if (block.Args.Count < 2)
            {
                Error(a0.Location, "virtual_server fwmark needs a value");
                return false;
            }
            if (!TryInteger(block.Args[1], "virtual_server fwmark", 1, uint.MaxValue, out long mark))
                return false;
            ExtraArgs(block, 2);
            id = new VirtualServerId(VirtualServerKind.FwMark, null, 0, (uint)mark, null);
            return true;
        }
        if (a0.Text == "group")
        {
            if (block.Args.Count < 2)
            {
                Error(a0.Location, "virtual_server group needs a name");
                return false;
            }
            ExtraArgs(block, 2);
            id = new VirtualServerId(VirtualServerKind.Group, null, 0, 0, block.Args[1].Text);
            return true;
        }
        if (!ParseIp(a0.Text, out var address))
        {
            Error(a0.Location, $"Invalid virtual server IP address {a0.Text} - skipping");
            return false;
        }
        ushort port = 0;
        if (block.Args.Count > 1 && !TryPort(block.Args[1], "virtual server port", out port))
            return false;
        ExtraArgs(block, 2);
        id = new VirtualServerId(VirtualServerKind.Address, address, port, 0, null);
        return true;
    }

    /// <summary>persistence_granularity: an IPv4 netmask (dotted) or a prefix length 1..128.</summary>
    private int? ParseGranularity(ConfigToken t)
    {
        if (ParseIp(t.Text, out var mask) && mask.AddressFamily == AddressFamily.InterNetwork)
        {
            uint m = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(mask.GetAddressBytes());
            int len = System.Numerics.BitOperations.PopCount(m);
            if (len > 0 && (len == 32 || m << len == 0))
                return len;
            // keepalived passes any IPv4 mask through; the IPVS model here holds a prefix length.
            Error(t.Location, $"persistence_granularity '{t.Text}' is not a contiguous netmask (not supported)");
            return null;
        }
        else if (ParseInteger(t.Text, out long prefix) && prefix >= 1 && prefix <= 128)
            return (int)prefix;
        Error(t.Location, $"persistence_granularity '{t.Text}' is invalid: must be an IPv4 netmask or a prefix length 1..128");
        return null;
    }

    /// <summary>`NAT | DR | TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]` (svr_forwarding_handler).</summary>
    private (ForwardingMethod, TunnelOptions?)? BindMethod(ConfigNode n, string serverType)
    {
        if (!TryArg(n, 0, out var m))
            return null;
        switch (m.Text)
        {
            case "NAT":
                ExtraArgs(n, 1);
                return (ForwardingMethod.Masquerade, null);
            case "DR":
                ExtraArgs(n, 1);
                return (ForwardingMethod.DirectRoute, null);
            case "TUN":
                break;
            default:
                Error(m.Location, $"unknown [{m.Text}] routing method for {serverType} server");
                return null;
        }
        string type = "ipip";
        ushort port = 0;
        string? csum = null;
        for (int i = 1; i < n.Args.Count; i++)
        {
            var t = n.Args[i];
            switch (t.Text)
            {
                case "type":
                    if (i + 1 >= n.Args.Count)
                    {
                        Error(t.Location, $"Missing tunnel type for {serverType} server.");
                        return null;
                    }
                    var tt = n.Args[++i];
                    if (tt.Text is not ("ipip" or "gue" or "gre"))
                    {
                        Error(tt.Location, $"Unknown tunnel type {tt.Text} for {serverType} server.");
                        return null;
                    }
                    type = tt.Text;
                    break;
                case "port":
                    if (i + 1 >= n.Args.Count)
                    {
                        Error(t.Location, $"Missing port for {serverType} server gue tunnel.");
                        return null;
                    }
                    if (!TryInteger(n.Args[++i], "gue tunnel port", 1, 65535, out long p))
                        return null;
                    port = (ushort)p;
                    break;
                case "nocsum" or "csum" or "remcsum":
                    csum = t.Text;
                    break;
                default:
                    Error(t.Location, $"Invalid tunnel option {t.Text} for {serverType} server.");
                    return null;
            }
        }
        if ((type == "gue") != (port != 0))
        {
            Error(m.Location, "gue tunnels require port, otherwise cannot have port.");
            return null;
        }
        if (type == "ipip" && csum is not null)
        {
            Error(m.Location, "ipip tunnels do not support checksum option.");
            return null;
        }
        if (type == "gre" && csum == "remcsum")
        {
            Error(m.Location, "gre tunnels do not support remote checksum option.");
            return null;
        }
        return (ForwardingMethod.Tunnel, new TunnelOptions(type, port, csum));
    }

    private RsDraft? BindRealServer(ConfigNode block, VirtualServerId vs)
    {
        if (block.Args.Count == 0)
        {
            Error(block.Location, "real_server needs an address");
            return null;
        }
        if (!ParseIp(block.Args[0].Text, out var address))
        {
            Error(block.Args[0].Location, $"Invalid real server ip address {block.Args[0].Text} - skipping");
            return null;
        }
        ushort port = 0;
        if (block.Args.Count > 1 && !TryPort(block.Args[1], "real server port", out port))
            return null;
        ExtraArgs(block, 2);
        var rs = new RsDraft { Address = address, Port = port, Location = block.Location };
        foreach (var n in block.Children!)
        {
            if (n.Name is "connect_timeout" or "delay_loop" or "retry" or "delay_before_retry" or "warmup" or "alpha")
            {
                TryInheritable(n, rs.Timing);
                continue;
            }
            switch (n.Name)
            {
                case "weight":
                    if (TryInteger(n, 0, int.MaxValue, out long w))
                        rs.Weight = (int)w;
                    break;
                case "lvs_method" or "lb_kind":
                    if (NoBlock(n) && BindMethod(n, "real") is { } m)
                        (rs.Method, rs.Tunnel) = m;
                    break;
                case "inhibit_on_failure":
                    if (TryOptionalBool(n, out bool inh))
                        rs.Inhibit = inh;
                    break;
                case "uthreshold":
                    if (TryInteger(n, 0, uint.MaxValue, out long ut))
                        rs.UThreshold = (uint)ut;
                    break;
                case "lthreshold":
                    if (TryInteger(n, 0, uint.MaxValue, out long lt))
                        rs.LThreshold = (uint)lt;
                    break;
                case "virtualhost":
                    if (TryString(n, out var vh))
                        rs.VirtualHost = vh;
                    break;
                case "notify_up":
                    if (NoBlock(n) && TryArg(n, 0, out _))
                        rs.NotifyUp = JoinArgs(n);
                    break;
                case "notify_down":
                    if (NoBlock(n) && TryArg(n, 0, out _))
                        rs.NotifyDown = JoinArgs(n);
                    break;
                case "TCP_CHECK" or "HTTP_GET" or "SSL_GET" or "MISC_CHECK" or "DNS_CHECK":
                    if (RequireBlock(n))
                        rs.Checkers.Add(BindChecker(n));
                    break;
                default:
                    Skip(n, RsUnsupported);
                    break;
            }
        }

        // check_parser.c rs_end_handler: only a tunnelled real server may differ in family.
        if (vs.Kind == VirtualServerKind.Address && vs.Address!.AddressFamily != address.AddressFamily && rs.Method != ForwardingMethod.Tunnel)
        {
            Error(block.Args[0].Location, $"Address family of virtual server and real server {address} don't match - skipping real server.");
            return null;
        }
        return rs;
    }

    private CheckerDraft BindChecker(ConfigNode block)
    {
        var c = new CheckerDraft { Kind = block.Name, Location = block.Location };
        ExtraArgs(block, 0);
        bool http = c.Kind is "HTTP_GET" or "SSL_GET";
        bool misc = c.Kind == "MISC_CHECK";
        foreach (var n in block.Children!)
        {
            if (TryInheritable(n, c.Timing, checker: true))
            {
                if (n.Name == "connect_timeout" && misc)
                    Warning(n.Location, "connect_timeout does not apply to MISC_CHECK; use misc_timeout");
                if (n.Name == "nb_get_retry" && !http)
                    Warning(n.Location, $"nb_get_retry belongs to HTTP_GET/SSL_GET, accepted as retry for {c.Kind}");
                continue;
            }
            switch (n.Name)
            {
                case "log_all_failures":
                    if (TryOptionalBool(n, out bool laf))
                        c.LogAllFailures = laf;
                    continue;
                case "connect_ip" or "connect_port" or "bindto" or "bind_port" or "bind_if" or "fwmark" when !misc:
                    BindConnectionOption(c, n);
                    continue;
            }
            if (http)
                BindHttpKeyword(c, n);
            else if (misc)
                BindMiscKeyword(c, n);
            else if (c.Kind == "DNS_CHECK")
                BindDnsKeyword(c, n);
            else
                Skip(n, CheckerUnsupported);
        }
        return c;
    }

    private void BindConnectionOption(CheckerDraft c, ConfigNode n)
    {
        switch (n.Name)
        {
            case "connect_ip":
                if (TrySingle(n, out var ip) && TryIp(ip, "connect_ip", out var a))
                    c.ConnectIp = a;
                break;
            case "connect_port":
                if (TrySingle(n, out var p) && TryPort(p, "connect_port", out var port))
                    c.ConnectPort = port;
                break;
            case "bindto":
                if (TrySingle(n, out var b) && TryIp(b, "bindto", out var ba))
                    c.BindTo = ba;
                break;
            case "bind_port":
                if (TrySingle(n, out var bp) && TryPort(bp, "bind_port", out var bport))
                    c.BindPort = bport;
                break;
            case "bind_if":
                if (TryString(n, out var bif))
                    c.BindIf = bif;
                break;
            case "fwmark":
                if (TryInteger(n, 0, uint.MaxValue, out long mark))
                    c.FwMark = (uint)mark;
                break;
        }
    }

    private void BindHttpKeyword(CheckerDraft c, ConfigNode n)
    {
        switch (n.Name)
        {
            case "url":
                if (RequireBlock(n) && BindUrl(n) is { } url)
                    c.Urls.Add(url);
                break;
            case "virtualhost":
                if (TryString(n, out var vh))
                    c.VirtualHost = vh;
                break;
            case "enable_sni" when c.Kind == "SSL_GET":
                if (TryOptionalBool(n, out bool sni))
                    c.EnableSni = sni;
                break;
            case "sni_name" when c.Kind == "SSL_GET":
                if (TryString(n, out var sn))
                    c.SniName = sn;
                break;
            default:
                Skip(n, CheckerUnsupported);
                break;
        }
    }

    private HttpUrl? BindUrl(ConfigNode block)
    {
        ExtraArgs(block, 0);
        string? path = null, digest = null, vhost = null;
        var codes = new List<StatusCodeRange>();
        foreach (var n in block.Children!)
        {
            switch (n.Name)
            {
                case "path":
                    if (TryString(n, out var p))
                        path = p;
                    break;
                case "digest":
                    if (TrySingle(n, out var d))
                    {
                        // check_http.c: an MD5 as 32 hex digits.
                        if (d.Text.Length != 32 || !IsHex(d.Text))
                            Error(d.Location, $"digest '{d.Text}' is invalid: must be 32 hex digits (MD5)");
                        else
                            digest = d.Text.ToLowerInvariant();
                    }
                    break;
                case "status_code":
                    if (NoBlock(n) && TryArg(n, 0, out _))
                    {
                        foreach (var t in n.Args)
                        {
                            if (ParseStatusRange(t.Text) is { } r)
                                codes.Add(r);
                            else
                                Error(t.Location, $"status_code '{t.Text}' is invalid: must be 100..599 or a range a-b of them");
                        }
                    }
                    break;
                case "virtualhost":
                    if (TryString(n, out var vh))
                        vhost = vh;
                    break;
                default:
                    Skip(n, UrlUnsupported);
                    break;
            }
        }
        if (path is null)
        {
            Warning(block.Location, "url has no path - skipping");
            return null;
        }
        // check_http.c: no status_code means 2xx (HTTP_DEFAULT_STATUS_CODE_MIN..MAX).
        if (codes.Count == 0)
            codes.Add(new StatusCodeRange(200, 299));
        return new HttpUrl(path, digest, codes, vhost, block.Location);
    }

    private static bool IsHex(string s)
    {
        foreach (char ch in s)
        {
            if (!char.IsAsciiHexDigit(ch))
                return false;
        }
        return true;
    }

    private static StatusCodeRange? ParseStatusRange(string s)
    {
        int dash = s.IndexOf('-');
        string a = dash < 0 ? s : s[..dash];
        string b = dash < 0 ? s : s[(dash + 1)..];
        if (!ParseInteger(a, out long from) || !ParseInteger(b, out long to))
            return null;
        if (from < 100 || to > 599 || from > to)
            return null;
        return new StatusCodeRange((int)from, (int)to);
    }

    private void BindMiscKeyword(CheckerDraft c, ConfigNode n)
    {
        switch (n.Name)
        {
            case "misc_path":
                if (NoBlock(n) && TryArg(n, 0, out _))
                    c.MiscPath = JoinArgs(n);
                break;
            case "misc_timeout":
                if (TryTimer(n, Second, MaxTimerMicros, out var mt))
                    c.MiscTimeout = mt;
                break;
            case "misc_dynamic":
                if (Flag(n))
                    c.MiscDynamic = true;
                break;
            case "user":
                if (NoBlock(n) && TryArg(n, 0, out var u))
                {
                    c.User = u.Text;
                    c.Group = n.Args.Count > 1 ? n.Args[1].Text : null;
                    ExtraArgs(n, 2);
                }
                break;
            default:
                Skip(n, CheckerUnsupported);
                break;
        }
    }

    private static readonly HashSet<string> DnsTypes = new(StringComparer.Ordinal)
    {
        "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
    };

    private void BindDnsKeyword(CheckerDraft c, ConfigNode n)
    {
        switch (n.Name)
        {
            case "type":
                if (TrySingle(n, out var t))
                {
                    var upper = t.Text.ToUpperInvariant();
                    if (DnsTypes.Contains(upper))
                        c.DnsType = upper;
                    else
                        Error(t.Location, $"DNS_CHECK type '{t.Text}' is invalid: must be one of A NS CNAME SOA MX TXT AAAA RRSIG DNSKEY");
                }
                break;
            case "name":
                if (TryString(n, out var name))
                    c.DnsName = name;
                break;
            default:
                Skip(n, CheckerUnsupported);
                break;
        }
    }

    /// <summary>check_data.c 1355-1372 plus each checker type's defaults.</summary>
    private HealthCheck? CompleteChecker(CheckerDraft c, RsDraft rs, Inheritable rsTiming, VirtualServerId vs, string? inheritedVirtualHost)
    {
        (int defaultRetry, TimeSpan? defaultDbr) = c.Kind switch
        {
            "HTTP_GET" or "SSL_GET" => (1, (TimeSpan?)TimeSpan.FromSeconds(3)),
            "MISC_CHECK" => (0, TimeSpan.FromSeconds(1)),
            "DNS_CHECK" => (3, null), // default_delay_before_retry 0: use the delay_loop
            _ => (1, TimeSpan.FromSeconds(1)),
        };
        var delayLoop = c.Timing.DelayLoop ?? rsTiming.DelayLoop!.Value;
        var timing = new CheckTiming(
            c.Timing.Retry ?? rsTiming.Retry ?? defaultRetry,
            c.Timing.DelayBeforeRetry ?? rsTiming.DelayBeforeRetry ?? defaultDbr ?? delayLoop,
            delayLoop,
            c.Timing.Warmup ?? rsTiming.Warmup ?? delayLoop,
            c.Timing.Alpha ?? rsTiming.Alpha ?? false,
            c.LogAllFailures);

        // The checker connects to the real server; a real server without a port is reached on the service's port.
        ushort rsPort = rs.Port != 0 ? rs.Port : vs.Port;
        var conn = new CheckConnection(
            c.ConnectIp ?? rs.Address, c.ConnectPort ?? rsPort, c.BindTo, c.BindPort, c.BindIf, c.FwMark,
            c.Timing.ConnectTimeout ?? rsTiming.ConnectTimeout!.Value);

        switch (c.Kind)
        {
            case "TCP_CHECK":
                return new TcpCheck(timing, conn, c.Location);
            case "HTTP_GET" or "SSL_GET":
                if (c.Urls.Count == 0)
                {
                    Warning(c.Location, $"{c.Kind} has no url - checker ignored");
                    return null;
                }
                // The Host header: the url's own, else the checker's, the real server's, the virtual server's.
                return new HttpCheck(timing, conn, c.Kind == "SSL_GET", c.Urls, c.VirtualHost ?? inheritedVirtualHost, c.EnableSni, c.SniName, c.Location);
            case "MISC_CHECK":
                if (c.MiscPath is null)
                {
                    Warning(c.Location, "No script path has been specified for MISC_CHECKER - skipping");
                    return null;
                }
                return new MiscCheck(timing, c.MiscPath, c.MiscTimeout, c.MiscDynamic, c.User, c.Group, c.Location);
            default:
                return new DnsCheck(timing, conn, c.DnsType, c.DnsName, c.Location);
        }
    }
}
