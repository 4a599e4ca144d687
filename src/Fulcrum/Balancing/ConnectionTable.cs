using System.Numerics;
using System.Security.Cryptography;

namespace Fulcrum.Balancing;

[Flags]
internal enum ConnectionFlags : byte
{
    None = 0,
    /// <summary>The slot holds a live connection.</summary>
    InUse = 1,
    /// <summary>IP_VS_CONN_F_INACTIVE: counted in the dest's InActConn rather than ActiveConn.</summary>
    Inactive = 2,
    /// <summary>IP_VS_CONN_F_NOOUTPUT: the director never sees replies (DR, TUN), so TCP uses the INPUT-ONLY rows.</summary>
    NoOutput = 4,
    /// <summary>IP_VS_CONN_F_TEMPLATE: a persistence template (client network, VIP, port) → dest, not a flow.</summary>
    Template = 8,
    /// <summary>An IPv6 entry: its addresses are in the table's IPv6 side store (<see cref="ConnectionTable.Client6"/>).</summary>
    IPv6 = 16,
    /// <summary>The kernel tier holds an entry for it and forwards its packets (<see cref="IKernelFastPath"/>).</summary>
    InKernel = 32,
    /// <summary>
    /// The kernel tier handed it back (a FIN there) but keeps its entry as a marker: its segments come up here,
    /// a SYN may reuse it in place; removed with the connection.
    /// </summary>
    KernelMarker = 64,
}

/// <summary>
/// One connection (struct ip_vs_conn), host order. A plain struct in a preallocated array: the
/// same shape can later be mirrored into a BPF map for the kernel tier. An IPv6 entry (flag
/// <see cref="ConnectionFlags.IPv6"/>) keeps its 128-bit addresses beside it in the table
/// (<see cref="ConnectionTable.Client6"/>, <see cref="ConnectionTable.Virtual6"/>), so IPv4 entries stay this size.
/// </summary>
internal struct Connection
{
    /// <summary>IPv4 client address; for an IPv6 entry the 32-bit fold of its client address.</summary>
    public uint ClientAddress;
    /// <summary>IPv4 VIP; for an IPv6 entry the 32-bit fold of its VIP.</summary>
    public uint VirtualAddress;
    public ushort ClientPort;
    public ushort VirtualPort;
    public byte Protocol;
    public IpvsTcpState State;
    public ConnectionFlags Flags;
    /// <summary>Next entry in the hash chain, or in the free list; -1 ends either.</summary>
    public int Next;
    public long ExpiresMs;
    /// <summary>A template's own timeout (cp->timeout): the service's -p, or 60 s once it had to wait for its connections.</summary>
    public long TimeoutMs;
    /// <summary>For a connection: the slot of the template controlling it (cp->control), or -1.</summary>
    public int Control;
    /// <summary>For a template: how many connections it controls (cp->n_control).</summary>
    public int Controlled;
    /// <summary>Packets seen (cp->in_pkts): connection sync sends on the kernel's sync_threshold/sync_period counts.</summary>
    public int InPackets;
    /// <summary>The state last synced (cp->old_state): a change forces a sync message.</summary>
    public IpvsTcpState SyncedState;
    public RealServer? Dest;
    public VirtualService? Service;
    /// <summary>The kernel tier's packet and byte counts already folded into the counters (while <see cref="ConnectionFlags.InKernel"/>).</summary>
    public long KernelPackets;
    public long KernelBytes;
}

/// <summary>
/// A worker's connection table: chained hashing over index arrays, entries in fixed-size chunks
/// allocated on first use up to the bound and then recycled through a free list, so memory is bounded
/// and a new connection never allocates once the table has grown. Single-threaded (its worker only);
/// the control plane's listing reads it racily, as /proc/net/ip_vs_conn does under RCU.
/// </summary>
/// <remarks>
/// IPv6 entries share the slots, chains and free list with IPv4 ones; their two 128-bit addresses live in a
/// side store indexed like the slots, allocated per chunk when the first IPv6 entry lands in it. An IPv4
/// entry therefore keeps its size, hash and compare (the IPv6 flag joins the template bit in one mask test),
/// and a table that never sees IPv6 never allocates the side store.
/// </remarks>
internal sealed class ConnectionTable
{
    private const int MaxChunkBits = 12;

    private readonly Connection[]?[] _chunks;
    private readonly UInt128[]?[] _chunks6;
    private readonly int _chunkBits;
    private readonly int _chunkMask;
    private readonly int[] _buckets;
    private readonly int _bucketShift;
    private readonly ulong _seed;
    private int _highWater;
    private int _freeHead = -1;

    public ConnectionTable(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        int chunkSize = (int)Math.Min(1u << MaxChunkBits, BitOperations.RoundUpToPowerOf2((uint)capacity));
        _chunkBits = BitOperations.Log2((uint)chunkSize);
        _chunkMask = chunkSize - 1;
        _chunks = new Connection[]?[(capacity + chunkSize - 1) >> _chunkBits];
        _chunks6 = new UInt128[]?[_chunks.Length];

        int buckets = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity));
        _buckets = new int[buckets];
        Array.Fill(_buckets, -1);
        _bucketShift = 64 - BitOperations.Log2((uint)buckets);
        // A random key per table, so a client cannot aim its ports at one chain.
        _seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) | 1;
    }

    public int Capacity { get; }

    public int Count { get; private set; }

    /// <summary>Slots handed out so far; entries at and beyond it were never used.</summary>
    public int HighWater => Volatile.Read(ref _highWater);

    public bool IsFull => Count >= Capacity;

    public ref Connection At(int index) => ref _chunks[index >> _chunkBits]![index & _chunkMask];

    /// <summary>The IPv6 client address of an IPv6 entry.</summary>
    public UInt128 Client6(int index) => _chunks6[index >> _chunkBits]![(index & _chunkMask) * 2];

    /// <summary>The IPv6 VIP of an IPv6 entry.</summary>
    public UInt128 Virtual6(int index) => _chunks6[index >> _chunkBits]![(index & _chunkMask) * 2 + 1];

    public int Bucket(byte protocol, uint client, ushort clientPort, uint vip, ushort vport)
    {
        ulong h = (((ulong)client << 32) | vip) ^ _seed;
        h = (h ^ (((ulong)clientPort << 24) | ((ulong)vport << 8) | protocol)) * 0x9E3779B97F4A7C15UL;
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9UL;
        return (int)(h >> _bucketShift);
    }

    /// <summary>The chain of an IPv6 5-tuple: every address bit goes into the hash, seeded as the IPv4 one.</summary>
    public int Bucket6(byte protocol, UInt128 client, ushort clientPort, UInt128 vip, ushort vport)
    {
        ulong h = ((ulong)(client >> 64) ^ _seed) * 0x9E3779B97F4A7C15UL;
        h = (h ^ (ulong)client) * 0xBF58476D1CE4E5B9UL;
        h = (h ^ (ulong)(vip >> 64)) * 0x94D049BB133111EBUL;
        h = (h ^ (ulong)vip ^ (((ulong)clientPort << 24) | ((ulong)vport << 8) | protocol)) * 0x9E3779B97F4A7C15UL;
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9UL;
        return (int)(h >> _bucketShift);
    }

    /// <summary>
    /// The entry for the 5-tuple in <paramref name="bucket"/>, or -1. Connections and templates never match
    /// each other (ip_vs_conn_in_get skips templates, ip_vs_ct_in_get wants them).
    /// </summary>
    public int Find(int bucket, byte protocol, uint client, ushort clientPort, uint vip, ushort vport, bool template = false)
    {
        var want = template ? ConnectionFlags.Template : ConnectionFlags.None;
        for (int i = _buckets[bucket]; i >= 0;)
        {
            ref var c = ref At(i);
            if (c.ClientAddress == client && c.ClientPort == clientPort && c.VirtualAddress == vip &&
                c.VirtualPort == vport && c.Protocol == protocol && (c.Flags & (ConnectionFlags.Template | ConnectionFlags.IPv6)) == want)
                return i;
            i = c.Next;
        }
        return -1;
    }

    /// <summary>As <see cref="Find"/> for an IPv6 5-tuple (only IPv6 entries match).</summary>
    public int Find6(int bucket, byte protocol, UInt128 client, ushort clientPort, UInt128 vip, ushort vport, bool template = false)
    {
        var want = template ? ConnectionFlags.Template | ConnectionFlags.IPv6 : ConnectionFlags.IPv6;
        for (int i = _buckets[bucket]; i >= 0;)
        {
            ref var c = ref At(i);
            if (c.ClientPort == clientPort && c.VirtualPort == vport && c.Protocol == protocol &&
                (c.Flags & (ConnectionFlags.Template | ConnectionFlags.IPv6)) == want && Client6(i) == client && Virtual6(i) == vip)
                return i;
            i = c.Next;
        }
        return -1;
    }

    /// <summary>The chain of a key of either family (the control-plane-shaped paths: sync adoption, persistence templates).</summary>
    public int Bucket(in ConnectionKey k) => k.IsIpv6
        ? Bucket6(k.Protocol, k.Client, k.ClientPort, k.Virtual, k.VirtualPort)
        : Bucket(k.Protocol, (uint)k.Client, k.ClientPort, (uint)k.Virtual, k.VirtualPort);

    /// <summary><see cref="Find"/> or <see cref="Find6"/> by the key's family.</summary>
    public int Find(int bucket, in ConnectionKey k) => k.IsIpv6
        ? Find6(bucket, k.Protocol, k.Client, k.ClientPort, k.Virtual, k.VirtualPort, k.Template)
        : Find(bucket, k.Protocol, (uint)k.Client, k.ClientPort, (uint)k.Virtual, k.VirtualPort, k.Template);

    /// <summary><see cref="Add"/> or <see cref="Add6"/> by the key's family (the template flag is the caller's).</summary>
    public int Add(int bucket, in ConnectionKey k) => k.IsIpv6
        ? Add6(bucket, k.Protocol, k.Client, k.ClientPort, k.Virtual, k.VirtualPort)
        : Add(bucket, k.Protocol, (uint)k.Client, k.ClientPort, (uint)k.Virtual, k.VirtualPort);

    /// <summary>As <see cref="Add"/> for an IPv6 5-tuple; the entry is flagged <see cref="ConnectionFlags.IPv6"/>.</summary>
    public int Add6(int bucket, byte protocol, UInt128 client, ushort clientPort, UInt128 vip, ushort vport)
    {
        int index = Add(bucket, protocol, Packets.ParsedPacket.Fold(client), clientPort, Packets.ParsedPacket.Fold(vip), vport);
        if (index < 0)
            return -1;
        // One side chunk per slot chunk, on its first IPv6 entry; never per connection.
        var side = _chunks6[index >> _chunkBits] ??= new UInt128[(_chunkMask + 1) * 2];
        int j = (index & _chunkMask) * 2;
        side[j] = client;
        side[j + 1] = vip;
        At(index).Flags |= ConnectionFlags.IPv6;
        return index;
    }

    /// <summary>Takes a free slot and links it into <paramref name="bucket"/> with the key set; -1 when full.</summary>
    public int Add(int bucket, byte protocol, uint client, ushort clientPort, uint vip, ushort vport)
    {
        if (Count >= Capacity)
            return -1;
        int index;
        if (_freeHead >= 0)
        {
            index = _freeHead;
            _freeHead = At(index).Next;
        }
        else
        {
            index = _highWater;
            // Grows by one chunk per 4096 connections until the bound; never per connection. The chunk
            // is in place before the high-water mark moves, for the control plane's racy listing.
            _chunks[index >> _chunkBits] ??= new Connection[_chunkMask + 1];
            Volatile.Write(ref _highWater, index + 1);
        }
        ref var c = ref At(index);
        c.ClientAddress = client;
        c.ClientPort = clientPort;
        c.VirtualAddress = vip;
        c.VirtualPort = vport;
        c.Protocol = protocol;
        c.State = IpvsTcpState.None;
        c.Flags = ConnectionFlags.InUse;
        c.Control = -1;
        c.Controlled = 0;
        c.TimeoutMs = 0;
        c.InPackets = 0;
        c.SyncedState = IpvsTcpState.None;
        c.Next = _buckets[bucket];
        _buckets[bucket] = index;
        Count++;
        return index;
    }

    /// <summary>Unlinks the entry from its chain and returns its slot to the free list.</summary>
    public void Remove(int index)
    {
        Unlink(index);
        ref var c = ref At(index);
        c.Flags = ConnectionFlags.None;
        c.Dest = null;
        c.Service = null;
        c.Next = _freeHead;
        _freeHead = index;
        Count--;
    }

    /// <summary>
    /// ip_vs_conn_rehash with a new virtual and client port: the entry stays (same slot) but is found under
    /// the new key only. Used to take an invalid template out of lookups while its connections live.
    /// </summary>
    public void Rekey(int index, ushort clientPort, ushort vport)
    {
        Unlink(index);
        ref var c = ref At(index);
        c.ClientPort = clientPort;
        c.VirtualPort = vport;
        int bucket = BucketOf(index);
        c.Next = _buckets[bucket];
        _buckets[bucket] = index;
    }

    private int BucketOf(int index)
    {
        ref var c = ref At(index);
        return (c.Flags & ConnectionFlags.IPv6) != 0
            ? Bucket6(c.Protocol, Client6(index), c.ClientPort, Virtual6(index), c.VirtualPort)
            : Bucket(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort);
    }

    private void Unlink(int index)
    {
        ref var c = ref At(index);
        int bucket = BucketOf(index);
        int i = _buckets[bucket];
        if (i == index)
        {
            _buckets[bucket] = c.Next;
        }
        else
        {
            while (i >= 0)
            {
                ref var prev = ref At(i);
                if (prev.Next == index)
                {
                    prev.Next = c.Next;
                    break;
                }
                i = prev.Next;
            }
        }
    }
}
