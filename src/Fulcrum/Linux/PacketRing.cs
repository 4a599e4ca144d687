using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>
/// An AF_PACKET socket bound to one interface (all EtherTypes) with an RX ring and a TX ring of one TPACKET
/// version (V3 by default, V2 on request: <see cref="PacketRingVersion"/>) in one shared mapping. One thread owns a ring: <see cref="Poll{THandler}"/>, <see cref="TrySend"/>
/// and <see cref="FlushTx"/> take no locks and allocate nothing. <see cref="ReadCounters"/> may be called
/// from another thread.
/// </summary>
/// <remarks>
/// TX uses the V3 ring too (supported since Linux 4.11): each slot is a fixed-size tpacket3_hdr frame with
/// tp_next_offset 0, the bytes at TPACKET_ALIGN(sizeof(tpacket3_hdr)) (tpacket_parse_header in
/// net/packet/af_packet.c). A socket has one TPACKET version, so V3 for both rings avoids a second socket.
/// </remarks>
public sealed unsafe class PacketRing : IFrameRing
{
    private readonly SafeFdHandle _handle;
    private readonly int _fd;
    private byte* _map;
    private readonly nuint _mapLength;

    private readonly bool _v2;
    private readonly int _blockSize;
    private readonly int _blockCount;
    private int _rxBlock;
    private readonly int _rxFrameSize;
    private readonly int _rxFramesPerBlock;
    private readonly int _rxFrameCount;
    private int _rxFrame;

    private readonly byte* _tx;
    private readonly int _txBlockSize;
    private readonly int _txFrameSize;
    private readonly int _txFramesPerBlock;
    private readonly int _txFrameCount;
    private readonly int _txMaxFrame;
    private readonly int _txDataOffset;
    private int _txHead;
    private bool _txPending;

    private long _rxFrames;
    private long _txFrames;
    private long _txRingFull;
    private long _txBadLength;
    private long _txErrors;
    private long _kernelDrops;
    private long _kernelFreezes;

    /// <summary>Opens the ring on interface <paramref name="ifIndex"/> in the calling thread's network namespace.</summary>
    public PacketRing(int ifIndex, PacketRingOptions? options = null)
    {
        options ??= new PacketRingOptions();
        Validate(options);
        IfIndex = ifIndex;
        Options = options;
        _v2 = options.Version == PacketRingVersion.V2;
        _blockSize = options.BlockSize;
        _blockCount = options.BlockCount;
        _rxFrameSize = options.FrameSize;
        _rxFramesPerBlock = _blockSize / _rxFrameSize;
        _rxFrameCount = _rxFramesPerBlock * _blockCount;
        _txBlockSize = options.TxBlockSize;
        _txFrameSize = options.TxFrameSize;
        _txFramesPerBlock = _txBlockSize / _txFrameSize;
        _txFrameCount = options.TxFrameCount;
        _txDataOffset = _v2 ? Packet.TxDataOffsetV2 : Packet.TxDataOffset;
        _txMaxFrame = _txFrameSize - _txDataOffset;

        // Protocol 0: the socket receives nothing until bind() names the interface and ETH_P_ALL, so no frame
        // from another interface slips in before the rings exist.
        int fd = Libc.Socket(Packet.AF_PACKET, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno.Throw("socket(AF_PACKET, SOCK_RAW)");
        }

        _handle = new SafeFdHandle(fd);
        _fd = fd;
        try
        {
            SetInt(Packet.SOL_PACKET, Packet.PACKET_VERSION, _v2 ? Packet.TPACKET_V2 : Packet.TPACKET_V3, "setsockopt(PACKET_VERSION)");
            if (options.IgnoreOutgoing)
            {
                SetInt(Packet.SOL_PACKET, Packet.PACKET_IGNORE_OUTGOING, 1, "setsockopt(PACKET_IGNORE_OUTGOING)");
            }

            // A malformed TX slot is skipped (marked available) instead of stopping the ring for good.
            SetInt(Packet.SOL_PACKET, Packet.PACKET_LOSS, 1, "setsockopt(PACKET_LOSS)");
            if (options.QdiscBypass)
            {
                SetInt(Packet.SOL_PACKET, Packet.PACKET_QDISC_BYPASS, 1, "setsockopt(PACKET_QDISC_BYPASS)");
            }

            // TX ring frames in flight are charged to sk_sndbuf; the default (~208 KiB) would cap a batch at
            // about 140 full-size frames. FORCE needs CAP_NET_ADMIN; without it the ring still works.
            int sndbuf = _txFrameCount * _txFrameSize;
            if (Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, &sndbuf, sizeof(int)) != 0)
            {
                Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, &sndbuf, sizeof(int));
            }

            var rx = new tpacket_req3
            {
                tp_block_size = (uint)_blockSize,
                tp_block_nr = (uint)_blockCount,
                tp_frame_size = (uint)options.FrameSize,
                tp_frame_nr = (uint)_rxFrameCount,
                tp_retire_blk_tov = _v2 ? 0 : (uint)options.RetireBlockTimeoutMs,
            };
            // A V2 socket reads only the first four fields (struct tpacket_req) of the same request.
            if (Libc.SetSockOpt(fd, Packet.SOL_PACKET, Packet.PACKET_RX_RING, &rx, (uint)sizeof(tpacket_req3)) != 0)
            {
                Errno.Throw("setsockopt(PACKET_RX_RING)");
            }

            // packet_set_ring rejects a V3 TX request with a block timeout, private area or feature word.
            var tx = new tpacket_req3
            {
                tp_block_size = (uint)_txBlockSize,
                tp_block_nr = (uint)(_txFrameCount / _txFramesPerBlock),
                tp_frame_size = (uint)_txFrameSize,
                tp_frame_nr = (uint)_txFrameCount,
            };
            if (Libc.SetSockOpt(fd, Packet.SOL_PACKET, Packet.PACKET_TX_RING, &tx, (uint)sizeof(tpacket_req3)) != 0)
            {
                Errno.Throw("setsockopt(PACKET_TX_RING)");
            }

            // packet_mmap maps the RX ring first, then the TX ring, in one area.
            nuint rxLength = (nuint)_blockSize * (nuint)_blockCount;
            _mapLength = rxLength + ((nuint)_txBlockSize * tx.tp_block_nr);
            void* map = Libc.Mmap(null, _mapLength, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
            if (map == (void*)-1)
            {
                Errno.Throw("mmap(packet ring)");
            }

            _map = (byte*)map;
            _tx = _map + rxLength;

            var address = new sockaddr_ll
            {
                sll_family = Packet.AF_PACKET,
                sll_protocol = BinaryPrimitives.ReverseEndianness(Packet.ETH_P_ALL),
                sll_ifindex = ifIndex,
            };
            if (Libc.Bind(fd, &address, (uint)sizeof(sockaddr_ll)) != 0)
            {
                Errno.Throw($"bind(AF_PACKET, ifindex {ifIndex})");
            }

            // fanout_add requires a bound, running socket. No PACKET_FANOUT_FLAG_DEFRAG: the data plane drops
            // IPv4 fragments (IPVS would reassemble them first), and a reassembled datagram handed up by the
            // group would be larger than the MTU a DR hop can forward as one frame.
            if (options.FanoutGroup is int group)
            {
                int mode = options.FanoutSourcePrefix is null ? Packet.PACKET_FANOUT_HASH : Packet.PACKET_FANOUT_CBPF;
                int flags = mode | (options.IgnoreOutgoing ? Packet.PACKET_FANOUT_FLAG_IGNORE_OUTGOING : 0);
                SetInt(Packet.SOL_PACKET, Packet.PACKET_FANOUT, (group & 0xFFFF) | (flags << 16), "setsockopt(PACKET_FANOUT)");
                if (options.FanoutSourcePrefix is int prefix)
                {
                    // fanout_set_data: the program belongs to the group; each member sets the same one.
                    var program = SourceHashProgram(prefix);
                    fixed (sock_filter* insns = program)
                    {
                        var fprog = new sock_fprog { len = (ushort)program.Length, filter = insns };
                        if (Libc.SetSockOpt(fd, Packet.SOL_PACKET, Packet.PACKET_FANOUT_DATA, &fprog, (uint)sizeof(sock_fprog)) != 0)
                        {
                            Errno.Throw("setsockopt(PACKET_FANOUT_DATA)");
                        }
                    }
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// The classic BPF program of a source-address fanout: A = IPv4 source &amp; mask, multiplied by the
    /// golden-ratio constant and shifted so the low bits the kernel's "% members" (fanout_demux_bpf) keeps
    /// depend on every address bit; frames other than IPv4 return 0.
    /// </summary>
    internal static sock_filter[] SourceHashProgram(int prefix)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prefix, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefix, 32);
        uint mask = prefix == 32 ? uint.MaxValue : ~(uint.MaxValue >> prefix);
        return
        [
            new(Cbpf.BPF_LD | Cbpf.BPF_W | Cbpf.BPF_ABS, 0, 0, Cbpf.SKF_AD_PROTOCOL),
            new(Cbpf.BPF_JMP | Cbpf.BPF_JEQ | Cbpf.BPF_K, 0, 5, 0x0800),
            new(Cbpf.BPF_LD | Cbpf.BPF_W | Cbpf.BPF_ABS, 0, 0, unchecked((uint)(Cbpf.SKF_NET_OFF + 12))),
            new(Cbpf.BPF_ALU | Cbpf.BPF_AND | Cbpf.BPF_K, 0, 0, mask),
            new(Cbpf.BPF_ALU | Cbpf.BPF_MUL | Cbpf.BPF_K, 0, 0, 0x9E3779B1),
            new(Cbpf.BPF_ALU | Cbpf.BPF_RSH | Cbpf.BPF_K, 0, 0, 16),
            new(Cbpf.BPF_RET | Cbpf.BPF_A, 0, 0, 0),
            new(Cbpf.BPF_RET | Cbpf.BPF_K, 0, 0, 0),
        ];
    }

    /// <summary>The interface the ring is bound to.</summary>
    public int IfIndex { get; }

    /// <summary>The options the ring was opened with.</summary>
    public PacketRingOptions Options { get; }

    /// <summary>The largest frame <see cref="TrySend"/> accepts (TX slot size minus the slot header).</summary>
    public int MaxTxFrameLength => _txMaxFrame;

    /// <summary>
    /// Hands every frame of every ready RX block to <paramref name="handler"/>, oldest first, and returns the
    /// blocks to the kernel. When no block is ready it waits in poll(2) up to <paramref name="timeoutMs"/>
    /// (0: do not wait, -1: forever). Returns the number of frames delivered.
    /// </summary>
    public int Poll<THandler>(ref THandler handler, int timeoutMs)
        where THandler : struct, IFrameHandler
    {
        ObjectDisposedException.ThrowIf(_map == null, this);
        if (_v2)
        {
            return PollV2(ref handler, timeoutMs);
        }

        if (!BlockReady(_rxBlock))
        {
            if (timeoutMs == 0 || !WaitReadable(timeoutMs) || !BlockReady(_rxBlock))
            {
                return 0;
            }
        }

        int frames = 0;
        for (int walked = 0; walked < _blockCount && BlockReady(_rxBlock); walked++)
        {
            var block = (tpacket_block_desc*)(_map + ((nint)_rxBlock * _blockSize));
            try
            {
                uint count = block->hdr.num_pkts;
                byte* p = (byte*)block + block->hdr.offset_to_first_pkt;
                for (uint i = 0; i < count; i++)
                {
                    var h = (tpacket3_hdr*)p;
                    var status = new FrameStatus(h->tp_status, (ushort)h->hv1.tp_vlan_tci, h->hv1.tp_vlan_tpid, (int)h->tp_len);
                    frames++;
                    handler.OnFrame(new Span<byte>(p + h->tp_mac, (int)h->tp_snaplen), status);
                    p += h->tp_next_offset;
                }
            }
            finally
            {
                // Give the block back even if the handler threw: a block we keep stalls the whole ring.
                Volatile.Write(ref block->hdr.block_status, Packet.TP_STATUS_KERNEL);
                _rxBlock = _rxBlock + 1 == _blockCount ? 0 : _rxBlock + 1;
            }
        }

        _rxFrames += frames;
        return frames;
    }

    /// <summary>TPACKET_V2: every ready frame slot, oldest first, at most one pass over the ring.</summary>
    private int PollV2<THandler>(ref THandler handler, int timeoutMs)
        where THandler : struct, IFrameHandler
    {
        if (!FrameReady(_rxFrame))
        {
            if (timeoutMs == 0 || !WaitReadable(timeoutMs) || !FrameReady(_rxFrame))
            {
                return 0;
            }
        }

        int frames = 0;
        for (; frames < _rxFrameCount && FrameReady(_rxFrame); frames++)
        {
            var h = (tpacket2_hdr*)RxFrame(_rxFrame);
            try
            {
                var status = new FrameStatus(h->tp_status, h->tp_vlan_tci, h->tp_vlan_tpid, (int)h->tp_len);
                handler.OnFrame(new Span<byte>((byte*)h + h->tp_mac, (int)h->tp_snaplen), status);
            }
            finally
            {
                Volatile.Write(ref h->tp_status, Packet.TP_STATUS_KERNEL);
                _rxFrame = _rxFrame + 1 == _rxFrameCount ? 0 : _rxFrame + 1;
            }
        }

        _rxFrames += frames;
        return frames;
    }

    /// <summary>
    /// Copies <paramref name="frame"/> (a whole Ethernet frame) into the next TX slot and marks it for
    /// sending. Returns false, counting why, when the ring is full or the frame does not fit a slot.
    /// Nothing leaves until <see cref="FlushTx"/>.
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        // Shorter than an Ethernet header or longer than a slot: the kernel would reject it anyway.
        if ((uint)frame.Length > (uint)_txMaxFrame || frame.Length < 14)
        {
            _txBadLength++;
            return false;
        }

        byte* slot = TxSlot(_txHead);
        ref uint txStatus = ref TxStatus(slot);

        // Free when neither SEND_REQUEST nor SENDING: tpacket_destruct_skb may OR timestamp bits into
        // TP_STATUS_AVAILABLE, and WRONG_FORMAT slots are reusable too.
        if ((Volatile.Read(ref txStatus) & (Packet.TP_STATUS_SEND_REQUEST | Packet.TP_STATUS_SENDING)) != 0)
        {
            _txRingFull++;
            return false;
        }

        frame.CopyTo(new Span<byte>(slot + _txDataOffset, frame.Length));
        if (_v2)
        {
            var h2 = (tpacket2_hdr*)slot;
            h2->tp_len = (uint)frame.Length;
            h2->tp_snaplen = (uint)frame.Length;
        }
        else
        {
            var h = (tpacket3_hdr*)slot;
            h->tp_len = (uint)frame.Length;
            h->tp_snaplen = (uint)frame.Length;
            h->tp_next_offset = 0;
        }

        Volatile.Write(ref txStatus, Packet.TP_STATUS_SEND_REQUEST);
        _txHead = _txHead + 1 == _txFrameCount ? 0 : _txHead + 1;
        _txPending = true;
        _txFrames++;
        return true;
    }

    /// <summary>
    /// Asks the kernel to transmit every queued slot: one non-blocking sendto(fd, NULL, 0) per batch.
    /// Frames the kernel could not take now (socket buffer full) stay queued for the next flush.
    /// </summary>
    public void FlushTx()
    {
        if (!_txPending)
        {
            return;
        }

        ObjectDisposedException.ThrowIf(_map == null, this);
        nint sent = Libc.SendTo(_fd, null, 0, Libc.MSG_DONTWAIT, null, 0);
        if (sent < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.EAGAIN or Libc.ENOBUFS or Libc.EINTR)
            {
                return;
            }

            // ENETDOWN, ENXIO (interface gone) ...: counted; the control plane notices via the counters
            // and the interface state, the data plane keeps running.
            _txErrors++;
        }

        _txPending = HasQueuedTx();
    }

    /// <summary>
    /// Reads the kernel's PACKET_STATISTICS (which resets them) into the cumulative counters and returns a
    /// snapshot. Call from the control plane (e.g. once a second).
    /// </summary>
    public PacketRingCounters ReadCounters()
    {
        // The reference keeps the descriptor from being closed (and its number reused) during the call
        // if the owner disposes the ring concurrently.
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            tpacket_stats_v3 stats = default;
            uint length = (uint)sizeof(tpacket_stats_v3);
            if (Libc.GetSockOpt(_fd, Packet.SOL_PACKET, Packet.PACKET_STATISTICS, &stats, &length) == 0)
            {
                Interlocked.Add(ref _kernelDrops, stats.tp_drops);
                Interlocked.Add(ref _kernelFreezes, stats.tp_freeze_q_cnt);
            }
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }

        return new PacketRingCounters(
            Volatile.Read(ref _rxFrames),
            Volatile.Read(ref _txFrames),
            Volatile.Read(ref _txRingFull),
            Volatile.Read(ref _txBadLength),
            Volatile.Read(ref _txErrors),
            Volatile.Read(ref _kernelDrops),
            Volatile.Read(ref _kernelFreezes));
    }

    /// <summary>
    /// Attaches a BPF socket filter (SO_ATTACH_BPF) that decides which frames this ring receives; the kernel
    /// tier uses it to hide frames its tc program forwards (taps run before tc ingress).
    /// </summary>
    public void AttachFilter(int programFd) =>
        SetInt(Libc.SOL_SOCKET, Libbpf.SO_ATTACH_BPF, programFd, "setsockopt(SO_ATTACH_BPF)");

    public void Dispose()
    {
        if (_map != null)
        {
            Libc.Munmap(_map, _mapLength);
            _map = null;
        }

        _handle?.Dispose();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool BlockReady(int index)
    {
        var block = (tpacket_block_desc*)(_map + ((nint)index * _blockSize));
        return (Volatile.Read(ref block->hdr.block_status) & Packet.TP_STATUS_USER) != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* RxFrame(int index)
    {
        int block = index / _rxFramesPerBlock;
        int inBlock = index - (block * _rxFramesPerBlock);
        return _map + ((nint)block * _blockSize) + ((nint)inBlock * _rxFrameSize);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool FrameReady(int index) =>
        (Volatile.Read(ref ((tpacket2_hdr*)RxFrame(index))->tp_status) & Packet.TP_STATUS_USER) != 0;

    /// <summary>A TX slot's status word: first in a tpacket2_hdr, sixth in a tpacket3_hdr.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref uint TxStatus(byte* slot) =>
        ref _v2 ? ref ((tpacket2_hdr*)slot)->tp_status : ref ((tpacket3_hdr*)slot)->tp_status;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* TxSlot(int index)
    {
        int block = index / _txFramesPerBlock;
        int inBlock = index - (block * _txFramesPerBlock);
        return _tx + ((nint)block * _txBlockSize) + ((nint)inBlock * _txFrameSize);
    }

    private bool HasQueuedTx()
    {
        // The slot before the head is the newest one queued; if the kernel took it, it took all before it.
        int newest = _txHead == 0 ? _txFrameCount - 1 : _txHead - 1;
        return (Volatile.Read(ref TxStatus(TxSlot(newest))) & Packet.TP_STATUS_SEND_REQUEST) != 0;
    }

    private bool WaitReadable(int timeoutMs)
    {
        var pfd = new PollFd { fd = _fd, events = Libc.POLLIN | Libc.POLLERR };
        int n = Libc.Poll(&pfd, 1, timeoutMs);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EINTR)
            {
                return false;
            }

            Errno.Throw("poll(AF_PACKET)", errno);
        }

        if ((pfd.revents & Libc.POLLERR) != 0)
        {
            // A pending socket error (ENETDOWN when the interface went down) makes poll return at once until
            // it is read; read it so the caller's loop does not spin.
            int error = 0;
            uint length = sizeof(int);
            Libc.GetSockOpt(_fd, Libc.SOL_SOCKET, Libc.SO_ERROR, &error, &length);
        }

        return n > 0;
    }

    private void SetInt(int level, int name, int value, string what)
    {
        if (Libc.SetSockOpt(_fd, level, name, &value, sizeof(int)) != 0)
        {
            Errno.Throw(what);
        }
    }

    private static void Validate(PacketRingOptions o)
    {
        int page = Environment.SystemPageSize;
        if (o.BlockSize <= 0 || o.BlockSize % page != 0)
        {
            throw new ArgumentException($"BlockSize must be a positive multiple of the page size ({page}).", nameof(o));
        }

        if (o.TxBlockSize <= 0 || o.TxBlockSize % page != 0)
        {
            throw new ArgumentException($"TxBlockSize must be a positive multiple of the page size ({page}).", nameof(o));
        }

        if (o.BlockCount <= 0 || o.FrameSize <= 0 || o.FrameSize % Packet.TPACKET_ALIGNMENT != 0 || o.FrameSize > o.BlockSize)
        {
            throw new ArgumentException("BlockCount must be positive and FrameSize a multiple of 16 no larger than a block.", nameof(o));
        }

        if (o.TxFrameSize <= Packet.TxDataOffset + 14 || o.TxFrameSize % Packet.TPACKET_ALIGNMENT != 0 || o.TxFrameSize > o.TxBlockSize)
        {
            throw new ArgumentException("TxFrameSize must be a multiple of 16, hold a header and a frame, and fit a TX block.", nameof(o));
        }

        int perBlock = o.TxBlockSize / o.TxFrameSize;
        if (o.TxFrameCount <= 0 || o.TxFrameCount % perBlock != 0)
        {
            throw new ArgumentException($"TxFrameCount must be a positive multiple of the {perBlock} slots per TX block.", nameof(o));
        }

        if (o.RetireBlockTimeoutMs < 0)
        {
            throw new ArgumentException("RetireBlockTimeoutMs must not be negative.", nameof(o));
        }
    }
}
