using System.Net;
using System.Net.Sockets;

namespace Fulcrum.Config;

internal sealed partial class KeepalivedBinder
{
    // Every global_defs keyword keepalived 2.x installs (global_parser.c) that Fulcrum does not model.
    private static readonly HashSet<string> GlobalUnsupported = new(StringComparer.Ordinal)
    {
        "linkbeat_use_polling", "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets", "use_pid_dir",
        "instance", "child_wait_time", "process_names", "process_name", "vrrp_process_name", "checker_process_name",
        "lvs_process_name", "bfd_process_name", "use_symlink_paths", "set_supplementary_groups", "smtp_helo_name",
        "smtp_alert", "startup_script", "startup_script_timeout", "shutdown_script", "shutdown_script_timeout",
        "max_auto_priority", "min_auto_priority_delay", "smtp_alert_vrrp", "smtp_alert_checker",
        "checker_log_all_failures", "dynamic_interfaces", "no_email_faults", "default_interface",
        "disable_local_igmp", "v3_checksum_as_v2", "lvs_timeouts", "lvs_flush", "lvs_flush_on_stop",
        "lvs_flush_onstop", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_down_timer_adverts",
        "vrrp_garp_interval", "vrrp_gna_interval", "vrrp_min_garp", "vrrp_garp_extra_if", "vrrp_vmac_garp_intvl",
        "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert", "vrrp_iptables", "vrrp_ipsets", "nftables",
        "nftables_priority", "nftables_ifindex", "vrrp_check_unicast_src", "vrrp_priority", "vrrp_no_swap",
        "vrrp_rt_priority", "vrrp_cpu_affinity", "vrrp_rlimit_rttime", "vrrp_rlimit_rtime", "nftables_ipvs",
        "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_counters", "notify_fifo",
        "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script", "vrrp_notify_priority_changes",
        "fifo_write_vrrp_states_on_reload", "lvs_notify_fifo", "lvs_notify_fifo_script", "checker_priority",
        "checker_no_swap", "checker_rt_priority", "checker_cpu_affinity", "checker_rlimit_rttime",
        "checker_rlimit_rtime", "bfd_priority", "bfd_no_swap", "bfd_rt_priority", "bfd_cpu_affinity",
        "bfd_rlimit_rttime", "bfd_rlimit_rtime", "snmp_socket", "enable_traps", "enable_snmp_vrrp",
        "enable_snmp_keepalived", "enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_snmp_checker",
        "snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval", "enable_dbus", "dbus_service_name",
        "dbus_no_interface_name", "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force",
        "vrrp_netlink_monitor_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs",
        "process_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force",
        "lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force", "rs_init_notifies", "no_checker_emails",
        "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "vrrp_startup_delay", "vrrp_delay_after_boot",
        "log_unknown_vrids", "vrrp_owner_ignore_adverts", "vmac_prefix", "vmac_addr_prefix", "umask", "random_seed",
        "reload_check_config", "reload_time_file", "reload_repeat", "reload_file", "include_check",
        "config_save_dir", "tmp_config_directory", "data_use_instance", "json_version", "iproute_usr_dir",
        "iproute_etc_dir", "state_dump_file", "stats_dump_file", "json_dump_file",
    };

    private void BindGlobal(ConfigNode block)
    {
        if (_sawGlobal)
            Warning(block.Location, "global_defs given again; later values override earlier ones");
        _sawGlobal = true;
        var g = _global with { Location = block.Location };
        ExtraArgs(block, 0);

        foreach (var n in block.Children!)
        {
            switch (n.Name)
            {
                case "router_id":
                    if (TryString(n, out var rid))
                        g = g with { RouterId = rid };
                    break;
                case "notification_email":
                {
                    var list = new List<string>(g.NotificationEmail);
                    foreach (var w in BlockWords(n))
                        list.Add(w.Text);
                    g = g with { NotificationEmail = list };
                    break;
                }
                case "notification_email_from":
                    if (TryString(n, out var from))
                        g = g with { NotificationEmailFrom = from };
                    break;
                case "smtp_server":
                    if (NoBlock(n) && TryArg(n, 0, out var server))
                    {
                        ushort port = 25;
                        if (n.Args.Count > 1 && !TryPort(n.Args[1], "smtp_server port", out port))
                            break;
                        ExtraArgs(n, 2);
                        g = g with { SmtpServer = server.Text, SmtpPort = port };
                    }
                    break;
                case "smtp_connect_timeout":
                    if (TryTimer(n, Second, uint.MaxValue * Second, out var sct))
                        g = g with { SmtpConnectTimeout = sct };
                    break;
                case "lvs_sync_daemon":
                    if (NoBlock(n) && BindLvsSyncDaemon(n, g.LvsSyncDaemon) is { } sd)
                        g = g with { LvsSyncDaemon = sd };
                    break;
                case "vrrp_version":
                    if (TryInteger(n, 2, 3, out long ver))
                        g = g with { VrrpVersion = (int)ver };
                    break;
                case "vrrp_garp_master_delay":
                    if (TryInteger(n, 0, int.MaxValue, out long gd))
                        g = g with { VrrpGarpMasterDelay = TimeSpan.FromSeconds(gd) };
                    break;
                case "vrrp_garp_master_repeat":
                    if (TryGarpRepeat(n, out int gr))
                        g = g with { VrrpGarpMasterRepeat = gr };
                    break;
                case "vrrp_garp_master_refresh":
                    if (TryInteger(n, 0, int.MaxValue, out long grf))
                        g = g with { VrrpGarpMasterRefresh = TimeSpan.FromSeconds(grf) };
                    break;
                case "vrrp_garp_master_refresh_repeat":
                    if (TryGarpRepeat(n, out int grr))
                        g = g with { VrrpGarpMasterRefreshRepeat = grr };
                    break;
                case "vrrp_mcast_group4":
                    if (TrySingle(n, out var m4) && TryIp(m4, "vrrp_mcast_group4", out var a4))
                    {
                        if (a4.AddressFamily != AddressFamily.InterNetwork || !IsMulticast(a4))
                            Error(m4.Location, $"vrrp_mcast_group4 '{m4.Text}' is not an IPv4 multicast address");
                        else
                            g = g with { VrrpMcastGroup4 = a4 };
                    }
                    break;
                case "vrrp_mcast_group6":
                    if (TrySingle(n, out var m6) && TryIp(m6, "vrrp_mcast_group6", out var a6))
                    {
                        if (a6.AddressFamily != AddressFamily.InterNetworkV6 || !a6.IsIPv6Multicast)
                            Error(m6.Location, $"vrrp_mcast_group6 '{m6.Text}' is not an IPv6 multicast address");
                        else
                            g = g with { VrrpMcastGroup6 = a6 };
                    }
                    break;
                case "vrrp_strict":
                    if (Flag(n))
                        g = g with { VrrpStrict = true };
                    break;
                case "vrrp_skip_check_adv_addr":
                    if (TryOptionalBool(n, out bool skip))
                        g = g with { VrrpSkipCheckAdvAddr = skip };
                    break;
                case "enable_script_security":
                    if (Flag(n))
                        g = g with { EnableScriptSecurity = true };
                    break;
                case "script_user":
                    if (NoBlock(n) && TryArg(n, 0, out var su))
                    {
                        ExtraArgs(n, 2);
                        g = g with { ScriptUser = n.Args.Count > 1 ? $"{su.Text} {n.Args[1].Text}" : su.Text };
                    }
                    break;
                default:
                    Skip(n, GlobalUnsupported);
                    break;
            }
        }
        _global = g;
    }

    private static bool IsMulticast(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return b[0] >= 224 && b[0] <= 239;
    }

    /// <summary>garp repeat counts: 0 becomes 1 with a warning (vrrp_parser.c 1292-1309).</summary>
    private bool TryGarpRepeat(ConfigNode n, out int value)
    {
        value = 1;
        if (!TryInteger(n, 0, int.MaxValue, out long v))
            return false;
        if (v == 0)
            Warning(n.Args[0].Location, $"{n.Name} must be greater than 0, setting to 1");
        value = v == 0 ? 1 : (int)v;
        return true;
    }

    private LvsSyncDaemon? BindLvsSyncDaemon(ConfigNode n, LvsSyncDaemon? existing)
    {
        if (existing is not null)
        {
            Error(n.Location, "lvs_sync_daemon has already been specified - ignoring");
            return null;
        }
        if (!TryArg(n, 0, out var iface))
            return null;
        if (iface.Text.Length >= 16)
        {
            // IFNAMSIZ
            Error(iface.Location, $"lvs_sync_daemon interface name '{iface.Text}' too long - ignoring");
            return null;
        }
        var sd = new LvsSyncDaemon(iface.Text, null);
        for (int i = 1; i < n.Args.Count; i++)
        {
            var t = n.Args[i];
            bool hasValue = i + 1 < n.Args.Count;
            switch (t.Text)
            {
                case "inst" or "id" or "maxlen" or "port" or "ttl" or "group" when !hasValue:
                    Error(t.Location, $"No value specified for lvs_sync_daemon {t.Text}");
                    break;
                case "inst":
                    sd = sd with { VrrpInstance = n.Args[++i].Text };
                    break;
                case "id":
                    if (TryInteger(n.Args[++i], "lvs_sync_daemon id", 0, 255, out long id))
                        sd = sd with { SyncId = (int)id };
                    break;
                case "maxlen":
                    if (TryInteger(n.Args[++i], "lvs_sync_daemon maxlen", 1, 65535 - 20 - 8, out long ml))
                        sd = sd with { MaxLength = (int)ml };
                    break;
                case "port":
                    if (TryInteger(n.Args[++i], "lvs_sync_daemon port", 1, 65535, out long p))
                        sd = sd with { Port = (ushort)p };
                    break;
                case "ttl":
                    if (TryInteger(n.Args[++i], "lvs_sync_daemon ttl", 1, 255, out long ttl))
                        sd = sd with { Ttl = (int)ttl };
                    break;
                case "group":
                {
                    var gt = n.Args[++i];
                    if (TryIp(gt, "lvs_sync_daemon group", out var ga))
                    {
                        if (ga.AddressFamily == AddressFamily.InterNetwork ? !IsMulticast(ga) : !ga.IsIPv6Multicast)
                            Error(gt.Location, $"lvs_sync_daemon group address {gt.Text} is not multicast - ignoring");
                        else
                            sd = sd with { Group = ga };
                    }
                    break;
                }
                default:
                    // The older form `lvs_sync_daemon IF VRRP_INSTANCE [SYNC_ID]` (global_parser.c).
                    if (i == 1)
                        sd = sd with { VrrpInstance = t.Text };
                    else if (i == 2 && TryInteger(t, "lvs_sync_daemon id", 0, 255, out long old))
                    {
                        Warning(t.Location, "Please use keyword \"id\" before lvs_sync_daemon SYNCID");
                        sd = sd with { SyncId = (int)old };
                    }
                    else if (i != 2)
                        Error(t.Location, $"Unknown option {t.Text} specified for lvs_sync_daemon");
                    break;
            }
        }
        return sd;
    }
}
