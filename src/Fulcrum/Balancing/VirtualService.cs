using System.Buffers.Binary;
using System.Net.Sockets;
using Fulcrum.Balancing.Schedulers;

namespace Fulcrum.Balancing;

/// <summary>
/// A virtual service at run time (the kernel's struct ip_vs_service). The object lives from AddService to
/// DeleteService. What workers read is swapped whole by the control plane: <see cref="DestArray"/> (a new
/// array on every dest add, delete or edit) and the per-worker scheduler instances; counters are per worker.
/// </summary>
public sealed class VirtualService
{
    private ServiceSpec _spec;
    private DestSet _destSet = DestSet.Empty;
    private IScheduler[] _schedulers;

    internal VirtualService(ServiceSpec spec, int workerCount)
    {
        _spec = spec;
        OnePacket = spec.OnePacket;
        Key = spec.Key;
        Protocol = (byte)spec.Key.Protocol;
        Port = spec.Key.Port;
        if (!spec.Key.IsFwMark && spec.Key.Address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            spec.Key.Address.TryWriteBytes(b, out _);
            Address4 = BinaryPrimitives.ReadUInt32BigEndian(b);
            IsIPv4 = true;
        }
        else if (!spec.Key.IsFwMark && spec.Key.Address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> b = stackalloc byte[16];
            spec.Key.Address.TryWriteBytes(b, out _);
            Address6 = BinaryPrimitives.ReadUInt128BigEndian(b);
            IsIPv6 = true;
        }
        Counters = new CounterSet(workerCount);
        _schedulers = CreateSchedulers(spec.Scheduler, workerCount);
    }

    public ServiceKey Key { get; }

    /// <summary>The spec as last added or edited.</summary>
    public ServiceSpec Spec
    {
        get => Volatile.Read(ref _spec);
        internal set
        {
            Volatile.Write(ref _spec, value);
            OnePacket = value.OnePacket;
        }
    }

    /// <summary>One-packet scheduling (ipvsadm -o): UDP datagrams are scheduled one by one, no connection kept.</summary>
    public bool OnePacket { get; private set; }

    /// <summary>IP protocol number (6 or 17).</summary>
    public byte Protocol { get; }

    /// <summary>IPv4 VIP in host order (0 for fwmark and IPv6 services).</summary>
    public uint Address4 { get; }

    public ushort Port { get; }

    /// <summary>True for an address-keyed IPv4 service (matched by <see cref="ServiceSnapshot.Find"/>).</summary>
    public bool IsIPv4 { get; }

    /// <summary>IPv6 VIP, first wire byte most significant (0 for IPv4 and fwmark services).</summary>
    public UInt128 Address6 { get; }

    /// <summary>True for an address-keyed IPv6 service (matched by <see cref="ServiceSnapshot.Find6"/>).</summary>
    public bool IsIPv6 { get; }

    /// <summary>
    /// The dests in the kernel's list order, which schedulers walk: the kernel links a new dest at the head
    /// (list_add_rcu in __ip_vs_update_dest), so the most recently added dest comes first.
    /// </summary>
    public IReadOnlyList<RealServer> Dests => DestArray;

    internal RealServer[] DestArray
    {
        get => Volatile.Read(ref _destSet).Dests;
        // The scheduler's table (dh/sh buckets, Maglev ring) is built here, in the control plane, and
        // published with the list it was built from.
        set => Volatile.Write(ref _destSet, new DestSet(value, SchedulerFactory.BuildTable(Spec.Scheduler, value)));
    }

    /// <summary>The dest list with its scheduler table: what workers read once per scheduling decision.</summary>
    internal DestSet DestSet => Volatile.Read(ref _destSet);

    /// <summary>
    /// The dest a worker's scheduler picked last (any worker; a plain reference write per pick): where the kernel
    /// tier's rr sequence starts when it takes over this service's SYNs, so the two walk one round.
    /// </summary>
    internal RealServer? LastScheduled
    {
        get => Volatile.Read(ref _lastScheduled);
        set => _lastScheduled = value;
    }

    private RealServer? _lastScheduled;

    /// <summary>The scheduler's name (rr, wrr, lc, wlc, sed, nq, dh, sh, lblc, lblcr, mh, fo, ovf, twos).</summary>
    public string SchedulerName => Spec.Scheduler;

    internal CounterSet Counters { get; }

    /// <summary>The scheduler instance that belongs to one worker; only that worker calls it.</summary>
    internal IScheduler SchedulerFor(int worker) => Volatile.Read(ref _schedulers)[worker];

    /// <summary>
    /// Binds a new scheduler (EditService with another -s): fresh state, as ip_vs_bind_scheduler. Call after
    /// the spec names it: the dest list is republished (a new array) with the new scheduler's table.
    /// </summary>
    internal void ReplaceScheduler(string name)
    {
        Volatile.Write(ref _schedulers, CreateSchedulers(name, Counters.WorkerCount));
        DestArray = (RealServer[])DestArray.Clone();
    }

    private IScheduler[] CreateSchedulers(string name, int workerCount)
    {
        var schedulers = new IScheduler[workerCount];
        for (int i = 0; i < workerCount; i++)
        {
            schedulers[i] = SchedulerFactory.Create(name);
            schedulers[i].Update(DestSet);
        }
        return schedulers;
    }

    /// <summary>The lookup key the data plane uses: protocol, IPv4 VIP and port packed into one word.</summary>
    internal static ulong LookupKey(byte protocol, uint address, ushort port) =>
        ((ulong)protocol << 48) | ((ulong)address << 16) | port;

    public override string ToString() => $"{Key.Protocol} {Key.Address}:{Key.Port}";
}
