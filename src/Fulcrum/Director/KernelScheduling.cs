using Fulcrum.Balancing;
using Fulcrum.Balancing.Schedulers;
using Fulcrum.Linux;
using Fulcrum.Linux.Bpf;
using Fulcrum.Packets;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// Lets the kernel tier schedule the SYNs of the virtual services where its decision is the C# one:
/// <list type="bullet">
/// <item>rr and wrr, whose picks depend only on the dest list, the weights and a cursor (ip_vs_rr.c, ip_vs_wrr.c): the
/// sequence the scheduler walks (one pick per dest for rr, a whole weighted cycle for wrr) is published as the
/// program's slot table, and one cursor shared by all CPUs walks it, as the kernel's scheduler state is shared under
/// its lock;</item>
/// <item>sh: its 256 buckets; mh: its Maglev lookup table (hsiphash in the program); dh and fo: the one real server
/// all of an IPv4 service's SYNs get;</item>
/// <item>lc, wlc (ipvsadm's default), sed and nq: the dest list with weights; the program runs the scheduler's loop over
/// the real servers' ActiveConn/InActConn, which it and every worker keep in one shared array (fulcrum_dest_conns,
/// <see cref="RealServer.KernelId"/>), as ip_vs_dest keeps them in atomics.</item>
/// </list>
/// Republished whenever the table changes and every second (a dest's MAC resolved, the SYN-flood defense switched).
/// Not published, so C# schedules as before: persistence (templates), fwmark services, thresholds (overload depends
/// on counts), NAT/TUN dests, IPv6, unresolved MACs, least-connection services of more than
/// <see cref="KernelTier.LeastMax"/> real servers, the other schedulers (lblc, lblcr, ovf, twos), and every
/// service while drop_entry or secure_tcp is active.
/// </summary>
internal sealed partial class KernelScheduling : IDisposable
{
    /// <summary>The longest wrr cycle published (slots); longer cycles stay with C#.</summary>
    internal const int MaxSlots = 4096;

    private readonly IpvsTable _table;
    private readonly KernelTier _tier;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<(uint Vip, ushort Port), (KernelSlot[] Slots, KernelPick Pick)> _published = [];
    private readonly Timer _timer;
    private readonly Timer _lease;
    private bool _disposed;

    /// <summary>How long the program may schedule without hearing from this daemon, and how often the daemon renews it.</summary>
    internal static readonly TimeSpan Lease = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan LeaseRenewal = TimeSpan.FromMilliseconds(250);

    public KernelScheduling(IpvsTable table, KernelTier tier, ILogger logger)
    {
        _table = table;
        _tier = tier;
        _logger = logger;
        _table.Changed += Publish;
        _lease = new Timer(_ => RenewLease(), null, TimeSpan.Zero, LeaseRenewal);
        _timer = new Timer(_ => Publish(), null, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    private void RenewLease()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            try
            {
                _tier.RenewLease(Lease);
            }
            catch (LinuxException e)
            {
                LogFailed("(lease)", e.Message);
            }
        }
    }

    /// <summary>Brings the program's services and slot tables in line with the table.</summary>
    public void Publish()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            var snapshot = _table.Snapshot;
            bool defending = _table.Defense.DropEntryActive || _table.Defense.SecureTcpActive;
            var seen = new HashSet<(uint, ushort)>();
            foreach (var svc in snapshot.Services)
            {
                if (!svc.IsIPv4 || svc.Protocol != IpProtocols.Tcp || svc.Key.IsFwMark)
                    continue;
                var key = (svc.Address4, svc.Port);
                seen.Add(key);
                var table = defending || snapshot.FindMarked(IpProtocols.Tcp, svc.Address4, svc.Port) is not null
                    ? ([], KernelPick.Cursor)
                    : Table(svc, LastPick(key, svc));
                Apply(key, table.Slots, table.Pick, svc.SchedulerName);
            }

            foreach (var key in _published.Keys.Where(k => !seen.Contains(k)).ToList())
                Apply(key, [], KernelPick.Cursor, "");
        }
    }

    /// <summary>
    /// The dest picked last for the service: the kernel's last slot while it schedules the service (its cursor, read
    /// back), else the C# workers' last pick, so a (re)published rr sequence continues the same round.
    /// </summary>
    private RealServer? LastPick((uint Vip, ushort Port) key, VirtualService svc)
    {
        if (_published.TryGetValue(key, out var published) && published.Pick == KernelPick.Cursor &&
            _tier.TryReadScheduleCursor(key.Vip, key.Port, out ulong cursor) && cursor > 0)
        {
            var slots = published.Slots;
            var last = slots[(int)((cursor - 1) % (ulong)slots.Length)];
            foreach (var d in svc.DestArray)
            {
                if (!d.IsIpv6 && d.Address4 == last.Address && d.Port == last.Port)
                    return d;
            }

            return null;
        }

        return svc.LastScheduled;
    }

    /// <summary>The table the program may schedule the service from, and how it picks a slot; no slots when it may not.</summary>
    internal static (KernelSlot[] Slots, KernelPick Pick) Table(VirtualService svc, RealServer? last = null) => svc.SchedulerName switch
    {
        "sh" => (SourceBuckets(svc), (svc.Spec.Flags & SchedulerFlags.Flag2) != 0 ? KernelPick.SourceAndPortHash : KernelPick.SourceHash),
        "lc" => (Dests(svc), KernelPick.LeastConnection),
        "wlc" => (Dests(svc), KernelPick.WeightedLeastConnection),
        "sed" => (Dests(svc), KernelPick.ShortestExpectedDelay),
        "nq" => (Dests(svc), KernelPick.NeverQueue),
        "dh" or "fo" => (OneDest(svc), KernelPick.Cursor),
        "mh" => (MaglevSlots(svc), (svc.Spec.Flags & SchedulerFlags.Flag2) != 0 ? KernelPick.MaglevAndPort : KernelPick.Maglev),
        _ => (Sequence(svc, last), KernelPick.Cursor),
    };

    /// <summary>
    /// mh's Maglev lookup table as slots (the M entries ip_vs_mh_populate fills, which the C# scheduler indexes too); an
    /// entry whose dest is unusable (weight 0) or whose MAC is unknown gets a zero MAC, so its SYNs come up to C#, which
    /// runs mh-fallback's probes or drops as ip_vs_mh does.
    /// </summary>
    internal static KernelSlot[] MaglevSlots(VirtualService svc)
    {
        var set = svc.DestSet;
        if (svc.Spec.Persistent || !Eligible(set.Dests))
            return [];
        return HashTable((set.Table as MaglevTable ?? MaglevTable.Build(set.Dests)).Lookup);
    }

    /// <summary>
    /// dh and fo give every SYN of an IPv4 service the same real server: dh hashes the packet's destination, which
    /// is the VIP (ip_vs_dh_hashkey), fo takes the heaviest (ip_vs_fo). A one-slot table, or none when that dest is
    /// unusable (dh then has no dest at all: C# drops the SYN as ip_vs_dh does; fo has none left).
    /// </summary>
    internal static KernelSlot[] OneDest(VirtualService svc)
    {
        var set = svc.DestSet;
        if (svc.Spec.Persistent || !Eligible(set.Dests))
            return [];
        RealServer? d;
        if (svc.SchedulerName == "dh")
        {
            var buckets = set.Table as RealServer?[] ?? DestinationHashingScheduler.BuildTable(set.Dests);
            d = buckets[DestinationHashingScheduler.Bucket(svc.Address4)];
        }
        else
        {
            var fo = SchedulerFactory.Create("fo");
            fo.Update(set);
            var packet = default(ParsedPacket);
            d = fo.Pick(svc, in packet, 0);
        }

        return d is { Weight: > 0, IsOverloaded: false } && d.Mac != 0 ? [new KernelSlot(d.Mac, d.Address4, d.Port, d.KernelId)] : [];
    }

    /// <summary>
    /// The least-connection family's table: every dest in the scheduler's list order with its weight and shared-count
    /// id. All must be usable by the program (MAC known) except those of weight 0, which it skips as the scheduler
    /// does; none at all when a dest could win whose frames the program cannot send.
    /// </summary>
    internal static KernelSlot[] Dests(VirtualService svc)
    {
        var dests = svc.DestSet.Dests;
        if (svc.Spec.Persistent || dests.Length > KernelTier.LeastMax || !Eligible(dests))
            return [];
        var slots = new KernelSlot[dests.Length];
        bool any = false;
        for (int i = 0; i < dests.Length; i++)
        {
            var d = dests[i];
            if (d.Weight > 0 && d.Mac == 0)
                return [];
            slots[i] = new KernelSlot(d.Mac, d.Address4, d.Port, d.KernelId, d.Weight);
            any |= d.Weight > 0;
        }

        return any ? slots : [];
    }

    /// <summary>
    /// sh's 256 buckets as slots (the table ip_vs_sh_reassign builds, which the C# scheduler indexes too); a bucket
    /// whose dest is unusable (weight 0) or whose MAC is unknown gets a zero MAC, so its SYNs come up to C#.
    /// </summary>
    internal static KernelSlot[] SourceBuckets(VirtualService svc)
    {
        if (svc.Spec.Persistent || !Eligible(svc.DestSet.Dests))
            return [];
        var set = svc.DestSet;
        return HashTable(set.Table as RealServer?[] ?? SourceHashingScheduler.BuildTable(set.Dests));
    }

    /// <summary>
    /// A hashing scheduler's table as slots, entry for entry; an entry whose dest is unusable (weight 0) or whose MAC is
    /// unknown gets a zero MAC, so its SYNs come up to C#. None at all when no entry is usable.
    /// </summary>
    private static KernelSlot[] HashTable(RealServer?[] entries)
    {
        var slots = new KernelSlot[entries.Length];
        bool any = false;
        for (int i = 0; i < entries.Length; i++)
        {
            var d = entries[i];
            if (d is null)
                continue;
            bool usable = d.Weight > 0 && !d.IsOverloaded && d.Mac != 0;
            slots[i] = new KernelSlot(usable ? d.Mac : 0, d.Address4, d.Port, d.KernelId);
            any |= usable;
        }

        return any ? slots : [];
    }

    /// <summary>Real servers the program can forward to: IPv4, direct routing, no thresholds (overload depends on counts).</summary>
    private static bool Eligible(RealServer[] dests)
    {
        foreach (var d in dests)
        {
            if (d.IsIpv6 || d.Method != ForwardingMethod.DirectRoute || d.UpperThreshold != 0)
                return false;
        }

        return true;
    }

    /// <summary>
    /// The picks a fresh instance of the service's scheduler makes over one cycle (rr: continuing after
    /// <paramref name="last"/>, as ip_vs_rr keeps its place across list changes; wrr: from the cycle's start, as
    /// ip_vs_wrr_dest_changed resets it), or none when the kernel may not schedule this service (see the class summary).
    /// </summary>
    internal static KernelSlot[] Sequence(VirtualService svc, RealServer? last = null)
    {
        string name = svc.SchedulerName;
        var set = svc.DestSet;
        if (name is not ("rr" or "wrr") || svc.Spec.Persistent || !Eligible(set.Dests))
            return [];
        long weights = 0;
        int gcd = 0, usable = 0;
        foreach (var d in set.Dests)
        {
            if (d.Weight > 0)
            {
                weights += d.Weight;
                gcd = Gcd(gcd, d.Weight);
                usable++;
            }
        }

        if (weights == 0)
            return [];
        // rr: one round visits each dest rr would pick (weight > 0) once; wrr: the whole weighted cycle.
        long length = name == "rr" ? usable : weights / gcd;
        if (length > MaxSlots)
            return [];
        var scheduler = SchedulerFactory.Create(name);
        scheduler.Update(set);
        if (scheduler is RoundRobinScheduler rr)
            rr.ContinueAfter(last);
        var slots = new KernelSlot[length];
        var packet = default(ParsedPacket);
        for (int i = 0; i < slots.Length; i++)
        {
            var d = scheduler.Pick(svc, in packet, 0);
            if (d is null || d.Mac == 0)
                return [];
            slots[i] = new KernelSlot(d.Mac, d.Address4, d.Port, d.KernelId);
        }

        return slots;
    }

    private void Apply((uint Vip, ushort Port) key, KernelSlot[] slots, KernelPick pick, string scheduler)
    {
        var old = _published.GetValueOrDefault(key, ([], KernelPick.Cursor));
        // The same round from another place (an rr sequence continued after its last pick) needs no new table; a
        // hashed table must be the same bucket for bucket.
        if (slots.Length == 0 ? old.Slots.Length == 0
            : old.Pick == pick && (pick == KernelPick.Cursor ? IsRotation(old.Slots, slots) : old.Slots.AsSpan().SequenceEqual(slots)))
            return;
        try
        {
            _tier.PublishSchedule(key.Vip, key.Port, slots, pick);
        }
        catch (LinuxException e)
        {
            LogFailed(Address(key), e.Message);
            return;
        }

        if (slots.Length == 0)
        {
            _published.Remove(key);
            LogStopped(Address(key));
        }
        else
        {
            _published[key] = (slots, pick);
            LogScheduling(Address(key), scheduler, slots.Length);
        }
    }

    internal static bool IsRotation(KernelSlot[] a, KernelSlot[] b)
    {
        if (a.Length != b.Length)
            return false;
        if (a.Length == 0)
            return true;
        for (int shift = 0; shift < a.Length; shift++)
        {
            if (a.AsSpan(shift).SequenceEqual(b.AsSpan(0, a.Length - shift)) && a.AsSpan(0, shift).SequenceEqual(b.AsSpan(a.Length - shift)))
                return true;
        }

        return false;
    }

    private static string Address((uint Vip, ushort Port) key) =>
        $"{(key.Vip >> 24) & 0xFF}.{(key.Vip >> 16) & 0xFF}.{(key.Vip >> 8) & 0xFF}.{key.Vip & 0xFF}:{key.Port}";

    private static int Gcd(int a, int b)
    {
        while (b != 0)
            (a, b) = (b, a % b);
        return a;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        _table.Changed -= Publish;
        _timer.Dispose();
        _lease.Dispose();
    }

    [LoggerMessage(EventId = 213, Level = LogLevel.Information, Message = "kernel tier schedules TCP {Service} itself ({Scheduler}, {Slots} slots)")]
    private partial void LogScheduling(string service, string scheduler, int slots);

    [LoggerMessage(EventId = 214, Level = LogLevel.Information, Message = "kernel tier no longer schedules TCP {Service}: its SYNs go to the C# tier")]
    private partial void LogStopped(string service);

    [LoggerMessage(EventId = 215, Level = LogLevel.Warning, Message = "kernel tier: publishing TCP {Service} failed, the C# tier schedules it: {Reason}")]
    private partial void LogFailed(string service, string reason);
}
