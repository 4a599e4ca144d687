using System.Net;
using Fulcrum.Balancing;

namespace Fulcrum.Config;

// The keepalived.conf model: immutable records with keepalived 2.x defaults already applied
// (check_data.c validate_check_config, vrrp.c vrrp_complete_instance), so consumers never see
// "unset". Timers are TimeSpans (keepalived stores µs). Every item keeps where it was declared.

/// <summary>A whole keepalived.conf (all includes spliced in).</summary>
public sealed record KeepalivedConfiguration(
    GlobalDefs Global,
    IReadOnlyList<VrrpScript> VrrpScripts,
    IReadOnlyList<VrrpInstance> VrrpInstances,
    IReadOnlyList<VrrpSyncGroup> VrrpSyncGroups,
    IReadOnlyList<VirtualServerGroup> VirtualServerGroups,
    IReadOnlyList<VirtualServer> VirtualServers)
{
    public static KeepalivedConfiguration Empty { get; } = new(GlobalDefs.Default, [], [], [], [], []);
}

/// <summary>
/// `lvs_sync_daemon IFACE [VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group IP]`
/// (global_parser.c lvs_syncd_handler). SyncId null means the VRRP instance's virtual_router_id;
/// Port defaults to 8848 (IP_VS_SYNC_PORT).
/// </summary>
public sealed record LvsSyncDaemon(
    string Interface,
    string? VrrpInstance,
    int? SyncId = null,
    int? MaxLength = null,
    ushort Port = 8848,
    int? Ttl = null,
    IPAddress? Group = null);

/// <summary>global_defs. RouterId null means "the hostname", as keepalived does.</summary>
public sealed record GlobalDefs(
    string? RouterId,
    IReadOnlyList<string> NotificationEmail,
    string? NotificationEmailFrom,
    string? SmtpServer,
    ushort SmtpPort,
    TimeSpan SmtpConnectTimeout,
    LvsSyncDaemon? LvsSyncDaemon,
    int VrrpVersion,
    TimeSpan VrrpGarpMasterDelay,
    int VrrpGarpMasterRepeat,
    TimeSpan VrrpGarpMasterRefresh,
    int VrrpGarpMasterRefreshRepeat,
    IPAddress VrrpMcastGroup4,
    IPAddress VrrpMcastGroup6,
    bool VrrpStrict,
    bool VrrpSkipCheckAdvAddr,
    bool EnableScriptSecurity,
    string? ScriptUser,
    SourceLocation? Location)
{
    /// <summary>keepalived's defaults (global_data.c set_default_values).</summary>
    public static GlobalDefs Default { get; } = new(
        RouterId: null,
        NotificationEmail: [],
        NotificationEmailFrom: null,
        SmtpServer: null,
        SmtpPort: 25,
        SmtpConnectTimeout: TimeSpan.FromSeconds(30),
        LvsSyncDaemon: null,
        VrrpVersion: 2,
        VrrpGarpMasterDelay: TimeSpan.FromSeconds(5),
        VrrpGarpMasterRepeat: 5,
        VrrpGarpMasterRefresh: TimeSpan.Zero,
        VrrpGarpMasterRefreshRepeat: 1,
        VrrpMcastGroup4: IPAddress.Parse("224.0.0.18"),
        VrrpMcastGroup6: IPAddress.Parse("ff02::12"),
        VrrpStrict: false,
        VrrpSkipCheckAdvAddr: false,
        EnableScriptSecurity: false,
        ScriptUser: null,
        Location: null);
}

/// <summary>
/// `vrrp_script NAME { script "…" interval timeout weight [reverse] rise fall user init_fail }`.
/// Timeout zero means "use the interval" (vrrp_scheduler.c).
/// </summary>
public sealed record VrrpScript(
    string Name,
    string Script,
    TimeSpan Interval,
    TimeSpan Timeout,
    int Weight,
    bool WeightReverse,
    int Rise,
    int Fall,
    string? User,
    string? Group,
    bool InitFail,
    SourceLocation Location);

public enum VrrpState
{
    Backup,
    Master,
}

public enum VrrpAuthType
{
    Pass = 1,
    Ah = 2,
}

/// <summary>PASS or AH; the password is at most 8 bytes (vrrp.h auth_data[8]).</summary>
public sealed record VrrpAuthentication(VrrpAuthType Type, string Password);

/// <summary>One virtual_ipaddress line (vrrp_ipaddress.c alloc_ipaddress). Without /len: /32 or /128.</summary>
public sealed record VirtualIpAddress(
    IPAddress Address,
    int PrefixLength,
    IPAddress? Broadcast,
    string? Device,
    string? Scope,
    string? Label,
    IPAddress? Peer,
    bool Home,
    bool NoDad,
    bool NoPrefixRoute,
    bool AutoJoin,
    bool NoTrack,
    uint? PreferredLifetime,
    SourceLocation Location);

/// <summary>`track_script` entry. Weight null: the vrrp_script's own weight.</summary>
public sealed record TrackScript(string Name, int? Weight, bool Reverse, SourceLocation Location);

/// <summary>`track_interface` entry. Weight 0 means "fault when down".</summary>
public sealed record TrackInterface(string Name, int Weight, bool Reverse, SourceLocation Location);

/// <summary>`unicast_peer` entry.</summary>
public sealed record UnicastPeer(IPAddress Address, int? MinTtl, int? MaxTtl, SourceLocation Location);

/// <summary>notify_* scripts (quoted command lines) of an instance or a sync group.</summary>
public sealed record VrrpNotify(string? Master, string? Backup, string? Fault, string? Stop, string? Deleted, string? Any)
{
    public static VrrpNotify None { get; } = new(null, null, null, null, null, null);
}

/// <summary>
/// A vrrp_instance with keepalived's completed values: Priority defaults to 100, but to 255 when
/// `state MASTER` is given without a priority; with no state, priority 255 means MASTER (vrrp.c
/// 3302-3312). AdvertInterval is rounded to whole seconds (v2) or centiseconds (v3). Version comes
/// from `version`, else global vrrp_version, and IPv6 forces 3. NoPreempt is cleared for priority
/// 255 or state MASTER; PreemptDelay is zero when it does not apply.
/// </summary>
public sealed record VrrpInstance(
    string Name,
    VrrpState State,
    string? Interface,
    byte VirtualRouterId,
    byte Priority,
    TimeSpan AdvertInterval,
    int Version,
    VrrpAuthentication? Authentication,
    IReadOnlyList<VirtualIpAddress> VirtualIpAddresses,
    IReadOnlyList<VirtualIpAddress> VirtualIpAddressesExcluded,
    bool NoPreempt,
    TimeSpan PreemptDelay,
    IReadOnlyList<TrackScript> TrackScripts,
    IReadOnlyList<TrackInterface> TrackInterfaces,
    VrrpNotify Notify,
    IPAddress? McastSourceIp,
    IPAddress? UnicastSourceIp,
    IReadOnlyList<UnicastPeer> UnicastPeers,
    TimeSpan GarpMasterDelay,
    int GarpMasterRepeat,
    TimeSpan GarpMasterRefresh,
    int GarpMasterRefreshRepeat,
    bool UseVmac,
    string? VmacInterface,
    bool IsIpv6,
    SourceLocation Location);

/// <summary>vrrp_sync_group: instances that change state together.</summary>
public sealed record VrrpSyncGroup(
    string Name,
    IReadOnlyList<string> Instances,
    VrrpNotify Notify,
    IReadOnlyList<TrackScript> TrackScripts,
    IReadOnlyList<TrackInterface> TrackInterfaces,
    bool GlobalTracking,
    SourceLocation Location);

/// <summary>One virtual_server_group entry: an address range with a port, or a fwmark.</summary>
public sealed record VirtualServerGroupEntry(
    IPAddress? First,
    IPAddress? Last,
    ushort Port,
    uint FwMark,
    System.Net.Sockets.AddressFamily? FwMarkFamily,
    SourceLocation Location)
{
    public bool IsFwMark => First is null;
}

public sealed record VirtualServerGroup(string Name, IReadOnlyList<VirtualServerGroupEntry> Entries, SourceLocation Location);

public enum VirtualServerKind
{
    Address,
    FwMark,
    Group,
}

/// <summary>What follows `virtual_server`: `IP [PORT]`, `fwmark N` or `group NAME`.</summary>
public sealed record VirtualServerId(VirtualServerKind Kind, IPAddress? Address, ushort Port, uint FwMark, string? Group)
{
    /// <summary>As keepalived's FMT_VS prints it.</summary>
    public override string ToString() => Kind switch
    {
        VirtualServerKind.FwMark => $"FWM {FwMark}",
        VirtualServerKind.Group => $"[{Group}]",
        _ => Address!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"[{Address}]:{Port}"
            : $"{Address}:{Port}",
    };
}

/// <summary>`lb_kind TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]`.</summary>
public sealed record TunnelOptions(string Type, ushort Port, string? Checksum);

/// <summary>`sorry_server IP [PORT]` with its inhibit flag and forwarding method.</summary>
public sealed record SorryServer(IPAddress Address, ushort Port, ForwardingMethod Method, bool Inhibit, SourceLocation Location);

/// <summary>
/// A virtual_server. Defaults: delay_loop 60 s, lb_algo wlc, lb_kind NAT (keepalived, unlike
/// ipvsadm's DR), connect_timeout 5 s, quorum 1, hysteresis 0, weight 1 (the default for its
/// real servers), protocol TCP. PersistenceTimeout 0 = not persistent; `persistence_timeout`
/// with no value, or a persistence_granularity alone, gives 360.
/// </summary>
public sealed record VirtualServer(
    VirtualServerId Id,
    IpProtocol Protocol,
    TimeSpan DelayLoop,
    string Scheduler,
    SchedulerFlags SchedulerFlags,
    bool OnePacket,
    bool Hashed,
    ForwardingMethod Method,
    TunnelOptions? Tunnel,
    uint PersistenceTimeout,
    int? PersistenceGranularity,
    string? PersistenceEngine,
    SorryServer? SorryServer,
    int Quorum,
    int Hysteresis,
    string? QuorumUp,
    string? QuorumDown,
    bool InhibitOnFailure,
    bool Alpha,
    bool Omega,
    bool HaSuspend,
    string? VirtualHost,
    TimeSpan ConnectTimeout,
    int Weight,
    IReadOnlyList<RealServer> RealServers,
    SourceLocation Location);

/// <summary>
/// A real_server with the values it inherits from its virtual_server already applied
/// (check_data.c: weight, inhibit_on_failure, method, retry, connect_timeout, delay_loop, ...).
/// Port 0 in a DR/TUN service means "the service's port".
/// </summary>
public sealed record RealServer(
    IPAddress Address,
    ushort Port,
    int Weight,
    ForwardingMethod Method,
    TunnelOptions? Tunnel,
    bool InhibitOnFailure,
    uint UpperThreshold,
    uint LowerThreshold,
    string? NotifyUp,
    string? NotifyDown,
    IReadOnlyList<HealthCheck> Checkers,
    SourceLocation Location);

/// <summary>
/// Resolved checker timing: the checker's own keyword, else the real server's, else the virtual
/// server's, else the checker type's default (check_data.c 1355-1372). Warmup defaults to DelayLoop.
/// </summary>
public sealed record CheckTiming(
    int Retry,
    TimeSpan DelayBeforeRetry,
    TimeSpan DelayLoop,
    TimeSpan Warmup,
    bool Alpha,
    bool LogAllFailures);

/// <summary>
/// Where a connection-based checker connects: connect_ip/connect_port default to the real server
/// (port 0 with no real server port: the service's port); connect_timeout to the real server's,
/// then the virtual server's (5 s).
/// </summary>
public sealed record CheckConnection(
    IPAddress ConnectIp,
    ushort ConnectPort,
    IPAddress? BindTo,
    ushort BindPort,
    string? BindInterface,
    uint FwMark,
    TimeSpan ConnectTimeout);

/// <summary>A health checker inside a real_server.</summary>
public abstract record HealthCheck(CheckTiming Timing, SourceLocation Location);

/// <summary>TCP_CHECK: a connect that succeeds.</summary>
public sealed record TcpCheck(CheckTiming Timing, CheckConnection Connection, SourceLocation Location) : HealthCheck(Timing, Location);

/// <summary>A status_code range, inclusive; a single code is From == To.</summary>
public readonly record struct StatusCodeRange(int From, int To);

/// <summary>`url { path digest status_code virtualhost }`. StatusCodes default to 200-299.</summary>
public sealed record HttpUrl(string Path, string? Digest, IReadOnlyList<StatusCodeRange> StatusCodes, string? VirtualHost, SourceLocation Location);

/// <summary>
/// HTTP_GET or SSL_GET (IsSsl). delay_before_retry defaults to 3 s (check_http.c). VirtualHost is
/// the checker's, else the real server's, else the virtual server's; a url's own one wins over it.
/// </summary>
public sealed record HttpCheck(
    CheckTiming Timing,
    CheckConnection Connection,
    bool IsSsl,
    IReadOnlyList<HttpUrl> Urls,
    string? VirtualHost,
    bool EnableSni,
    string? SniName,
    SourceLocation Location) : HealthCheck(Timing, Location);

/// <summary>MISC_CHECK: runs a script; retry defaults to 0. Timeout null: the delay_loop.</summary>
public sealed record MiscCheck(
    CheckTiming Timing,
    string Path,
    TimeSpan? Timeout,
    bool Dynamic,
    string? User,
    string? Group,
    SourceLocation Location) : HealthCheck(Timing, Location);

/// <summary>DNS_CHECK: type defaults to SOA, name to the root; retry 3, delay_before_retry = delay_loop.</summary>
public sealed record DnsCheck(CheckTiming Timing, CheckConnection Connection, string Type, string Name, SourceLocation Location) : HealthCheck(Timing, Location);
