using System.Buffers.Binary;
using System.Net;
using BenchmarkDotNet.Attributes;
using Fulcrum.Balancing;
using Fulcrum.Packets;
using Fulcrum.Sync;

namespace Fulcrum.Benchmarks;

/// <summary>
/// Connection sync on the balancer's per-packet path, IPv4 and IPv6: 64 established flows on a MASTER
/// (each packet counted for ip_vs_sync_conn_needed; a record built and queued on packets 3, 53, 103 ...),
/// and 64 flows a BACKUP's worker takes over from the imported table on a miss (plus the expiry sweep that
/// frees the previous batch). Both must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class SyncBenchmarks
{
    private const int Batch = 64;

    private readonly ParsedPacket[] _established = new ParsedPacket[Batch];
    private readonly ParsedPacket[] _adopt = new ParsedPacket[Batch];
    private Balancer _master = null!;
    private Balancer _backup = null!;
    private MasterSync _masterSync = null!;
    private long _now;
    private long _backupNow;

    [Params(false, true)]
    public bool Ipv6 { get; set; }

    /// <summary>A MASTER whose queue a drain on the same thread keeps from filling (the daemon's thread does that).</summary>
    private sealed class MasterSync : IConnectionSync
    {
        private readonly SyncQueue _queue = new(1 << 12);

        public long Published { get; private set; }

        public bool IsMaster => true;

        public void Publish(int worker, in SyncedConnection connection)
        {
            if (!_queue.TryEnqueue(in connection))
            {
                while (_queue.TryDequeue(out _))
                {
                }
                _queue.TryEnqueue(in connection);
            }
            Published++;
        }

        public bool TryImport(in ConnectionKey key, long nowMs, out SyncedConnection connection)
        {
            connection = default;
            return false;
        }

        public void Adopted(in ConnectionKey key) { }
        public void CollectImported(List<ConnectionInfo> into, long nowMs) { }
        public int StartDaemon(SyncDaemonConfig config) => 0;
        public int StopDaemon(SyncDaemonState state) => 0;
        public IReadOnlyList<SyncDaemonConfig> GetDaemons() => [];
    }

    /// <summary>A BACKUP that keeps offering its entries after a take-over, so every batch adopts again.</summary>
    private sealed class BackupSync(ImportedConnections imported) : IConnectionSync
    {
        public bool IsMaster => false;
        public void Publish(int worker, in SyncedConnection connection) { }
        public bool TryImport(in ConnectionKey key, long nowMs, out SyncedConnection connection) => imported.TryGet(in key, nowMs, out connection);
        public void Adopted(in ConnectionKey key) { }
        public void CollectImported(List<ConnectionInfo> into, long nowMs) { }
        public int StartDaemon(SyncDaemonConfig config) => 0;
        public int StopDaemon(SyncDaemonState state) => 0;
        public IReadOnlyList<SyncDaemonConfig> GetDaemons() => [];
    }

    [GlobalSetup]
    public void Setup()
    {
        _now = 1_000_000;
        var masterTable = NewTable();
        _masterSync = new MasterSync();
        masterTable.Sync = _masterSync;
        _master = masterTable.CreateWorker(0);
        for (int i = 0; i < Batch; i++)
        {
            var syn = Packet(i, TcpFlags.Syn);
            _master.Process(ref syn, _now, out _, out _);
            _established[i] = Packet(i, TcpFlags.Ack | TcpFlags.Psh);
            _master.Process(ref _established[i], _now, out _, out _); // ESTABLISHED
        }

        var backupTable = NewTable();
        var imported = new ImportedConnections(1 << 12);
        var dest = backupTable.Snapshot.Services[0].Dests[1];
        for (int i = 0; i < Batch; i++)
        {
            _adopt[i] = Packet(i, TcpFlags.Ack);
            var c = new SyncedConnection
            {
                IsIpv6 = Ipv6,
                Protocol = 6,
                Flags = (uint)ForwardingMethod.DirectRoute | IpvsConnFlags.NoOutput,
                State = (ushort)IpvsTcpState.Established,
                ClientAddress = Ipv6 ? _adopt[i].SourceAddress6 : _adopt[i].SourceAddress,
                ClientPort = _adopt[i].SourcePort,
                VirtualAddress = Ipv6 ? _adopt[i].DestinationAddress6 : _adopt[i].DestinationAddress,
                VirtualPort = 80,
                DestAddress = Ipv6 ? dest.Address6 : dest.Address4,
                DestPort = 80,
                // Longer than any run: the imported entries stay while the adopted copies expire batch by batch.
                TimeoutSeconds = 1_000_000_000,
            };
            imported.Install(in c, _now);
        }
        backupTable.Sync = new BackupSync(imported);
        _backup = backupTable.CreateWorker(0);
        _backupNow = _now;
        if (AdoptFlows() != Batch || EstablishedFlowsOnMaster() != Batch)
            throw new InvalidOperationException("setup: not every flow was forwarded");
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int EstablishedFlowsOnMaster()
    {
        int forwarded = 0;
        var w = _master;
        var packets = _established;
        for (int i = 0; i < packets.Length; i++)
        {
            if (w.Process(ref packets[i], _now, out _, out _) == BalanceVerdict.Forward)
                forwarded++;
        }
        return forwarded;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int AdoptFlows()
    {
        // 901 s later the previous batch (ESTABLISHED, 900 s) has expired: sweep it, then take the 64 flows over again.
        _backupNow += 901_000;
        var w = _backup;
        w.Expire(_backupNow, Batch);
        int forwarded = 0;
        var packets = _adopt;
        for (int i = 0; i < packets.Length; i++)
        {
            if (w.Process(ref packets[i], _backupNow, out _, out _) == BalanceVerdict.Forward)
                forwarded++;
        }
        return forwarded;
    }

    private IpvsTable NewTable()
    {
        var table = new IpvsTable(TimeProvider.System, 1, 1 << 16);
        var key = new ServiceKey(IpProtocol.Tcp, IPAddress.Parse(Ipv6 ? "2001:db8:100::100" : "198.51.100.100"), 80);
        table.AddService(new ServiceSpec(key, "rr"));
        for (int i = 2; i <= 4; i++)
            table.AddDest(key, new DestSpec(IPAddress.Parse(Ipv6 ? $"2001:db8:100::{i}" : $"198.51.100.{i}"), 80));
        return table;
    }

    private ParsedPacket Packet(int i, byte flags)
    {
        UInt128 client = Ipv6 ? Address("2001:db8:113::") + (UInt128)(10 + i % 8) : (203u << 24) | (113u << 8) | (uint)(10 + i % 8);
        UInt128 vip = Ipv6 ? Address("2001:db8:100::100") : (198u << 24) | (51u << 16) | (100u << 8) | 100u;
        return new ParsedPacket
        {
            L3Offset = 14,
            L4Offset = Ipv6 ? 54 : 34,
            Protocol = 6,
            TcpFlags = flags,
            IsIPv6 = Ipv6,
            SourceAddress6 = Ipv6 ? client : 0,
            DestinationAddress6 = Ipv6 ? vip : 0,
            SourceAddress = Ipv6 ? ParsedPacket.Fold(client) : (uint)client,
            DestinationAddress = Ipv6 ? ParsedPacket.Fold(vip) : (uint)vip,
            SourcePort = (ushort)(40000 + i),
            DestinationPort = 80,
            IpLength = Ipv6 ? 80 : 60,
        };
    }

    private static UInt128 Address(string text) => BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse(text).GetAddressBytes());
}
