using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Fulcrum.Config;

internal sealed partial class KeepalivedBinder
{
    // vrrp_instance keywords keepalived 2.x installs (vrrp_parser.c) that Fulcrum does not model.
    private static readonly HashSet<string> VrrpUnsupported = new(StringComparer.Ordinal)
    {
        "use_vmac_addr", "vmac_xmit_base", "use_ipvlan", "unicast_fault_no_peer", "check_unicast_src",
        "old_unicast_checksum", "native_ipv6", "vrf", "dont_track_primary", "track_file", "track_process",
        "track_bfd", "mcast_dst_ip", "track_src_ip", "unicast_ttl", "no_virtual_ipaddress", "promote_secondaries",
        "linkbeat_use_polling", "v3_checksum_as_v2", "virtual_routes", "virtual_rules", "accept", "no_accept",
        "skip_check_adv_addr", "strict_mode", "debug", "notify_master_rx_lower_pri", "smtp_alert",
        "notify_priority_changes", "lvs_sync_daemon_interface", "garp_lower_prio_delay", "garp_lower_prio_repeat",
        "down_timer_adverts", "timer_expired_backup", "thread_timer_expired", "garp_extra_if", "vmac_garp_intvl",
        "lower_prio_no_advert", "higher_prio_send_advert", "owner_ignore_adverts", "kernel_rx_buf_size",
        "interfaces", "global_tracking", "sync_group_tracking_weight",
    };

    private static readonly HashSet<string> ScriptUnsupported = new(StringComparer.Ordinal) { };

    private static readonly HashSet<string> SyncGroupUnsupported = new(StringComparer.Ordinal)
    {
        "track_file", "track_process", "track_bfd", "smtp_alert", "notify_priority_changes",
        "sync_group_tracking_weight",
    };

    private readonly Dictionary<(string Group, string Member), SourceLocation> _syncMemberAt = [];

    private sealed class InstanceDraft
    {
        public required string Name;
        public required SourceLocation Location;
        public VrrpState? State;
        public SourceLocation? StateAt;
        public string? Interface;
        public byte? Vrid;
        public byte? Priority;
        public long? AdvertMicros;
        public SourceLocation? AdvertAt;
        public int? Version;
        public VrrpAuthentication? Auth;
        public SourceLocation? AuthAt;
        public List<VirtualIpAddress> Vips = [];
        public List<VirtualIpAddress> VipsExcluded = [];
        public bool NoPreempt;
        public SourceLocation? NoPreemptAt;
        public TimeSpan PreemptDelay;
        public SourceLocation? PreemptDelayAt;
        public List<TrackScript> TrackScripts = [];
        public List<TrackInterface> TrackInterfaces = [];
        public VrrpNotify Notify = VrrpNotify.None;
        public IPAddress? McastSrc;
        public IPAddress? UnicastSrc;
        public List<UnicastPeer> Peers = [];
        public TimeSpan? GarpDelay;
        public int? GarpRepeat;
        public TimeSpan? GarpRefresh;
        public int? GarpRefreshRepeat;
        public bool UseVmac;
        public string? VmacInterface;
    }

    private void BindVrrpScript(ConfigNode block)
    {
        if (block.Args.Count != 1)
        {
            Error(block.Location, "vrrp_script must have a name");
            return;
        }
        var name = block.Args[0].Text;
        foreach (var s in _scripts)
        {
            if (s.Name == name)
            {
                Error(block.Args[0].Location, $"vrrp_script {name} already defined");
                return;
            }
        }
        string? script = null;
        var interval = TimeSpan.FromSeconds(1);
        var timeout = TimeSpan.Zero;
        int weight = 0;
        bool reverse = false;
        int rise = 1, fall = 1;
        string? user = null, group = null;
        bool initFail = false;
        foreach (var n in block.Children!)
        {
            switch (n.Name)
            {
                case "script":
                    if (NoBlock(n) && TryArg(n, 0, out _))
                        script = JoinArgs(n);
                    break;
                case "interval":
                    if (TryTimer(n, Second, uint.MaxValue * Second, out var iv))
                        interval = iv;
                    break;
                case "timeout":
                    if (TryTimer(n, Second, uint.MaxValue * Second, out var to))
                        timeout = to;
                    break;
                case "weight":
                    if (NoBlock(n) && TryArg(n, 0, out var wt) && TryWeight(wt, "vrrp_script weight", out int w))
                    {
                        weight = w;
                        if (n.Args.Count > 1)
                        {
                            if (n.Args[1].Text == "reverse")
                                reverse = true;
                            else if (n.Args[1].Text != "noreverse")
                                Error(n.Args[1].Location, $"vrrp_script weight option '{n.Args[1].Text}' is invalid: must be reverse or noreverse");
                            ExtraArgs(n, 2);
                        }
                    }
                    break;
                case "rise":
                    if (TryInteger(n, 1, int.MaxValue, out long r))
                        rise = (int)r;
                    break;
                case "fall":
                    if (TryInteger(n, 1, int.MaxValue, out long f))
                        fall = (int)f;
                    break;
                case "user":
                    if (NoBlock(n) && TryArg(n, 0, out var u))
                    {
                        user = u.Text;
                        group = n.Args.Count > 1 ? n.Args[1].Text : null;
                        ExtraArgs(n, 2);
                    }
                    break;
                case "init_fail":
                    if (Flag(n))
                        initFail = true;
                    break;
                default:
                    Skip(n, ScriptUnsupported);
                    break;
            }
        }
        if (script is null)
        {
            Warning(block.Location, $"No script set for vrrp_script {name} - removing");
            return;
        }
        _scripts.Add(new VrrpScript(name, script, interval, timeout, weight, reverse, rise, fall, user, group, initFail, block.Location));
    }

    /// <summary>A command line given as one quoted word or as several words (install_keyword_quoted).</summary>
    private static string JoinArgs(ConfigNode n)
    {
        var sb = new StringBuilder();
        foreach (var a in n.Args)
        {
            if (sb.Length > 0)
                sb.Append(' ');
            sb.Append(a.Text);
        }
        return sb.ToString();
    }

    /// <summary>Tracking weights are -253..253; ±254 is clamped to ±253 (vrrp_track.c).</summary>
    private bool TryWeight(ConfigToken t, string what, out int weight)
    {
        weight = 0;
        if (!TryInteger(t, what, -254, 254, out long v))
            return false;
        if (v is 254 or -254)
        {
            Warning(t.Location, $"{what} {v} out of range, clamped to {(v > 0 ? 253 : -253)}");
            v = v > 0 ? 253 : -253;
        }
        weight = (int)v;
        return true;
    }

    private void BindVrrpInstance(ConfigNode block)
    {
        if (block.Args.Count != 1)
        {
            Error(block.Location, "vrrp_instance must have a name");
            return;
        }
        var name = block.Args[0].Text;
        foreach (var existing in _instanceDrafts)
        {
            if (existing.Name == name)
            {
                Error(block.Args[0].Location, $"vrrp instance {name} already defined");
                return;
            }
        }
        var v = new InstanceDraft { Name = name, Location = block.Location };
        foreach (var n in block.Children!)
            BindInstanceKeyword(v, n);
        _instanceDrafts.Add(v);
    }

    private void BindInstanceKeyword(InstanceDraft v, ConfigNode n)
    {
        switch (n.Name)
        {
            case "state":
                if (TrySingle(n, out var st))
                {
                    v.StateAt = st.Location;
                    if (st.Text == "MASTER")
                        v.State = VrrpState.Master;
                    else if (st.Text == "BACKUP")
                        v.State = VrrpState.Backup;
                    else
                    {
                        // vrrp_parser.c: "unknown state '%s', defaulting to BACKUP"
                        Error(st.Location, $"({v.Name}) unknown state '{st.Text}', defaulting to BACKUP");
                        v.State = VrrpState.Backup;
                    }
                }
                break;
            case "interface":
                if (TrySingle(n, out var ifn))
                {
                    if (ifn.Text.Length >= 16)
                        Error(ifn.Location, $"({v.Name}) interface name '{ifn.Text}' too long");
                    else
                        v.Interface = ifn.Text;
                }
                break;
            case "virtual_router_id":
                if (TryInteger(n, 1, 255, out long vrid))
                    v.Vrid = (byte)vrid;
                break;
            case "priority":
                if (TryInteger(n, 1, 255, out long prio))
                    v.Priority = (byte)prio;
                break;
            case "advert_int":
                if (TryTimer(n, Second / 100, 255 * Second, out var adv))
                {
                    v.AdvertMicros = adv.Ticks / 10;
                    v.AdvertAt = n.Args[0].Location;
                }
                break;
            case "version":
                if (TryInteger(n, 2, 3, out long ver))
                    v.Version = (int)ver;
                break;
            case "authentication":
                if (RequireBlock(n))
                    BindAuthentication(v, n);
                break;
            case "virtual_ipaddress":
                foreach (var line in BlockLines(n))
                {
                    if (BindVip(line) is { } vip)
                        v.Vips.Add(vip);
                }
                break;
            case "virtual_ipaddress_excluded":
                foreach (var line in BlockLines(n))
                {
                    if (BindVip(line) is { } vip)
                        v.VipsExcluded.Add(vip);
                }
                break;
            case "nopreempt":
                if (Flag(n))
                {
                    v.NoPreempt = true;
                    v.NoPreemptAt = n.Location;
                }
                break;
            case "preempt":
                if (Flag(n))
                    v.NoPreempt = false;
                break;
            case "preempt_delay":
                if (TryTimer(n, 0, 1000 * Second, out var pd))
                {
                    v.PreemptDelay = pd;
                    v.PreemptDelayAt = n.Location;
                }
                break;
            case "track_script":
                v.TrackScripts.AddRange(BindTrackScripts(n));
                break;
            case "track_interface":
                v.TrackInterfaces.AddRange(BindTrackInterfaces(n));
                break;
            case "notify_master" or "notify_backup" or "notify_fault" or "notify_stop" or "notify_deleted" or "notify":
                if (NoBlock(n) && TryArg(n, 0, out _))
                    v.Notify = WithNotify(v.Notify, n.Name, JoinArgs(n));
                break;
            case "mcast_src_ip":
                if (TrySingle(n, out var ms) && TryIp(ms, "mcast_src_ip", out var msa))
                    v.McastSrc = msa;
                break;
            case "unicast_src_ip":
                if (TrySingle(n, out var us) && TryIp(us, "unicast_src_ip", out var usa))
                    v.UnicastSrc = usa;
                break;
            case "unicast_peer":
                foreach (var line in BlockLines(n))
                {
                    if (BindPeer(line) is { } peer)
                        v.Peers.Add(peer);
                }
                break;
            case "garp_master_delay":
                if (TryInteger(n, 0, int.MaxValue, out long gd))
                    v.GarpDelay = TimeSpan.FromSeconds(gd);
                break;
            case "garp_master_repeat":
                if (TryGarpRepeat(n, out int gr))
                    v.GarpRepeat = gr;
                break;
            case "garp_master_refresh":
                if (TryInteger(n, 0, int.MaxValue, out long grf))
                    v.GarpRefresh = TimeSpan.FromSeconds(grf);
                break;
            case "garp_master_refresh_repeat":
                if (TryGarpRepeat(n, out int grr))
                    v.GarpRefreshRepeat = grr;
                break;
            case "use_vmac":
                if (NoBlock(n))
                {
                    v.UseVmac = true;
                    if (n.Args.Count > 0)
                    {
                        // `use_vmac [name] IFNAME [MAC]`: we keep the name; a MAC is not modelled.
                        int i = n.Args[0].Text == "name" ? 1 : 0;
                        if (i < n.Args.Count)
                            v.VmacInterface = n.Args[i].Text;
                        ExtraArgs(n, i + 1);
                    }
                }
                break;
            default:
                Skip(n, VrrpUnsupported);
                break;
        }
    }

    private static VrrpNotify WithNotify(VrrpNotify notify, string keyword, string command) => keyword switch
    {
        "notify_master" => notify with { Master = command },
        "notify_backup" => notify with { Backup = command },
        "notify_fault" => notify with { Fault = command },
        "notify_stop" => notify with { Stop = command },
        "notify_deleted" => notify with { Deleted = command },
        _ => notify with { Any = command },
    };

    private void BindAuthentication(InstanceDraft v, ConfigNode block)
    {
        VrrpAuthType? type = null;
        string? pass = null;
        foreach (var n in block.Children!)
        {
            switch (n.Name)
            {
                case "auth_type":
                    if (TrySingle(n, out var t))
                    {
                        if (t.Text == "PASS")
                            type = VrrpAuthType.Pass;
                        else if (t.Text == "AH")
                            type = VrrpAuthType.Ah;
                        else
                            Error(t.Location, $"({v.Name}) unknown authentication type '{t.Text}'");
                    }
                    break;
                case "auth_pass":
                    if (NoBlock(n) && TryArg(n, 0, out var p))
                    {
                        pass = JoinArgs(n);
                        if (Encoding.UTF8.GetByteCount(pass) > 8)
                        {
                            // vrrp.h: auth_data[8]
                            Warning(p.Location, "Truncating auth_pass to 8 characters");
                            pass = Truncate8(pass);
                        }
                    }
                    break;
                default:
                    Skip(n, AuthUnsupported);
                    break;
            }
        }
        if (type is null)
        {
            Error(block.Location, $"({v.Name}) authentication needs auth_type PASS or AH");
            return;
        }
        v.Auth = new VrrpAuthentication(type.Value, pass ?? "");
        v.AuthAt = block.Location;
    }

    private static readonly HashSet<string> AuthUnsupported = new(StringComparer.Ordinal)
    {
        "auth_hmac", "key", "active_key", "time_window", "anti_replay", "mode",
    };

    private static string Truncate8(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        return Encoding.UTF8.GetString(bytes, 0, 8);
    }

    /// <summary>
    /// `IP[/LEN] [brd IP] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad] [noprefixroute]
    /// [autojoin] [no_track] [preferred_lft N]` (vrrp_ipaddress.c alloc_ipaddress).
    /// </summary>
    private VirtualIpAddress? BindVip(ConfigNode line)
    {
        var words = line.Words;
        var first = words[0];
        var text = first.Text;
        int slash = text.IndexOf('/');
        var addrText = slash < 0 ? text : text[..slash];
        if (!ParseIp(addrText, out var address))
        {
            Error(first.Location, $"virtual_ipaddress '{text}' is not an IP address");
            return null;
        }
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int prefix = max;
        if (slash >= 0)
        {
            if (!ParseInteger(text[(slash + 1)..], out long len) || len < 0 || len > max)
            {
                Error(first.Location, $"virtual_ipaddress '{text}' has an invalid prefix length (0..{max})");
                return null;
            }
            prefix = (int)len;
        }
        var vip = new VirtualIpAddress(address, prefix, null, null, null, null, null, false, false, false, false, false, null, first.Location);
        for (int i = 1; i < words.Count; i++)
        {
            var w = words[i];
            bool hasValue = i + 1 < words.Count;
            switch (w.Text)
            {
                case "brd" or "dev" or "scope" or "label" or "peer" or "preferred_lft" when !hasValue:
                    Error(w.Location, $"virtual_ipaddress option '{w.Text}' needs a value");
                    break;
                case "brd":
                    if (TryIp(words[++i], "brd", out var brd))
                        vip = vip with { Broadcast = brd };
                    break;
                case "dev":
                    vip = vip with { Device = words[++i].Text };
                    break;
                case "scope":
                    vip = vip with { Scope = words[++i].Text };
                    break;
                case "label":
                    vip = vip with { Label = words[++i].Text };
                    break;
                case "peer":
                    if (TryIp(words[++i], "peer", out var peer))
                        vip = vip with { Peer = peer };
                    break;
                case "preferred_lft":
                {
                    var lt = words[++i];
                    if (lt.Text == "forever")
                        vip = vip with { PreferredLifetime = uint.MaxValue };
                    else if (TryInteger(lt, "preferred_lft", 0, uint.MaxValue, out long pl))
                        vip = vip with { PreferredLifetime = (uint)pl };
                    break;
                }
                case "home":
                    vip = vip with { Home = true };
                    break;
                case "-nodad":
                    vip = vip with { NoDad = true };
                    break;
                case "noprefixroute":
                    vip = vip with { NoPrefixRoute = true };
                    break;
                case "autojoin":
                    vip = vip with { AutoJoin = true };
                    break;
                case "no_track":
                    vip = vip with { NoTrack = true };
                    break;
                case "track" or "mngtmpaddr" or "use_vmac" or "nodad":
                    Warning(w.Location, $"unsupported virtual_ipaddress option '{w.Text}' skipped");
                    break;
                default:
                    Warning(w.Location, $"unknown virtual_ipaddress option '{w.Text}' skipped");
                    break;
            }
        }
        return vip;
    }

    private UnicastPeer? BindPeer(ConfigNode line)
    {
        var words = line.Words;
        if (!TryIp(words[0], "unicast_peer", out var address))
            return null;
        int? min = null, max = null;
        for (int i = 1; i < words.Count; i++)
        {
            var w = words[i];
            if ((w.Text == "min_ttl" || w.Text == "max_ttl") && i + 1 < words.Count)
            {
                if (TryInteger(words[++i], w.Text, 0, 255, out long ttl))
                {
                    if (w.Text == "min_ttl")
                        min = (int)ttl;
                    else
                        max = (int)ttl;
                }
            }
            else
                Warning(w.Location, $"unknown unicast_peer option '{w.Text}' skipped");
        }
        return new UnicastPeer(address, min, max, words[0].Location);
    }

    private List<TrackScript> BindTrackScripts(ConfigNode n)
    {
        var list = new List<TrackScript>();
        foreach (var line in BlockLines(n))
        {
            var words = line.Words;
            int? weight = null;
            bool reverse = false;
            for (int i = 1; i < words.Count; i++)
            {
                var w = words[i];
                if (w.Text == "weight" && i + 1 < words.Count)
                {
                    if (TryWeight(words[++i], "track_script weight", out int wt))
                        weight = wt;
                }
                else if (w.Text == "reverse")
                    reverse = true;
                else if (w.Text == "noreverse")
                    reverse = false;
                else
                    Error(w.Location, $"track_script option '{w.Text}' is invalid");
            }
            list.Add(new TrackScript(words[0].Text, weight, reverse, words[0].Location));
        }
        return list;
    }

    private List<TrackInterface> BindTrackInterfaces(ConfigNode n)
    {
        var list = new List<TrackInterface>();
        foreach (var line in BlockLines(n))
        {
            var words = line.Words;
            int weight = 0;
            bool reverse = false;
            for (int i = 1; i < words.Count; i++)
            {
                var w = words[i];
                if (w.Text == "weight" && i + 1 < words.Count)
                {
                    if (TryWeight(words[++i], "track_interface weight", out int wt))
                        weight = wt;
                }
                else if (w.Text == "reverse")
                    reverse = true;
                else if (w.Text == "noreverse")
                    reverse = false;
                else
                    Error(w.Location, $"track_interface option '{w.Text}' is invalid");
            }
            list.Add(new TrackInterface(words[0].Text, weight, reverse, words[0].Location));
        }
        return list;
    }

    private void BindSyncGroup(ConfigNode block)
    {
        if (block.Args.Count != 1)
        {
            Error(block.Location, "vrrp_sync_group must have a name");
            return;
        }
        var name = block.Args[0].Text;
        var members = new List<string>();
        var notify = VrrpNotify.None;
        var scripts = new List<TrackScript>();
        var ifaces = new List<TrackInterface>();
        bool globalTracking = false;
        bool sawGroup = false;
        foreach (var n in block.Children!)
        {
            switch (n.Name)
            {
                case "group":
                    sawGroup = true;
                    if (!n.HasBlock)
                    {
                        RequireBlock(n);
                        break;
                    }
                    foreach (var w in BlockWords(n))
                    {
                        if (members.Contains(w.Text))
                            Warning(w.Location, $"vrrp_sync_group {name}: instance {w.Text} listed twice");
                        else
                        {
                            members.Add(w.Text);
                            _syncMemberAt[(name, w.Text)] = w.Location;
                        }
                    }
                    break;
                case "notify_master" or "notify_backup" or "notify_fault" or "notify_stop" or "notify":
                    if (NoBlock(n) && TryArg(n, 0, out _))
                        notify = WithNotify(notify, n.Name, JoinArgs(n));
                    break;
                case "track_script":
                    scripts.AddRange(BindTrackScripts(n));
                    break;
                case "track_interface":
                    ifaces.AddRange(BindTrackInterfaces(n));
                    break;
                case "global_tracking":
                    if (Flag(n))
                        globalTracking = true;
                    break;
                default:
                    Skip(n, SyncGroupUnsupported);
                    break;
            }
        }
        if (!sawGroup || members.Count == 0)
        {
            Warning(block.Location, $"vrrp_sync_group {name} has no virtual router(s) - removing");
            return;
        }
        _syncGroups.Add(new VrrpSyncGroup(name, members, notify, scripts, ifaces, globalTracking, block.Location));
    }

    /// <summary>vrrp.c vrrp_complete_instance: defaults and corrections that need the whole file.</summary>
    private void CompleteInstances()
    {
        foreach (var v in _instanceDrafts)
        {
            if (v.Vrid is null)
            {
                Error(v.Location, $"({v.Name}) the virtual router id must be set");
                continue;
            }
            if (v.Interface is null && v.Peers.Count == 0)
                Error(v.Location, $"({v.Name}) Unknown interface!");

            // All VIPs share the family of the first; IPv6 forces VRRPv3 (vrrp.c 3270-3295).
            bool v6 = v.Vips.Count > 0 && v.Vips[0].Address.AddressFamily == AddressFamily.InterNetworkV6;
            var vips = new List<VirtualIpAddress>();
            foreach (var vip in v.Vips)
            {
                if ((vip.Address.AddressFamily == AddressFamily.InterNetworkV6) != v6)
                    Error(vip.Location, $"({v.Name}) address family of virtual_ipaddress {vip.Address} does not match the instance - skipping");
                else
                    vips.Add(vip);
            }
            int version = v.Version ?? _global.VrrpVersion;
            if (v6 && version == 2)
            {
                if (v.Version == 2)
                    Warning(v.Location, $"({v.Name}) cannot use IPv6 with VRRP version 2; setting version 3");
                version = 3;
            }

            // Priority: 100, but 255 for `state MASTER` without one; no state: 255 means MASTER.
            byte priority = v.Priority ?? (v.State == VrrpState.Master ? (byte)255 : (byte)100);
            var state = v.State ?? (priority == 255 ? VrrpState.Master : VrrpState.Backup);

            var advert = CompleteAdvert(v, version);

            var auth = v.Auth;
            if (auth is not null)
            {
                if (version == 3)
                {
                    Warning(v.AuthAt!.Value, $"({v.Name}) authentication is not supported in VRRPv3 - ignoring");
                    auth = null;
                }
                else if (_global.VrrpStrict)
                {
                    Warning(v.AuthAt!.Value, $"({v.Name}) authentication is not supported in strict mode - ignoring");
                    auth = null;
                }
                else if (auth.Password.Length == 0)
                {
                    Warning(v.AuthAt!.Value, $"({v.Name}) empty auth_pass - authentication ignored");
                    auth = null;
                }
                else if (auth.Type == VrrpAuthType.Ah && v6)
                {
                    Warning(v.AuthAt!.Value, $"({v.Name}) AH authentication is not supported for IPv6 - ignoring");
                    auth = null;
                }
            }

            bool noPreempt = v.NoPreempt;
            if (noPreempt && (priority == 255 || state == VrrpState.Master))
            {
                Warning(v.NoPreemptAt!.Value, $"({v.Name}) nopreempt needs state BACKUP and a priority below 255 - clearing");
                noPreempt = false;
            }
            var preemptDelay = v.PreemptDelay;
            if (preemptDelay > TimeSpan.Zero && (state == VrrpState.Master || noPreempt || _global.VrrpStrict))
            {
                Warning(v.PreemptDelayAt!.Value, $"({v.Name}) preempt_delay is ignored with state MASTER, nopreempt or vrrp_strict");
                preemptDelay = TimeSpan.Zero;
            }

            _instances.Add(new VrrpInstance(
                v.Name, state, v.Interface, v.Vrid.Value, priority, advert, version, auth, vips, v.VipsExcluded,
                noPreempt, preemptDelay, v.TrackScripts, v.TrackInterfaces, v.Notify, v.McastSrc, v.UnicastSrc, v.Peers,
                v.GarpDelay ?? _global.VrrpGarpMasterDelay,
                v.GarpRepeat ?? _global.VrrpGarpMasterRepeat,
                v.GarpRefresh ?? _global.VrrpGarpMasterRefresh,
                v.GarpRefreshRepeat ?? _global.VrrpGarpMasterRefreshRepeat,
                v.UseVmac, v.UseVmac ? v.VmacInterface ?? $"vrrp.{v.Vrid.Value}" : null, v6, v.Location));
        }
    }

    /// <summary>vrrp.c 3716-3764: v2 whole seconds below 256, v3 centiseconds below 40.96 s.</summary>
    private TimeSpan CompleteAdvert(InstanceDraft v, int version)
    {
        long micros = v.AdvertMicros ?? Second;
        var at = v.AdvertAt ?? v.Location;
        const long Centi = Second / 100;
        if (version == 2)
        {
            if (micros >= 256 * Second)
            {
                Warning(at, $"({v.Name}) VRRPv2 advertisement interval is out of range. Must be less than 256s. Setting to 255s");
                micros = 255 * Second;
            }
            else if (micros % Second != 0)
            {
                Warning(at, $"({v.Name}) VRRPv2 advertisement interval must be an integer. rounding");
                micros = (micros + (Second / 2)) / Second * Second;
                if (micros == 0)
                    micros = Second;
            }
        }
        else
        {
            if (micros >= 4096 * Centi)
            {
                Warning(at, $"({v.Name}) VRRPv3 advertisement interval is out of range. Must be less than 40.96s. Setting to 40.95s");
                micros = 4095 * Centi;
            }
            else if (micros % Centi != 0)
            {
                Warning(at, $"({v.Name}) VRRPv3 advertisement interval must be in units of 10ms - rounding");
                micros = (micros + (Centi / 2)) / Centi * Centi;
                if (micros == 0)
                    micros = Centi;
                else if (micros == 4096 * Centi)
                    micros = 4095 * Centi;
            }
        }
        return TimeSpan.FromTicks(micros * 10);
    }

    private void CheckReferences()
    {
        var scriptNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in _scripts)
            scriptNames.Add(s.Name);
        var instanceNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var i in _instances)
            instanceNames.Add(i.Name);

        for (int k = 0; k < _instances.Count; k++)
        {
            var inst = _instances[k];
            var kept = new List<TrackScript>();
            foreach (var ts in inst.TrackScripts)
            {
                if (scriptNames.Contains(ts.Name))
                    kept.Add(ts);
                else
                    Warning(ts.Location, $"({inst.Name}) track script {ts.Name} not found, ignoring...");
            }
            if (kept.Count != inst.TrackScripts.Count)
                _instances[k] = inst with { TrackScripts = kept };
        }

        for (int k = 0; k < _syncGroups.Count; k++)
        {
            var g = _syncGroups[k];
            var kept = new List<string>();
            foreach (var m in g.Instances)
            {
                if (instanceNames.Contains(m))
                    kept.Add(m);
                else
                    Warning(_syncMemberAt.GetValueOrDefault((g.Name, m), g.Location), $"Virtual router {m} specified in sync group {g.Name} doesn't exist - ignoring");
            }
            if (kept.Count == 1)
                Warning(g.Location, $"Sync group {g.Name} has only 1 virtual router(s) - this probably isn't what you want");
            if (kept.Count != g.Instances.Count)
                _syncGroups[k] = g with { Instances = kept };
        }

        if (_global.LvsSyncDaemon is { VrrpInstance: { } syncInstance } && !instanceNames.Contains(syncInstance))
            Warning(_global.Location ?? default, $"lvs_sync_daemon vrrp instance {syncInstance} not found");

        var vsgNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in _vsGroups)
            vsgNames.Add(g.Name);
        for (int k = _virtualServers.Count - 1; k >= 0; k--)
        {
            var vs = _virtualServers[k];
            if (vs.Id.Kind == VirtualServerKind.Group && !vsgNames.Contains(vs.Id.Group!))
            {
                Error(vs.Location, $"Virtual server group {vs.Id.Group} doesn't exist - ignoring virtual server");
                _virtualServers.RemoveAt(k);
            }
        }
    }
}
