using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fulcrum.Linux.Interop;
using Fulcrum.Packets;

namespace Fulcrum.Linux.Bpf;

/// <summary>
/// One slot of a published scheduling table: the real server's MAC, IPv4 address and port (host order); a zero MAC
/// marks a slot the kernel may not decide (its SYNs go up). <see cref="DestId"/>: the real server's index in the
/// shared ActiveConn/InActConn counts (Balancing.RealServer.KernelId); <see cref="Weight"/>: for the least-connection picks.
/// </summary>
public readonly record struct KernelSlot(ulong Mac, uint Address, ushort Port, uint DestId = 0, int Weight = 0);

/// <summary>How the program picks a published service's slot for a SYN (fulcrum_dr.h FULCRUM_PICK_*).</summary>
public enum KernelPick
{
    /// <summary>rr, wrr: the next slot of the sequence, one cursor shared by all CPUs.</summary>
    Cursor = 0,

    /// <summary>sh: bucket hash_32(client address, 8) of the 256 (ip_vs_sh_hashkey).</summary>
    SourceHash = 1,

    /// <summary>sh with sh-port: bucket hash_32(client address + client port, 8).</summary>
    SourceAndPortHash = 2,

    /// <summary>lc: the least active * 256 + inactive over the slots (the service's real servers in list order).</summary>
    LeastConnection = 3,

    /// <summary>wlc: the least (active * 256 + inactive) / weight.</summary>
    WeightedLeastConnection = 4,

    /// <summary>sed: the least (active + 1) / weight.</summary>
    ShortestExpectedDelay = 5,

    /// <summary>nq: the first real server with no active connection, else as sed.</summary>
    NeverQueue = 6,

    /// <summary>mh: slot hsiphash(client address) % M of the Maglev lookup table (ip_vs_mh_hashkey's first probe).</summary>
    Maglev = 7,

    /// <summary>mh with mh-port: slot hsiphash(client address + client port) % M.</summary>
    MaglevAndPort = 8,
}

/// <summary>
/// The kernel tier on one interface: fulcrum_dr.bpf.o loaded through libbpf, its program attached at tc
/// ingress or XDP, and the connection map the C# data plane fills (fulcrum_dr.bpf.c says what the
/// program forwards and what it sends up). Map calls are thread-safe (each is one bpf(2) syscall on
/// caller-owned buffers); attach and <see cref="Dispose"/> are not.
/// </summary>
public sealed unsafe class KernelTier : IDisposable
{
    /// <summary>The object's file name next to the binaries (the csproj target puts it there).</summary>
    public const string ObjectFileName = "fulcrum_dr.bpf.o";

    // tc filter identity: fixed, so a restart replaces (BPF_TC_F_REPLACE) or removes the filter a killed
    // daemon left behind, and never touches anyone else's.
    private const uint TcHandle = 0xF17C;
    private const uint TcPriority = 0xF17C;
    private const string XdpProgramName = "fulcrum_xdp";

    /// <summary>FULCRUM_LEAST_MAX: the most real servers a least-connection service may have to be scheduled here.</summary>
    public const int LeastMax = 64;

    /// <summary>FULCRUM_DESTS_MAX: entries of fulcrum_dest_conns (real server ids wrap within it).</summary>
    public const int DestsMax = 1 << 20;

    private readonly int _ifIndex;
    private readonly int _connsFd;
    private fulcrum_dest_conns* _destConns;
    private nint _obj;
    private bool _tcAttached;
    private bool _tcHookCreated;
    private uint _xdpFlags;

    private KernelTier(string @interface, int ifIndex, KernelAttach attach, nint obj)
    {
        Interface = @interface;
        _ifIndex = ifIndex;
        Attach = attach;
        _obj = obj;
        _connsFd = MapFd("fulcrum_conns");
        // fulcrum_dest_conns is BPF_F_MMAPABLE: the workers add to it with atomic instructions, as the program does.
        void* counts = Libc.Mmap(null, (nuint)(DestsMax * sizeof(fulcrum_dest_conns)), Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, MapFd("fulcrum_dest_conns"), 0);
        if (counts == (void*)-1)
        {
            Libbpf.ObjectClose(obj);
            _obj = 0;
            Errno.Throw("mmap(fulcrum_dest_conns)");
        }

        _destConns = (fulcrum_dest_conns*)counts;
    }

    public string Interface { get; }

    public KernelAttach Attach { get; }

    /// <summary>The file descriptor of the socket filter program (fulcrum_filter), for <see cref="PacketRing.AttachFilter"/>.</summary>
    public int SocketFilterFd => ProgramFd("fulcrum_filter");

    /// <summary>True when the tier needs the AF_PACKET socket filter: taps see frames before tc ingress, after XDP.</summary>
    public bool NeedsSocketFilter => Attach == KernelAttach.Tc;

    /// <summary>The object path: next to the running binaries.</summary>
    public static string DefaultObjectPath => Path.Combine(AppContext.BaseDirectory, ObjectFileName);

    /// <summary>
    /// Loads the object, writes the interface's MAC into the config map and attaches the program to
    /// <paramref name="interface"/>; first removes whatever a killed Fulcrum left attached there.
    /// </summary>
    public static KernelTier Open(string @interface, KernelAttach attach, string? objectPath = null)
    {
        int ifIndex = NetInterface.GetIndex(@interface);
        ulong mac = NetInterface.GetMac(@interface);
        RemoveStale(ifIndex);
        var tier = new KernelTier(@interface, ifIndex, attach, LoadObject(objectPath));
        try
        {
            tier.WriteConfig(mac);
            tier.AttachProgram();
            return tier;
        }
        catch
        {
            tier.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the object with <paramref name="directorMac"/> as the director's MAC but attaches nothing: its
    /// programs run only through <see cref="TestRun"/> (tests and benchmarks of the kernel tier's decisions on
    /// in-memory frames; the verifier and the maps are the kernel's own).
    /// </summary>
    internal static KernelTier OpenDetached(ulong directorMac, string? objectPath = null)
    {
        var tier = new KernelTier("", 0, KernelAttach.Tc, LoadObject(objectPath));
        try
        {
            tier.WriteConfig(directorMac);
            return tier;
        }
        catch
        {
            tier.Dispose();
            throw;
        }
    }

    private static nint LoadObject(string? objectPath)
    {
        nint obj = Libbpf.ObjectOpenFile(objectPath ?? DefaultObjectPath, null);
        if (obj == 0)
            Errno.Throw($"bpf_object__open_file({objectPath ?? DefaultObjectPath})");
        int rc = Libbpf.ObjectLoad(obj);
        if (rc < 0)
        {
            Libbpf.ObjectClose(obj);
            Errno.Throw("bpf_object__load(fulcrum_dr.bpf.o)", -rc);
        }

        return obj;
    }

    /// <summary>
    /// Runs <paramref name="program"/> (fulcrum_tc, fulcrum_xdp or fulcrum_filter) <paramref name="repeat"/> times on
    /// <paramref name="frame"/> with BPF_PROG_TEST_RUN: its verdict, the frame as it left it in
    /// <paramref name="output"/> (the returned length) and the kernel's mean time per run in ns.
    /// </summary>
    internal int TestRun(string program, ReadOnlySpan<byte> frame, Span<byte> output, int repeat, out uint verdict, out uint meanNs)
    {
        fixed (byte* input = frame)
        fixed (byte* result = output)
        {
            var opts = new bpf_test_run_opts
            {
                sz = (nuint)sizeof(bpf_test_run_opts),
                data_in = input,
                data_size_in = (uint)frame.Length,
                data_out = result,
                data_size_out = (uint)output.Length,
                repeat = repeat,
            };
            int rc = Libbpf.ProgTestRun(ProgramFd(program), &opts);
            if (rc < 0)
                Errno.Throw($"bpf_prog_test_run_opts({program})", -rc);
            verdict = opts.retval;
            meanNs = opts.duration;
            return (int)opts.data_size_out;
        }
    }

    /// <summary>
    /// Removes the tc filter and XDP program a Fulcrum that died without cleaning up (SIGKILL) left on the
    /// interface: their maps would keep forwarding flows this daemon does not know.
    /// </summary>
    public static void RemoveStale(int ifIndex)
    {
        var hook = new bpf_tc_hook { sz = (nuint)sizeof(bpf_tc_hook), ifindex = ifIndex, attach_point = Libbpf.BPF_TC_INGRESS };
        var opts = new bpf_tc_opts { sz = (nuint)sizeof(bpf_tc_opts), handle = TcHandle, priority = TcPriority };
        // ENOENT (nothing there, or no clsact qdisc at all) is the common answer; libbpf would print the
        // kernel's "Parent Qdisc doesn't exists" for it, which is no error here.
        nint printer = Libbpf.SetPrint(0);
        _ = Libbpf.TcDetach(&hook, &opts);
        Libbpf.SetPrint(printer);
        foreach (uint mode in (ReadOnlySpan<uint>)[Libbpf.XDP_FLAGS_SKB_MODE, Libbpf.XDP_FLAGS_DRV_MODE])
        {
            uint id = 0;
            if (Libbpf.XdpQueryId(ifIndex, (int)mode, &id) != 0 || id == 0 || !IsOurs(id))
                continue;
            _ = Libbpf.XdpDetach(ifIndex, mode, null);
        }
    }

    private static bool IsOurs(uint progId)
    {
        int fd = Libbpf.ProgGetFdById(progId);
        if (fd < 0)
            return false;
        try
        {
            var info = default(bpf_prog_info);
            uint len = (uint)sizeof(bpf_prog_info);
            if (Libbpf.ObjGetInfoByFd(fd, &info, &len) != 0)
                return false;
            // The kernel keeps BPF_OBJ_NAME_LEN - 1 = 15 characters of the name.
            var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(info.name);
            return name.SequenceEqual("fulcrum_xdp"u8) || name.SequenceEqual("fulcrum_xsk"u8);
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    private void WriteConfig(ulong mac) => UpdateConfig(c =>
    {
        EthernetFrame.WriteMac(new Span<byte>(c.own_mac, 6), mac);
        c.ifindex = (uint)_ifIndex;
        return c;
    });

    private void UpdateConfig(Func<fulcrum_config, fulcrum_config> change)
    {
        int fd = MapFd("fulcrum_config");
        var cfg = default(fulcrum_config);
        uint zero = 0;
        int rc = Libbpf.MapLookup(fd, &zero, &cfg);
        if (rc < 0)
            Errno.Throw("bpf_map_lookup_elem(fulcrum_config)", -rc);
        cfg = change(cfg);
        rc = Libbpf.MapUpdate(fd, &zero, &cfg, Libbpf.BPF_ANY);
        if (rc < 0)
            Errno.Throw("bpf_map_update_elem(fulcrum_config)", -rc);
    }

    private void AttachProgram()
    {
        if (Attach == KernelAttach.Tc)
        {
            var hook = new bpf_tc_hook { sz = (nuint)sizeof(bpf_tc_hook), ifindex = _ifIndex, attach_point = Libbpf.BPF_TC_INGRESS };
            int rc = Libbpf.TcHookCreate(&hook);
            if (rc < 0 && rc != -17)
                Errno.Throw("bpf_tc_hook_create(clsact)", -rc);
            _tcHookCreated = rc == 0;
            var opts = new bpf_tc_opts
            {
                sz = (nuint)sizeof(bpf_tc_opts),
                prog_fd = ProgramFd("fulcrum_tc"),
                flags = Libbpf.BPF_TC_F_REPLACE,
                handle = TcHandle,
                priority = TcPriority,
            };
            rc = Libbpf.TcAttach(&hook, &opts);
            if (rc < 0)
                Errno.Throw("bpf_tc_attach(ingress)", -rc);
            _tcAttached = true;
            return;
        }

        uint flags = Attach == KernelAttach.XdpNative ? Libbpf.XDP_FLAGS_DRV_MODE : Libbpf.XDP_FLAGS_SKB_MODE;
        int xrc = Libbpf.XdpAttach(_ifIndex, ProgramFd(XdpProgramName), flags, null);
        if (xrc < 0)
            Errno.Throw(Attach == KernelAttach.XdpNative ? "bpf_xdp_attach(native)" : "bpf_xdp_attach(generic)", -xrc);
        _xdpFlags = flags;
    }

    /// <summary>
    /// Forwards the connection's frames to <paramref name="destMac"/> in the kernel from now on (host-order key),
    /// TCP from IPVS state <paramref name="state"/> (IP_VS_TCP_S_*), which the program then moves on; counters start at 0.
    /// </summary>
    public bool Install(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, ulong destMac, byte state = 0, uint destId = 0)
    {
        var key = Key(protocol, client, clientPort, vip, vport);
        var value = default(fulcrum_conn_value);
        EthernetFrame.WriteMac(new Span<byte>(value.dest_mac, 6), destMac);
        value.state = state;
        value.dest_id = destId;
        return Libbpf.MapUpdate(_connsFd, &key, &value, Libbpf.BPF_ANY) == 0;
    }

    /// <summary>A connection's counters, idle time, state and real server id; false when the map holds no entry for it.</summary>
    public bool TryRead(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out long packets, out long bytes, out long idleMs, out byte state, out uint destId)
    {
        var key = Key(protocol, client, clientPort, vip, vport);
        return Read(&key, remove: false, out packets, out bytes, out idleMs, out state, out destId);
    }

    /// <summary>Removes a connection's entry and returns its final counters, state and real server id; false when there was none.</summary>
    public bool Remove(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out long packets, out long bytes, out long idleMs, out byte state, out uint destId)
    {
        var key = Key(protocol, client, clientPort, vip, vport);
        return Read(&key, remove: true, out packets, out bytes, out idleMs, out state, out destId);
    }

    private bool Read(fulcrum_conn_key* key, bool remove, out long packets, out long bytes, out long idleMs, out byte state, out uint destId)
    {
        packets = bytes = 0;
        idleMs = -1;
        state = 0;
        destId = 0;
        var value = default(fulcrum_conn_value);
        int rc = remove ? Libbpf.MapLookupAndDelete(_connsFd, key, &value) : Libbpf.MapLookup(_connsFd, key, &value);
        if (rc != 0)
            return false;
        packets = (long)value.packets;
        bytes = (long)value.bytes;
        state = value.state;
        destId = value.dest_id;
        idleMs = IdleMs(value.last_seen_ns);
        return true;
    }

    /// <summary>
    /// Adds to real server <paramref name="destId"/>'s ActiveConn/InActConn in fulcrum_dest_conns (atomic, any thread):
    /// the C# tier's own moves, so the program's least-connection picks see every connection.
    /// </summary>
    public void MoveConns(uint destId, int active, int inactive)
    {
        if (destId == 0 || destId >= DestsMax || _destConns is null)
            return;
        ref var c = ref _destConns[destId];
        if (active != 0)
            Interlocked.Add(ref c.active, active);
        if (inactive != 0)
            Interlocked.Add(ref c.inactive, inactive);
    }

    /// <summary>Real server <paramref name="destId"/>'s counts in fulcrum_dest_conns (what the program's picks read).</summary>
    public (int Active, int Inactive) ReadConns(uint destId)
    {
        if (destId == 0 || destId >= DestsMax || _destConns is null)
            return (0, 0);
        ref var c = ref _destConns[destId];
        return (Volatile.Read(ref c.active), Volatile.Read(ref c.inactive));
    }

    /// <summary>Milliseconds since a bpf_ktime_get_ns time stamp; -1 for none (0).</summary>
    internal static long IdleMs(ulong lastSeenNs)
    {
        if (lastSeenNs == 0)
            return -1;
        return Math.Max(0, ((long)MonotonicNs() - (long)lastSeenNs) / 1_000_000);
    }

    /// <summary>
    /// CLOCK_MONOTONIC in ns, the clock bpf_ktime_get_ns reads (Stopwatch reads it on Linux). Scaled in 128 bits:
    /// ticks x 10^9 overflows 64 bits once the machine has been up a few seconds at a 1 GHz tick.
    /// </summary>
    internal static ulong MonotonicNs() =>
        (ulong)((UInt128)(ulong)Stopwatch.GetTimestamp() * 1_000_000_000UL / (ulong)Stopwatch.Frequency);

    /// <summary>
    /// Gives each of <paramref name="workers"/> data-plane workers an event ring in fulcrum_events and tells the
    /// program how the AF_PACKET fanout spreads clients over them (the source address masked to
    /// <paramref name="fanoutPrefix"/> bits; ignored for one worker), so it hands each connection back to the worker
    /// whose table holds it. Ring i belongs to worker i.
    /// </summary>
    public KernelEventRing[] OpenEventRings(int workers, int fanoutPrefix)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        int outer = MapFd("fulcrum_events");
        var rings = new KernelEventRing[workers];
        try
        {
            for (uint i = 0; i < (uint)workers; i++)
            {
                rings[i] = KernelEventRing.Create(EventRingBytes);
                int fd = rings[i].MapFd;
                int rc = Libbpf.MapUpdate(outer, &i, &fd, Libbpf.BPF_ANY);
                if (rc < 0)
                    Errno.Throw("bpf_map_update_elem(fulcrum_events)", -rc);
            }

            uint mask = fanoutPrefix >= 32 ? uint.MaxValue : ~(uint.MaxValue >> fanoutPrefix);
            UpdateConfig(c =>
            {
                c.workers = (uint)workers;
                c.fanout_mask = mask;
                return c;
            });
            return rings;
        }
        catch
        {
            foreach (var r in rings)
                r?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Makes the program schedule the new TCP connections to <paramref name="vip"/>:<paramref name="vport"/> (host order)
    /// itself: with <see cref="KernelPick.Cursor"/> the i-th SYN goes to <c>slots[i % slots.Length]</c>, one cursor shared
    /// by all CPUs; with a hash, to the slot of the client's bucket (256 slots). An empty
    /// <paramref name="slots"/> stops it (SYNs go up to C# again). The new slot table is written under a new
    /// generation before the service points at it, so the program never reads a half-written table.
    /// </summary>
    public void PublishSchedule(uint vip, ushort vport, ReadOnlySpan<KernelSlot> slots, KernelPick pick = KernelPick.Cursor)
    {
        lock (_publishLock)
        {
            int servicesFd = MapFd("fulcrum_services");
            int slotsFd = MapFd("fulcrum_slots");
            var key = new fulcrum_service_key
            {
                protocol = IpProtocols.Tcp,
                port = BinaryPrimitives.ReverseEndianness(vport),
                addr = BinaryPrimitives.ReverseEndianness(vip),
            };
            _published.TryGetValue((vip, vport), out var old);
            if (slots.IsEmpty)
            {
                _ = Libbpf.MapDelete(servicesFd, &key);
                _published.Remove((vip, vport));
            }
            else
            {
                // A changed table (a real server quiesced, say) must not be used a moment longer: new SYNs go up to the
                // C# tier, which already schedules with the change, while the new table is written (4093 slots for
                // mh take tens of ms on a busy machine).
                if (old.Count > 0)
                    _ = Libbpf.MapDelete(servicesFd, &key);
                uint table = ++_nextTable == 0 ? ++_nextTable : _nextTable;
                for (int i = 0; i < slots.Length; i++)
                {
                    var slotKey = new fulcrum_slot_key { table = table, index = (uint)i };
                    var slot = new fulcrum_slot
                    {
                        dest_addr = BinaryPrimitives.ReverseEndianness(slots[i].Address),
                        dest_port = BinaryPrimitives.ReverseEndianness(slots[i].Port),
                        dest_id = slots[i].DestId,
                        weight = slots[i].Weight,
                    };
                    EthernetFrame.WriteMac(new Span<byte>(slot.dest_mac, 6), slots[i].Mac);
                    int rc = Libbpf.MapUpdate(slotsFd, &slotKey, &slot, Libbpf.BPF_ANY);
                    if (rc < 0)
                    {
                        DeleteSlots(slotsFd, table, i);
                        Errno.Throw("bpf_map_update_elem(fulcrum_slots)", -rc);
                    }
                }

                var service = new fulcrum_service { table = table, count = (uint)slots.Length, pick = (uint)pick };
                int src = Libbpf.MapUpdate(servicesFd, &key, &service, Libbpf.BPF_ANY);
                if (src < 0)
                {
                    DeleteSlots(slotsFd, table, slots.Length);
                    Errno.Throw("bpf_map_update_elem(fulcrum_services)", -src);
                }

                _published[(vip, vport)] = (table, slots.Length);
            }

            if (old.Count > 0)
                DeleteSlots(slotsFd, old.Table, old.Count);
        }
    }

    /// <summary>The published service's cursor: how many SYNs the program has scheduled since the table was published.</summary>
    public bool TryReadScheduleCursor(uint vip, ushort vport, out ulong cursor)
    {
        var key = new fulcrum_service_key
        {
            protocol = IpProtocols.Tcp,
            port = BinaryPrimitives.ReverseEndianness(vport),
            addr = BinaryPrimitives.ReverseEndianness(vip),
        };
        var value = default(fulcrum_service);
        bool found = Libbpf.MapLookup(MapFd("fulcrum_services"), &key, &value) == 0;
        cursor = value.cursor;
        return found;
    }

    private static void DeleteSlots(int slotsFd, uint table, int count)
    {
        for (int i = 0; i < count; i++)
        {
            var slotKey = new fulcrum_slot_key { table = table, index = (uint)i };
            _ = Libbpf.MapDelete(slotsFd, &slotKey);
        }
    }

    private readonly Lock _publishLock = new();
    private readonly Dictionary<(uint Vip, ushort Port), (uint Table, int Count)> _published = [];
    private uint _nextTable;

    /// <summary>
    /// Lets the program schedule and reuse connections for <paramref name="lease"/> from now (CLOCK_MONOTONIC, as
    /// bpf_ktime_get_ns): the daemon renews it while it runs, so after a SIGKILL, which leaves the program attached,
    /// new connections stop being taken within one lease.
    /// </summary>
    public void RenewLease(TimeSpan lease)
    {
        ulong until = MonotonicNs() + ((ulong)lease.Ticks * 100UL);
        UpdateConfig(c =>
        {
            c.alive_until_ns = until;
            return c;
        });
    }

    /// <summary>Each worker's ring: 1 MiB, ~18,000 handed-back connections between two drains (it must match fulcrum_event_ring).</summary>
    private const uint EventRingBytes = 1 << 20;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static fulcrum_conn_key Key(byte protocol, uint client, ushort clientPort, uint vip, ushort vport) => new()
    {
        protocol = protocol,
        client_addr = BinaryPrimitives.ReverseEndianness(client),
        virtual_addr = BinaryPrimitives.ReverseEndianness(vip),
        client_port = BinaryPrimitives.ReverseEndianness(clientPort),
        virtual_port = BinaryPrimitives.ReverseEndianness(vport),
    };

    private int MapFd(string name)
    {
        nint map = Libbpf.FindMapByName(_obj, name);
        if (map == 0)
            throw new LinuxException($"{ObjectFileName} has no map {name}");
        return Libbpf.MapFd(map);
    }

    private int ProgramFd(string name)
    {
        nint prog = Libbpf.FindProgramByName(_obj, name);
        if (prog == 0)
            throw new LinuxException($"{ObjectFileName} has no program {name}");
        return Libbpf.ProgramFd(prog);
    }

    /// <summary>Detaches the program and closes the object (its maps go with the last reference).</summary>
    public void Dispose()
    {
        if (_tcAttached)
        {
            var hook = new bpf_tc_hook { sz = (nuint)sizeof(bpf_tc_hook), ifindex = _ifIndex, attach_point = Libbpf.BPF_TC_INGRESS };
            var opts = new bpf_tc_opts { sz = (nuint)sizeof(bpf_tc_opts), handle = TcHandle, priority = TcPriority };
            _ = Libbpf.TcDetach(&hook, &opts);
            // Only a clsact qdisc this tier created goes; another user's filters may live on one it found.
            if (_tcHookCreated)
            {
                // BPF_TC_INGRESS | BPF_TC_EGRESS: libbpf deletes the clsact qdisc only when asked for both.
                hook.attach_point = Libbpf.BPF_TC_INGRESS | Libbpf.BPF_TC_EGRESS;
                _ = Libbpf.TcHookDestroy(&hook);
            }
            _tcAttached = false;
        }

        if (_xdpFlags != 0)
        {
            _ = Libbpf.XdpDetach(_ifIndex, _xdpFlags, null);
            _xdpFlags = 0;
        }

        if (_destConns is not null)
        {
            _ = Libc.Munmap(_destConns, (nuint)(DestsMax * sizeof(fulcrum_dest_conns)));
            _destConns = null;
        }

        if (_obj != 0)
        {
            Libbpf.ObjectClose(_obj);
            _obj = 0;
        }
    }
}
