using System.Net;

namespace Fulcrum.Balancing;

// The hook points between the balancer and connection sync (Sync/): the balancer publishes connection
// changes and, on a connection-table miss, asks for a connection the MASTER synced. Defined here so the
// dependency stays one way (Balancing <- Sync).

/// <summary>IP_VS_CONN_F_* bits (include/uapi/linux/ip_vs.h) that the sync protocol carries.</summary>
public static class IpvsConnFlags
{
    public const uint FwdMask = 0x0007;
    public const uint Sync = 0x0020;
    public const uint Hashed = 0x0040;
    public const uint NoOutput = 0x0080;
    public const uint Inactive = 0x0100;
    public const uint OutSeq = 0x0200;
    public const uint InSeq = 0x0400;
    public const uint SeqMask = 0x0600;
    public const uint NoCport = 0x0800;
    public const uint Template = 0x1000;
    public const uint OnePacket = 0x2000;

    /// <summary>IP_VS_CONN_F_BACKUP_MASK: the flags a BACKUP takes from a sync message.</summary>
    public const uint BackupMask = FwdMask | NoOutput | Inactive | SeqMask | NoCport | Template;
}

/// <summary>
/// One connection or persistence template as a sync message carries it (ip_vs_sync_v4/v6). Addresses
/// are host order; an IPv4 address is in the low 32 bits with <see cref="IsIpv6"/> false.
/// </summary>
public struct SyncedConnection
{
    public bool IsIpv6;
    public byte Protocol;
    /// <summary>IP_VS_CONN_F_* (see <see cref="IpvsConnFlags"/>).</summary>
    public uint Flags;
    /// <summary>The IPVS state (IP_VS_TCP_S_*; a template's IP_VS_CTPL_S_*).</summary>
    public ushort State;
    public ushort ClientPort;
    public ushort VirtualPort;
    public ushort DestPort;
    public uint FwMark;
    /// <summary>cp->timeout in seconds (a connection: its state's timeout; a template: its persistence timeout).</summary>
    public uint TimeoutSeconds;
    public UInt128 ClientAddress;
    public UInt128 VirtualAddress;
    public UInt128 DestAddress;

    public readonly bool IsTemplate => (Flags & IpvsConnFlags.Template) != 0;

    /// <summary>What the entry is found by on a BACKUP.</summary>
    public readonly ConnectionKey Key => new(IsIpv6, Protocol, ClientAddress, ClientPort, VirtualAddress, VirtualPort, IsTemplate);

    /// <summary>An address field as an <see cref="IPAddress"/> (control plane only: it allocates).</summary>
    public readonly IPAddress ToAddress(UInt128 value)
    {
        if (!IsIpv6)
            return Balancer.ToAddress((uint)value);
        var b = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, value);
        return new IPAddress(b);
    }
}

/// <summary>
/// A connection's (or a template's) lookup key for either address family, as the kernel's connection table
/// keys it (ip_vs_conn_hashkey: af, protocol, client, client port, virtual address, virtual port; templates
/// apart). Host order; an IPv4 address in the low 32 bits. A fwmark template has protocol 0 and the mark as
/// its virtual address (ip_vs_sched_persist).
/// </summary>
public readonly record struct ConnectionKey(
    bool IsIpv6, byte Protocol, UInt128 Client, ushort ClientPort, UInt128 Virtual, ushort VirtualPort, bool Template);

/// <summary>What a sync daemon is: ipvsadm's IP_VS_STATE_MASTER / IP_VS_STATE_BACKUP.</summary>
public enum SyncDaemonState
{
    Master = 1,
    Backup = 2,
}

/// <summary>
/// A sync daemon's settings as ipvsadm --start-daemon gives them (ipvs_daemon_t); zero/null means the
/// kernel's default. <see cref="Peers"/> and <see cref="AuthKey"/> are Fulcrum's extensions (not
/// settable by ipvsadm); the daemon listing shows the effective values, as the kernel reports them.
/// </summary>
public sealed record SyncDaemonConfig(
    SyncDaemonState State,
    string Interface,
    int SyncId = 0,
    int MaxLength = 0,
    IPAddress? Group = null,
    int Port = 0,
    int Ttl = 0)
{
    /// <summary>Unicast peers that receive every message besides (or, with a null group, instead of) the group.</summary>
    public IReadOnlyList<IPEndPoint> Peers { get; init; } = [];

    /// <summary>An HMAC-SHA256 key: when set, messages carry an authentication trailer and unsigned ones are dropped.</summary>
    public ReadOnlyMemory<byte> AuthKey { get; init; }
}

/// <summary>
/// Connection sync as the balancer sees it. The data-plane methods (<see cref="Publish"/>,
/// <see cref="TryImport"/>) run on worker threads: they never block, lock or allocate. The daemon
/// methods are the control plane's (ipvsadm --start-daemon/--stop-daemon/-L --daemon).
/// </summary>
public interface IConnectionSync
{
    /// <summary>True while a MASTER daemon runs: only then do workers publish.</summary>
    bool IsMaster { get; }

    /// <summary>A worker hands a connection change to the MASTER daemon; on a full queue it is counted and dropped.</summary>
    void Publish(int worker, in SyncedConnection connection);

    /// <summary>
    /// A connection (or, with <see cref="ConnectionKey.Template"/>, a persistence template) of either address
    /// family that a MASTER synced to this director and that has not expired: consulted on a connection-table
    /// miss only.
    /// </summary>
    bool TryImport(in ConnectionKey key, long nowMs, out SyncedConnection connection);

    /// <summary>Tells the sync layer a worker took over an imported entry (so listings do not show it twice).</summary>
    void Adopted(in ConnectionKey key);

    /// <summary>Imported entries no worker has taken over yet, for -Lc listings.</summary>
    void CollectImported(List<ConnectionInfo> into, long nowMs);

    /// <summary>ipvsadm --start-daemon: 0, EEXIST when that daemon already runs, ENODEV for an unknown interface.</summary>
    int StartDaemon(SyncDaemonConfig config);

    /// <summary>ipvsadm --stop-daemon: 0, or ESRCH when that daemon does not run.</summary>
    int StopDaemon(SyncDaemonState state);

    /// <summary>The running daemons with their effective settings, MASTER first.</summary>

    IReadOnlyList<SyncDaemonConfig> GetDaemons();
}
