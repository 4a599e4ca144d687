using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>
/// An AF_XDP socket bound to one RX queue of an interface, with its own UMEM: the XDP program
/// (Linux/Bpf/XskRedirect, fulcrum_xsk) redirects claimed frames into it, a worker rewrites them in place
/// and sends the same UMEM frame back out through the TX ring, so a forwarded frame is never copied in user
/// space. One thread owns the socket: <see cref="Poll{THandler}"/>, <see cref="TrySend"/> and
/// <see cref="FlushTx"/> take no locks and allocate nothing; <see cref="ReadCounters"/> may be called from
/// another thread.
/// </summary>
/// <remarks>
/// Frame ownership: every UMEM chunk is in exactly one place at a time: the free stack, the fill ring
/// (the kernel will write a received frame there), the RX ring (being handled), the TX ring (queued) or the
/// completion ring (sent, to be reaped). A received frame the handler sends in place goes RX → TX →
/// completion → free; one it does not goes straight back to the free stack. The ring arithmetic is in
/// <see cref="XskRing"/>. In copy mode (veth, and drivers without zero-copy) the kernel copies frames in and
/// out of the UMEM; the rings and this code are the same.
/// </remarks>
public sealed unsafe class XdpSocket : IFrameRing
{
    // Frames kept out of the fill ring so a send of a frame that is not the one being handled can copy it.
    private const int CopyReserve = 64;

    private readonly SafeFdHandle _handle;
    private readonly int _fd;
    private readonly int _frameSize;
    private readonly ulong _chunkMask;
    private byte* _umem;
    private readonly nuint _umemLength;
    private readonly void*[] _maps = new void*[4];
    private readonly nuint[] _mapLengths = new nuint[4];

    private XskRing _rx;
    private XskRing _tx;
    private XskRing _fill;
    private XskRing _completion;
    private readonly ulong[] _free;
    private int _freeCount;
    private uint _txQueued;

    // The frame the handler is looking at: a send of exactly these bytes goes out in place.
    private byte* _current;
    private ulong _currentAddr;
    private bool _currentTaken;

    private long _rxFrames;
    private long _txFrames;
    private long _txRingFull;
    private long _txBadLength;
    private long _txErrors;
    private long _kernelDrops;

    /// <summary>Opens the socket on queue <paramref name="queueId"/> of interface <paramref name="ifIndex"/> (calling thread's namespace).</summary>
    public XdpSocket(int ifIndex, int queueId, XdpSocketOptions? options = null)
    {
        options ??= new XdpSocketOptions();
        Validate(options);
        IfIndex = ifIndex;
        QueueId = queueId;
        _frameSize = options.FrameSize;
        _chunkMask = ~((ulong)options.FrameSize - 1);
        _free = new ulong[options.FrameCount];

        int fd = Libc.Socket(Xdp.AF_XDP, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
            Errno.Throw("socket(AF_XDP)");
        _handle = new SafeFdHandle(fd);
        _fd = fd;
        try
        {
            _umemLength = (nuint)options.FrameCount * (nuint)options.FrameSize;
            void* umem = Libc.Mmap(null, _umemLength, Libc.PROT_READ | Libc.PROT_WRITE, Xdp.MAP_PRIVATE | Xdp.MAP_ANONYMOUS, -1, 0);
            if (umem == (void*)-1)
                Errno.Throw("mmap(UMEM)");
            _umem = (byte*)umem;

            var reg = new xdp_umem_reg { addr = (ulong)_umem, len = _umemLength, chunk_size = (uint)options.FrameSize };
            if (Libc.SetSockOpt(fd, Xdp.SOL_XDP, Xdp.XDP_UMEM_REG, &reg, (uint)sizeof(xdp_umem_reg)) != 0)
                Errno.Throw("setsockopt(XDP_UMEM_REG)");
            int ring = options.RingSize;
            SetInt(Xdp.XDP_UMEM_FILL_RING, ring, "setsockopt(XDP_UMEM_FILL_RING)");
            SetInt(Xdp.XDP_UMEM_COMPLETION_RING, ring, "setsockopt(XDP_UMEM_COMPLETION_RING)");
            SetInt(Xdp.XDP_RX_RING, ring, "setsockopt(XDP_RX_RING)");
            SetInt(Xdp.XDP_TX_RING, ring, "setsockopt(XDP_TX_RING)");

            // Copy-mode TX builds an skb per frame charged to sk_sndbuf (xsk_build_skb); the default would
            // cap frames in flight at a few hundred. FORCE needs CAP_NET_ADMIN; without it the default stays.
            int sndbuf = ring * 4096;
            if (Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, &sndbuf, sizeof(int)) != 0)
                Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, &sndbuf, sizeof(int));

            xdp_mmap_offsets off;
            uint offLength = (uint)sizeof(xdp_mmap_offsets);
            if (Libc.GetSockOpt(fd, Xdp.SOL_XDP, Xdp.XDP_MMAP_OFFSETS, &off, &offLength) != 0)
                Errno.Throw("getsockopt(XDP_MMAP_OFFSETS)");

            _rx = MapRing(0, off.rx, Xdp.XDP_PGOFF_RX_RING, sizeof(xdp_desc), (uint)ring, userProduces: false, "mmap(XDP RX ring)");
            _tx = MapRing(1, off.tx, Xdp.XDP_PGOFF_TX_RING, sizeof(xdp_desc), (uint)ring, userProduces: true, "mmap(XDP TX ring)");
            _fill = MapRing(2, off.fr, Xdp.XDP_UMEM_PGOFF_FILL_RING, sizeof(ulong), (uint)ring, userProduces: true, "mmap(XDP fill ring)");
            _completion = MapRing(3, off.cr, Xdp.XDP_UMEM_PGOFF_COMPLETION_RING, sizeof(ulong), (uint)ring, userProduces: false, "mmap(XDP completion ring)");

            for (int i = options.FrameCount - 1; i >= 0; i--)
                _free[_freeCount++] = (ulong)i * (ulong)options.FrameSize;
            Refill();

            Bind(ifIndex, queueId, options);
            xdp_options xo;
            uint xoLength = (uint)sizeof(xdp_options);
            ZeroCopy = Libc.GetSockOpt(fd, Xdp.SOL_XDP, Xdp.XDP_OPTIONS, &xo, &xoLength) == 0 && (xo.flags & Xdp.XDP_OPTIONS_ZEROCOPY) != 0;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public int IfIndex { get; }

    /// <summary>The RX queue the socket is bound to (its key in the XSKMAP).</summary>
    public int QueueId { get; }

    /// <summary>The socket's descriptor, for the XSKMAP (valid until <see cref="Dispose"/>).</summary>
    public int Fd => _fd;

    /// <summary>True when the driver runs the socket in zero-copy mode; false in copy mode (veth).</summary>
    public bool ZeroCopy { get; }

    /// <inheritdoc/>
    public int MaxTxFrameLength => _frameSize;

    /// <summary>Frames in the free stack (neither with the kernel nor queued): for tests and diagnostics.</summary>
    internal int FreeFrames => _freeCount;

    /// <inheritdoc/>
    public int Poll<THandler>(ref THandler handler, int timeoutMs)
        where THandler : struct, IFrameHandler
    {
        ObjectDisposedException.ThrowIf(_umem == null, this);
        uint ready = _rx.Available();
        if (ready == 0)
        {
            // Give the kernel every free buffer before sleeping: an empty fill ring drops frames.
            Reap();
            Refill();
            if (timeoutMs == 0 || !WaitReadable(timeoutMs))
                return 0;
            ready = _rx.Available();
            if (ready == 0)
                return 0;
        }

        uint done = 0;
        try
        {
            for (; done < ready; done++)
            {
                var d = (xdp_desc*)_rx.Entry(done);
                ulong addr = d->addr;
                int length = (int)d->len;
                byte* frame = _umem + addr;
                _current = frame;
                _currentAddr = addr;
                _currentTaken = false;
                try
                {
                    // AF_XDP reports no checksum state: FrameStatus says "complete"; the worker's path
                    // checks for a partial sum itself (ForwardingPath.RepairPartialChecksums).
                    handler.OnFrame(new Span<byte>(frame, length), new FrameStatus(0, 0, 0, length));
                }
                finally
                {
                    if (!_currentTaken)
                        _free[_freeCount++] = addr & _chunkMask;
                    _current = null;
                }
            }
        }
        finally
        {
            _rx.Release(done);
            _rxFrames += done;
        }

        Reap();
        Refill();
        return (int)done;
    }

    /// <summary>
    /// Queues <paramref name="frame"/> on the TX ring. The frame being handled (the span
    /// <see cref="Poll{THandler}"/> passed) goes out in place, its UMEM chunk with it; any other bytes are
    /// copied into a free chunk. Nothing leaves until <see cref="FlushTx"/>.
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        if ((uint)frame.Length > (uint)_frameSize || frame.Length < 14)
        {
            _txBadLength++;
            return false;
        }

        if (_tx.Free(_txQueued + 1) <= _txQueued)
        {
            _txRingFull++;
            return false;
        }

        ulong addr;
        fixed (byte* bytes = frame)
        {
            if (bytes == _current && !_currentTaken)
            {
                addr = _currentAddr;
                _currentTaken = true;
            }
            else
            {
                if (_freeCount == 0)
                    Reap();
                if (_freeCount == 0)
                {
                    _txRingFull++;
                    return false;
                }

                addr = _free[--_freeCount];
                frame.CopyTo(new Span<byte>(_umem + addr, frame.Length));
            }
        }

        var d = (xdp_desc*)_tx.Entry(_txQueued);
        d->addr = addr;
        d->len = (uint)frame.Length;
        d->options = 0;
        _txQueued++;
        _txFrames++;
        return true;
    }

    /// <summary>
    /// Publishes the queued descriptors and kicks the kernel (sendto, non-blocking). Copy mode sends at most
    /// 32 frames per call (TX_BATCH_SIZE in net/xdp/xsk.c, then EAGAIN), so it kicks again while the kernel
    /// makes progress; frames it could not take now (socket buffer full) stay for the next flush.
    /// </summary>
    public void FlushTx()
    {
        if (_txQueued != 0)
        {
            _tx.Submit(_txQueued);
            _txQueued = 0;
        }

        uint outstanding = _tx.Outstanding;
        while (outstanding != 0)
        {
            ObjectDisposedException.ThrowIf(_umem == null, this);
            nint sent = Libc.SendTo(_fd, null, 0, Libc.MSG_DONTWAIT, null, 0);
            if (sent < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is not (Libc.EAGAIN or Libc.ENOBUFS or Libc.EINTR or Xdp.EBUSY))
                {
                    // ENETDOWN, ENXIO (interface gone): counted; the control plane sees it in the counters.
                    _txErrors++;
                    break;
                }
            }

            uint left = _tx.Outstanding;
            if (left == outstanding)
                break;
            outstanding = left;
        }

        Reap();
    }

    /// <inheritdoc/>
    public PacketRingCounters ReadCounters()
    {
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            xdp_statistics stats = default;
            uint length = (uint)sizeof(xdp_statistics);
            // Cumulative in the kernel (unlike PACKET_STATISTICS): stored, not added.
            if (Libc.GetSockOpt(_fd, Xdp.SOL_XDP, Xdp.XDP_STATISTICS, &stats, &length) == 0)
                Volatile.Write(ref _kernelDrops, (long)(stats.rx_dropped + stats.rx_ring_full + stats.rx_fill_ring_empty_descs));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
                _handle.DangerousRelease();
        }

        return new PacketRingCounters(
            Volatile.Read(ref _rxFrames),
            Volatile.Read(ref _txFrames),
            Volatile.Read(ref _txRingFull),
            Volatile.Read(ref _txBadLength),
            Volatile.Read(ref _txErrors),
            Volatile.Read(ref _kernelDrops),
            0);
    }

    public void Dispose()
    {
        // The socket first: the kernel lets go of the UMEM and the rings with it.
        _handle?.Dispose();
        for (int i = 0; i < _maps.Length; i++)
        {
            if (_maps[i] != null)
            {
                Libc.Munmap(_maps[i], _mapLengths[i]);
                _maps[i] = null;
            }
        }

        if (_umem != null)
        {
            Libc.Munmap(_umem, _umemLength);
            _umem = null;
        }
    }

    /// <summary>Moves sent frames from the completion ring to the free stack.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Reap()
    {
        uint n = _completion.Available();
        if (n == 0)
            return;
        for (uint i = 0; i < n; i++)
            _free[_freeCount++] = *(ulong*)_completion.Entry(i) & _chunkMask;
        _completion.Release(n);
    }

    /// <summary>Hands free frames to the kernel through the fill ring, keeping <see cref="CopyReserve"/> back.</summary>
    private void Refill()
    {
        int spare = _freeCount - CopyReserve;
        if (spare <= 0)
            return;
        uint n = _fill.Free((uint)spare);
        if (n > (uint)spare)
            n = (uint)spare;
        for (uint i = 0; i < n; i++)
            *(ulong*)_fill.Entry(i) = _free[--_freeCount];
        if (n != 0)
            _fill.Submit(n);
    }

    private XskRing MapRing(int slot, in xdp_ring_offset off, long pgoff, int entrySize, uint size, bool userProduces, string what)
    {
        nuint length = (nuint)off.desc + ((nuint)size * (nuint)entrySize);
        void* map = Libc.Mmap(null, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Xdp.MAP_POPULATE, _fd, (nint)pgoff);
        if (map == (void*)-1)
            Errno.Throw(what);
        _maps[slot] = map;
        _mapLengths[slot] = length;
        byte* b = (byte*)map;
        return new XskRing((uint*)(b + off.producer), (uint*)(b + off.consumer), (uint*)(b + off.flags), b + off.desc, entrySize, size, userProduces);
    }

    private void Bind(int ifIndex, int queueId, XdpSocketOptions options)
    {
        var address = new sockaddr_xdp
        {
            sxdp_family = Xdp.AF_XDP,
            sxdp_flags = options.ForceZeroCopy ? Xdp.XDP_ZEROCOPY : (ushort)0,
            sxdp_ifindex = (uint)ifIndex,
            sxdp_queue_id = (uint)queueId,
        };
        long deadline = Stopwatch.GetTimestamp() + (long)(options.BusyRetry.TotalSeconds * Stopwatch.Frequency);
        while (Libc.Bind(_fd, &address, (uint)sizeof(sockaddr_xdp)) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Xdp.EBUSY || Stopwatch.GetTimestamp() > deadline)
                Errno.Throw($"bind(AF_XDP, ifindex {ifIndex}, queue {queueId})", errno);
            Thread.Sleep(20);
        }
    }

    private bool WaitReadable(int timeoutMs)
    {
        var pfd = new PollFd { fd = _fd, events = Libc.POLLIN };
        int n = Libc.Poll(&pfd, 1, timeoutMs);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EINTR)
                return false;
            Errno.Throw("poll(AF_XDP)", errno);
        }

        return n > 0;
    }

    private void SetInt(int name, int value, string what)
    {
        if (Libc.SetSockOpt(_fd, Xdp.SOL_XDP, name, &value, sizeof(int)) != 0)
            Errno.Throw(what);
    }

    private static void Validate(XdpSocketOptions o)
    {
        if (o.FrameSize < 2048 || o.FrameSize > Environment.SystemPageSize || (o.FrameSize & (o.FrameSize - 1)) != 0)
            throw new ArgumentException($"FrameSize must be a power of two from 2048 to the page size ({Environment.SystemPageSize}).", nameof(o));
        if (o.RingSize <= 0 || (o.RingSize & (o.RingSize - 1)) != 0)
            throw new ArgumentException("RingSize must be a power of two.", nameof(o));
        if (o.FrameCount < o.RingSize + CopyReserve)
            throw new ArgumentException($"FrameCount must cover the fill ring and {CopyReserve} spare frames.", nameof(o));
    }
}
