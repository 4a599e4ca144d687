using System.Text;
using Fulcrum.Balancing;

namespace Fulcrum.Adm;

/// <summary>The libipvs function that last talked to the kernel; ipvs_strerror keys its table on it.</summary>
internal enum IpvsFunc
{
    None,
    AddService,
    UpdateService,
    DelService,
    ZeroService,
    AddDest,
    UpdateDest,
    DelDest,
    SetTimeout,
    GetServices,
    GetDests,
    GetService,
    StartDaemon,
    StopDaemon,
}

/// <summary>Fixed texts of ipvsadm 1.31 and libipvs.</summary>
internal static class AdmText
{
    public const string Version = "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n";

    private const int EMSGSIZE = 90;

    /// <summary>libipvs ipvs_strerror (libipvs.c): per-function entries first, then generic ones, then strerror.</summary>
    public static string StrError(IpvsFunc func, int err)
    {
        switch (func, err)
        {
            case (IpvsFunc.AddService, IpvsErrno.EEXIST):
                return "Service already exists";
            case (IpvsFunc.AddService or IpvsFunc.UpdateService, IpvsErrno.ENOENT):
                return "Scheduler or persistence engine not found";
            case (IpvsFunc.UpdateService or IpvsFunc.DelService or IpvsFunc.ZeroService
                or IpvsFunc.GetServices or IpvsFunc.GetDests or IpvsFunc.GetService, IpvsErrno.ESRCH):
                return "No such service";
            case (IpvsFunc.AddDest or IpvsFunc.UpdateDest or IpvsFunc.DelDest, IpvsErrno.ESRCH):
                return "Service not defined";
            case (IpvsFunc.AddDest, IpvsErrno.EEXIST):
                return "Destination already exists";
            case (IpvsFunc.UpdateDest or IpvsFunc.DelDest, IpvsErrno.ENOENT):
                return "No such destination";
            case (IpvsFunc.StartDaemon, IpvsErrno.EEXIST):
                return "Daemon has already run";
            case (IpvsFunc.StopDaemon, IpvsErrno.ESRCH):
                return "No daemon is running";
        }

        return err switch
        {
            IpvsErrno.EPERM => "Permission denied (you must be root)",
            IpvsErrno.EINVAL => "Invalid operation.  Possibly wrong module version, address not unicast, ...",
            IpvsErrno.ENOPROTOOPT => "Protocol not available",
            IpvsErrno.ENOMEM => "Memory allocation problem",
            IpvsErrno.EOPNOTSUPP => "Operation not supported with IPv6",
            IpvsErrno.EAFNOSUPPORT => "Operation not supported with specified address family",
            EMSGSIZE => "Module is wrong version",
            _ => LibcStrError(err),
        };
    }

    /// <summary>glibc strerror for the errnos the IPVS control path can return.</summary>
    public static string LibcStrError(int err) => err switch
    {
        IpvsErrno.EPERM => "Operation not permitted",
        IpvsErrno.ENOENT => "No such file or directory",
        IpvsErrno.ESRCH => "No such process",
        7 => "Argument list too long",
        11 => "Resource temporarily unavailable",
        IpvsErrno.ENOMEM => "Cannot allocate memory",
        13 => "Permission denied",
        14 => "Bad address",
        16 => "Device or resource busy",
        IpvsErrno.EEXIST => "File exists",
        19 => "No such device",
        IpvsErrno.EINVAL => "Invalid argument",
        28 => "No space left on device",
        IpvsErrno.ERANGE => "Numerical result out of range",
        EMSGSIZE => "Message too long",
        IpvsErrno.ENOPROTOOPT => "Protocol not available",
        IpvsErrno.EOPNOTSUPP => "Operation not supported",
        IpvsErrno.EAFNOSUPPORT => "Address family not supported by protocol",
        _ => "Unknown error " + err.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>usage_exit(program, 0) (ipvsadm.c): version line, then the help text with argv[0] substituted.</summary>
    public static void Usage(StringBuilder o, string program)
    {
        o.Append(Version);
        o.Append("Usage:\n");
        o.Append("  ").Append(program).Append(" -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]\n");
        o.Append("  ").Append(program).Append(" -D virtual-service\n");
        o.Append("  ").Append(program).Append(" -C\n");
        o.Append("  ").Append(program).Append(" -R\n");
        o.Append("  ").Append(program).Append(" -S [-n]\n");
        o.Append("  ").Append(program).Append(" -a|e virtual-service -r server-address [options]\n");
        o.Append("  ").Append(program).Append(" -d virtual-service -r server-address\n");
        o.Append("  ").Append(program).Append(" -L|l [virtual-service] [options]\n");
        o.Append("  ").Append(program).Append(" -Z [virtual-service]\n");
        o.Append("  ").Append(program).Append(" --set tcp tcpfin udp\n");
        o.Append("  ").Append(program).Append(" --start-daemon {master|backup} [daemon-options]\n");
        o.Append("  ").Append(program).Append(" --stop-daemon {master|backup}\n");
        o.Append("  ").Append(program).Append(" -h\n\n");
        o.Append(UsageRest);
    }

    private const string UsageRest =
        "Commands:\n" +
        "Either long or short options are allowed.\n" +
        "  --add-service     -A        add virtual service with options\n" +
        "  --edit-service    -E        edit virtual service with options\n" +
        "  --delete-service  -D        delete virtual service\n" +
        "  --clear           -C        clear the whole table\n" +
        "  --restore         -R        restore rules from stdin\n" +
        "  --save            -S        save rules to stdout\n" +
        "  --add-server      -a        add real server with options\n" +
        "  --edit-server     -e        edit real server with options\n" +
        "  --delete-server   -d        delete real server\n" +
        "  --list            -L|-l     list the table\n" +
        "  --zero            -Z        zero counters in a service or all services\n" +
        "  --set tcp tcpfin udp        set connection timeout values\n" +
        "  --start-daemon              start connection sync daemon\n" +
        "  --stop-daemon               stop connection sync daemon\n" +
        "  --help            -h        display this help message\n\n" +
        "virtual-service:\n" +
        "  --tcp-service|-t  service-address   service-address is host[:port]\n" +
        "  --udp-service|-u  service-address   service-address is host[:port]\n" +
        "  --sctp-service    service-address   service-address is host[:port]\n" +
        "  --fwmark-service|-f fwmark          fwmark is an integer greater than zero\n" +
        "\n" +
        "Options:\n" +
        "  --ipv6         -6                   fwmark entry uses IPv6\n" +
        "  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,\n" +
        "                                      the default scheduler is wlc.\n" +
        "  --pe            engine              alternate persistence engine may be sip,\n" +
        "                                      not set by default.\n" +
        "  --persistent   -p [timeout]         persistent service\n" +
        "  --netmask      -M netmask           persistent granularity mask\n" +
        "  --real-server  -r server-address    server-address is host (and port)\n" +
        "  --gatewaying   -g                   gatewaying (direct routing) (default)\n" +
        "  --ipip         -i                   ipip encapsulation (tunneling)\n" +
        "  --masquerading -m                   masquerading (NAT)\n" +
        "  --tun-type      type                one of ipip|gue|gre,\n" +
        "                                      the default tunnel type is ipip.\n" +
        "  --tun-port      port                tunnel destination port\n" +
        "  --tun-nocsum                        tunnel encapsulation without checksum\n" +
        "  --tun-csum                          tunnel encapsulation with checksum\n" +
        "  --tun-remcsum                       tunnel encapsulation with remote checksum\n" +
        "  --weight       -w weight            capacity of real server\n" +
        "  --u-threshold  -x uthreshold        upper threshold of connections\n" +
        "  --l-threshold  -y lthreshold        lower threshold of connections\n" +
        "  --connection   -c                   output of current IPVS connections\n" +
        "  --timeout                           output of timeout (tcp tcpfin udp)\n" +
        "  --daemon                            output of daemon information\n" +
        "  --stats                             output of statistics information\n" +
        "  --rate                              output of rate information\n" +
        "  --exact                             expand numbers (display exact values)\n" +
        "  --thresholds                        output of thresholds information\n" +
        "  --persistent-conn                   output of persistent connection info\n" +
        "  --tun-info                          output of tunnel information\n" +
        "  --nosort                            disable sorting output of service/server entries\n" +
        "  --sort                              does nothing, for backwards compatibility\n" +
        "  --ops          -o                   one-packet scheduling\n" +
        "  --numeric      -n                   numeric output of addresses and ports\n" +
        "  --sched-flags  -b flags             scheduler flags (comma-separated)\n" +
        "Daemon Options:\n" +
        "  --syncid sid                        syncid for connection sync (default=255)\n" +
        "  --sync-maxlen length                Max sync message length (default=1472)\n" +
        "  --mcast-interface interface         multicast interface for connection sync\n" +
        "  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)\n" +
        "  --mcast-port port                   UDP port (default=8848)\n" +
        "  --mcast-ttl ttl                     Multicast TTL (default=1)\n";
}
