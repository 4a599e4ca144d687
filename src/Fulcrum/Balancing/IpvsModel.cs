using System.Net;

namespace Fulcrum.Balancing;

// The control-plane model shared by `fulcrum adm` (Adm/) and the balancer (Balancing/).
// It mirrors what ipvsadm exchanges with the kernel over generic netlink (libipvs's
// ipvs_service_t / ipvs_dest_t), so ipvsadm's semantics carry over field for field.

/// <summary>IP protocol of a virtual service (IPPROTO_* values).</summary>
public enum IpProtocol : byte
{
    Tcp = 6,
    Udp = 17,
    Sctp = 132,
}

/// <summary>Forwarding method, with the kernel's IP_VS_CONN_F_* values (ip_vs.h).</summary>
public enum ForwardingMethod : byte
{
    Masquerade = 0,
    LocalNode = 1,
    Tunnel = 2,
    DirectRoute = 3,
}

/// <summary>
/// Identifies a virtual service: (protocol, address, port) or, when <see cref="FwMark"/> is non-zero,
/// the firewall mark (then Address is 0.0.0.0 or ::, Port 0, and Protocol Tcp as ipvsadm's placeholder).
/// </summary>
public readonly record struct ServiceKey(IpProtocol Protocol, IPAddress Address, ushort Port, uint FwMark = 0)
{
    public bool IsFwMark => FwMark != 0;
}

/// <summary>Scheduler flags (IP_VS_SVC_F_SCHED1..3: sh/mh-fallback, sh/mh-port, flag-3).</summary>
[Flags]
public enum SchedulerFlags : uint
{
    None = 0,
    Flag1 = 0x0008,
    Flag2 = 0x0010,
    Flag3 = 0x0020,
}

/// <summary>
/// A virtual service as ipvsadm -A/-E give it. <see cref="PersistenceTimeout"/> is 0 when not persistent.
/// <see cref="Netmask"/> is the persistence mask: an IPv4 mask as a prefix length 0..32, or an IPv6
/// prefix 1..128 (ipvsadm prints IPv4 masks dotted, IPv6 as a number).
/// </summary>
public sealed record ServiceSpec(
    ServiceKey Key,
    string Scheduler = "wlc",
    SchedulerFlags Flags = SchedulerFlags.None,
    uint PersistenceTimeout = 0,
    int NetmaskPrefix = 32,
    bool OnePacket = false,
    string? PersistenceEngine = null)
{
    public bool Persistent => PersistenceTimeout != 0;
}

/// <summary>A real server (destination) as ipvsadm -a/-e give it.</summary>
public sealed record DestSpec(
    IPAddress Address,
    ushort Port,
    ForwardingMethod Method = ForwardingMethod.DirectRoute,
    int Weight = 1,
    uint UpperThreshold = 0,
    uint LowerThreshold = 0);

/// <summary>Cumulative counters, as ipvsadm --stats prints them.</summary>
public readonly record struct IpvsStats(ulong Conns, ulong InPackets, ulong OutPackets, ulong InBytes, ulong OutBytes);

/// <summary>Estimated rates (per second), as ipvsadm --rate prints them.</summary>
public readonly record struct IpvsRates(ulong Cps, ulong InPps, ulong OutPps, ulong InBps, ulong OutBps);

/// <summary>A real server in a listing.</summary>
public sealed record DestInfo(DestSpec Spec, uint ActiveConns, uint InactiveConns, uint PersistentConns, IpvsStats Stats, IpvsRates Rates);

/// <summary>A virtual service in a listing, with its real servers in insertion order.</summary>
public sealed record ServiceInfo(ServiceSpec Spec, IReadOnlyList<DestInfo> Dests, IpvsStats Stats, IpvsRates Rates);

/// <summary>One connection, as /proc/net/ip_vs_conn shows it (ipvsadm -Lc reads that file).</summary>
public sealed record ConnectionInfo(
    IpProtocol Protocol,
    IPAddress Client,
    ushort ClientPort,
    IPAddress VirtualAddress,
    ushort VirtualPort,
    IPAddress Dest,
    ushort DestPort,
    string State,
    uint ExpiresSeconds,
    string? PersistenceEngine = null,
    string? PersistenceData = null);

/// <summary>The three timeouts ipvsadm --set changes, in seconds (0 in a set call = leave unchanged).</summary>
public readonly record struct IpvsTimeouts(int Tcp, int TcpFin, int Udp);

/// <summary>
/// errno values the kernel's IPVS control path returns; ipvsadm turns them into text by the
/// libipvs function that failed (ipvs_strerror), so the operation returns the bare errno.
/// </summary>
public static class IpvsErrno
{
    public const int Ok = 0;
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int ENOMEM = 12;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ERANGE = 34;
    public const int ENOPROTOOPT = 92;
    public const int EOPNOTSUPP = 95;
    public const int EAFNOSUPPORT = 97;
}

/// <summary>
/// The operations ipvsadm performs, with the kernel's semantics (ip_vs_ctl.c): each mutating call
/// returns 0 or a positive errno from <see cref="IpvsErrno"/>. Implemented by the director's
/// balancer; called by Adm/ on the control-socket thread.
/// </summary>
public interface IIpvsControl
{
    /// <summary>The conn table size the version header reports (size=N).</summary>
    int ConnectionTableSize { get; }

    int AddService(ServiceSpec service);          // EEXIST, ENOENT (unknown scheduler)
    int EditService(ServiceSpec service);         // ESRCH, ENOENT
    int DeleteService(ServiceKey key);            // ESRCH
    int Flush();

    int AddDest(ServiceKey key, DestSpec dest);   // ESRCH (service), EEXIST, ERANGE (l > u threshold)
    int EditDest(ServiceKey key, DestSpec dest);  // ESRCH, ENOENT, ERANGE
    int DeleteDest(ServiceKey key, IPAddress address, ushort port); // ESRCH, ENOENT

    /// <summary>Zero counters of one service, or of all when key is null.</summary>
    int Zero(ServiceKey? key);

    int SetTimeouts(IpvsTimeouts timeouts);
    IpvsTimeouts GetTimeouts();

    IReadOnlyList<ServiceInfo> GetServices();
    ServiceInfo? GetService(ServiceKey key);
    IReadOnlyList<ConnectionInfo> GetConnections();

    /// <summary>--start-daemon (IPVS_CMD_NEW_DAEMON): 0, EEXIST when that daemon runs, ENODEV (no such interface).</summary>
    int StartDaemon(SyncDaemonConfig config) => IpvsErrno.ENOPROTOOPT;

    /// <summary>--stop-daemon (IPVS_CMD_DEL_DAEMON): 0, or ESRCH when that daemon does not run.</summary>
    int StopDaemon(SyncDaemonState state) => IpvsErrno.ESRCH;

    /// <summary>-L --daemon: the running sync daemons with their effective settings, MASTER first.</summary>
    IReadOnlyList<SyncDaemonConfig> GetDaemons() => [];
}
