using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux.Bpf;

/// <summary>What a data-plane worker does with a connection the kernel tier handed back (host-order key).</summary>
public interface IKernelEventHandler
{
    /// <summary>
    /// A FIN moved the TCP connection out of SYN_RECV/ESTABLISHED in the kernel, which deleted its entry: its final
    /// packets, bytes, milliseconds since its last frame and IPVS state (IP_VS_TCP_S_*).
    /// </summary>
    void OnStateChanged(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, long packets, long bytes, long idleMs, byte state);

    /// <summary>
    /// The program scheduled a new TCP connection (its SYN) on real server <paramref name="destAddr"/>:<paramref name="destPort"/>
    /// and holds it in SYN_RECV; <paramref name="idleMs"/> ago.
    /// </summary>
    void OnScheduled(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, uint destAddr, ushort destPort, long idleMs);
}

/// <summary>
/// One worker's BPF ring buffer of connections the program handed back or scheduled (fulcrum_events[i]), read with libbpf's consumer:
/// <see cref="Consume"/> reads the shared pages without a syscall (the program submits without waking anyone),
/// so the worker calls it after each poll. Owned by one thread.
/// </summary>
public sealed unsafe class KernelEventRing : IDisposable
{
    private readonly SafeFdHandle _map;
    private nint _ring;
    private GCHandle _self;
    private IKernelEventHandler? _handler;

    private KernelEventRing(int mapFd)
    {
        _map = new SafeFdHandle(mapFd);
        MapFd = mapFd;
    }

    /// <summary>The ring map's descriptor (for the program's map-in-map).</summary>
    public int MapFd { get; }

    /// <summary>Records the handler threw on (counted, never propagated into libbpf).</summary>
    public long HandlerErrors { get; private set; }

    internal static KernelEventRing Create(uint bytes)
    {
        int fd = Libbpf.MapCreate(Libbpf.BPF_MAP_TYPE_RINGBUF, "fulcrum_events", 0, 0, bytes, null);
        if (fd < 0)
            Errno.Throw("bpf_map_create(BPF_MAP_TYPE_RINGBUF)", -fd);
        var ring = new KernelEventRing(fd);
        try
        {
            ring._self = GCHandle.Alloc(ring);
            ring._ring = Libbpf.RingBufferNew(fd, &OnSample, GCHandle.ToIntPtr(ring._self), null);
            if (ring._ring == 0)
                Errno.Throw("ring_buffer__new", Marshal.GetLastPInvokeError());
            return ring;
        }
        catch
        {
            ring.Dispose();
            throw;
        }
    }

    /// <summary>Hands every record committed so far to <paramref name="handler"/>; returns how many.</summary>
    public int Consume(IKernelEventHandler handler)
    {
        ObjectDisposedException.ThrowIf(_ring == 0, this);
        _handler = handler;
        try
        {
            int n = Libbpf.RingBufferConsume(_ring);
            return Math.Max(0, n);
        }
        finally
        {
            _handler = null;
        }
    }

    [UnmanagedCallersOnly]
    private static int OnSample(nint ctx, void* data, nuint size)
    {
        if (GCHandle.FromIntPtr(ctx).Target is not KernelEventRing ring || size < (nuint)sizeof(fulcrum_event))
            return 0;
        try
        {
            var e = (fulcrum_event*)data;
            byte protocol = e->key.protocol;
            uint client = BinaryPrimitives.ReverseEndianness(e->key.client_addr);
            ushort clientPort = BinaryPrimitives.ReverseEndianness(e->key.client_port);
            uint vip = BinaryPrimitives.ReverseEndianness(e->key.virtual_addr);
            ushort vport = BinaryPrimitives.ReverseEndianness(e->key.virtual_port);
            long idleMs = KernelTier.IdleMs(e->last_seen_ns);
            if (e->type == fulcrum_event.Scheduled)
            {
                ring._handler?.OnScheduled(protocol, client, clientPort, vip, vport,
                    BinaryPrimitives.ReverseEndianness(e->dest_addr), BinaryPrimitives.ReverseEndianness(e->dest_port), idleMs);
            }
            else
            {
                ring._handler?.OnStateChanged(protocol, client, clientPort, vip, vport, (long)e->packets, (long)e->bytes, idleMs, e->state);
            }
        }
        catch (Exception)
        {
            // An exception must not unwind through libbpf's frames: count it, keep consuming.
            ring.HandlerErrors++;
        }

        return 0;
    }

    public void Dispose()
    {
        if (_ring != 0)
        {
            Libbpf.RingBufferFree(_ring);
            _ring = 0;
        }

        if (_self.IsAllocated)
            _self.Free();
        _map.Dispose();
    }
}
