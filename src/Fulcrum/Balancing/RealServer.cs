using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Fulcrum.Balancing;

/// <summary>
/// A real server (the kernel's struct ip_vs_dest) as the data plane sees it. The object lives as long as
/// the dest exists and, after a delete, as long as connections still point at it (the kernel's dest
/// trash), so its counters survive edits and re-adds. Configuration fields are written by the control
/// plane (under the table lock) and read by workers without locks; each is a single aligned word.
/// </summary>
public sealed class RealServer
{
    private int _weight;
    private int _lastWeight;
    private uint _upperThreshold;
    private uint _lowerThreshold;
    private int _method;
    private ulong _mac;
    private int _flags;

    private const int FlagAvailable = 1; // IP_VS_DEST_F_AVAILABLE: linked into its service
    private const int FlagOverload = 2;  // IP_VS_DEST_F_OVERLOAD: upper threshold reached

    internal RealServer(VirtualService service, IPAddress address, ushort port, int workerCount)
    {
        Service = service;
        Address = address;
        Port = port;
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            Address4 = BinaryPrimitives.ReadUInt32BigEndian(b);
            HashAddress = Address4;
        }
        else
        {
            Span<byte> b = stackalloc byte[16];
            address.TryWriteBytes(b, out _);
            Address6 = BinaryPrimitives.ReadUInt128BigEndian(b);
            IsIpv6 = true;
            HashAddress = Packets.ParsedPacket.Fold(Address6);
        }
        Counters = new CounterSet(workerCount);
        KernelId = NextKernelId();
    }

    /// <summary>
    /// This real server's index in the kernel tier's shared ActiveConn/InActConn counts (fulcrum_dest_conns, read by
    /// the program's least-connection picks): 1..2^20-1, unique among the real servers created since start, then
    /// reused in turn (a million creations later; a dest still draining connections by then would share counts).
    /// </summary>
    public uint KernelId { get; }

    private static int s_lastKernelId;

    private static uint NextKernelId()
    {
        const int Max = (1 << 20) - 1; // KernelTier.DestsMax - 1
        int id;
        do
        {
            id = Interlocked.Increment(ref s_lastKernelId) & Max;
        }
        while (id == 0);
        return (uint)id;
    }

    /// <summary>The service this dest belongs (or belonged, once deleted) to.</summary>
    public VirtualService Service { get; }

    public IPAddress Address { get; }

    /// <summary>IPv4 address in host order; 0 for an IPv6 dest.</summary>
    public uint Address4 { get; }

    /// <summary>IPv6 address in host order; 0 for an IPv4 dest.</summary>
    public UInt128 Address6 { get; }

    public bool IsIpv6 { get; }

    /// <summary>
    /// What hashing schedulers hash: the IPv4 address, or for IPv6 the kernel's addr_fold (XOR of the four
    /// words, as ip_vs_mh_hashkey folds a dest's address).
    /// </summary>
    internal uint HashAddress { get; }

    /// <summary>The dest port; for DR and TUN the service port (ipvsadm forces it, there is no port mapping).</summary>
    public ushort Port { get; }

    public ForwardingMethod Method
    {
        get => (ForwardingMethod)Volatile.Read(ref _method);
        internal set => Volatile.Write(ref _method, (int)value);
    }

    /// <summary>Scheduling weight; 0 = quiesced (never scheduled, existing connections keep flowing).</summary>
    public int Weight
    {
        get => Volatile.Read(ref _weight);
        internal set => Volatile.Write(ref _weight, value);
    }

    /// <summary>The latest non-zero weight (the kernel's last_weight; the weight given at add even if 0).</summary>
    public int LastWeight
    {
        get => Volatile.Read(ref _lastWeight);
        internal set => Volatile.Write(ref _lastWeight, value);
    }

    /// <summary>Upper connection threshold (ipvsadm -x); 0 = none.</summary>
    public uint UpperThreshold
    {
        get => Volatile.Read(ref _upperThreshold);
        internal set => Volatile.Write(ref _upperThreshold, value);
    }

    /// <summary>Lower connection threshold (ipvsadm -y); 0 = 3/4 of the upper one.</summary>
    public uint LowerThreshold
    {
        get => Volatile.Read(ref _lowerThreshold);
        internal set => Volatile.Write(ref _lowerThreshold, value);
    }

    /// <summary>
    /// The real server's MAC in the low 48 bits (first octet most significant); 0 = unknown. Written by the
    /// director's neighbour service, read by the data plane for DR forwarding.
    /// </summary>
    public ulong Mac
    {
        get => Volatile.Read(ref _mac);
        set => Volatile.Write(ref _mac, value);
    }

    /// <summary>False once the dest was deleted from its service (its connections still flow until they expire).</summary>
    public bool IsAvailable => (Volatile.Read(ref _flags) & FlagAvailable) != 0;

    /// <summary>IP_VS_DEST_F_OVERLOAD: schedulers skip the dest.</summary>
    public bool IsOverloaded => (Volatile.Read(ref _flags) & FlagOverload) != 0;

    internal CounterSet Counters { get; }

    /// <summary>Active connections summed over workers (ipvsadm's ActiveConn).</summary>
    public int ActiveConns => Counters.ActiveConns;

    /// <summary>Inactive connections summed over workers (ipvsadm's InActConn).</summary>
    public int InactiveConns => Counters.InactiveConns;

    public int PersistentConns => Counters.PersistentConns;

    /// <summary>ip_vs_dest_totalconns: active + inactive.</summary>
    public int TotalConns => Counters.ActiveConns + Counters.InactiveConns;

    /// <summary>ip_vs_dest_conn_overhead: an active connection weighs 256 inactive ones.</summary>
    internal long Overhead
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < Counters.WorkerCount; i++)
            {
                ref var c = ref Counters.Slot(i);
                sum += ((long)Volatile.Read(ref c.ActiveConns) << 8) + Volatile.Read(ref c.InactiveConns);
            }
            return sum;
        }
    }

    internal void SetAvailable(bool available) => SetFlag(FlagAvailable, available);

    internal void SetOverloaded(bool overloaded) => SetFlag(FlagOverload, overloaded);

    private void SetFlag(int flag, bool on)
    {
        int seen = Volatile.Read(ref _flags);
        while (true)
        {
            int wanted = on ? seen | flag : seen & ~flag;
            if (wanted == seen)
                return;
            int prev = Interlocked.CompareExchange(ref _flags, wanted, seen);
            if (prev == seen)
                return;
            seen = prev;
        }
    }

    /// <summary>ip_vs_bind_dest's check after a new connection: reaching the upper threshold overloads the dest.</summary>
    internal void CheckOverloadAfterBind()
    {
        uint upper = UpperThreshold;
        if (upper != 0 && (uint)TotalConns >= upper)
            SetOverloaded(true);
    }

    /// <summary>ip_vs_unbind_dest's check after a connection went away.</summary>
    internal void CheckOverloadAfterUnbind()
    {
        uint lower = LowerThreshold;
        uint upper = UpperThreshold;
        if (lower != 0)
        {
            if ((uint)TotalConns < lower)
                SetOverloaded(false);
        }
        else if (upper != 0)
        {
            if ((long)TotalConns * 4 < (long)upper * 3)
                SetOverloaded(false);
        }
        else if (IsOverloaded)
        {
            SetOverloaded(false);
        }
    }

    /// <summary>The spec as listings show it.</summary>
    internal DestSpec ToSpec() => new(Address, Port, Method, Weight, UpperThreshold, LowerThreshold);

    public override string ToString() => Address.AddressFamily == AddressFamily.InterNetworkV6
        ? $"[{Address}]:{Port}"
        : $"{Address}:{Port}";
}
