namespace Fulcrum.Linux;

/// <summary>The TPACKET version of a <see cref="PacketRing"/>'s RX and TX rings.</summary>
public enum PacketRingVersion
{
    /// <summary>
    /// TPACKET_V3: frames packed into blocks, the reader woken once per block (when it is full or its timer,
    /// <see cref="PacketRingOptions.RetireBlockTimeoutMs"/>, fires). Few wake-ups: for a ring that sees every packet.
    /// </summary>
    V3,

    /// <summary>
    /// TPACKET_V2: one fixed-size slot per frame, the reader woken per frame (tpacket_rcv calls sk_data_ready
    /// for V1/V2 only). No block timer in the way: for a ring that sees only the kernel tier's misses, where
    /// each frame is a connection waiting for its SYN or handshake to be forwarded and latency is what counts.
    /// </summary>
    V2,
}

/// <summary>Geometry and socket options of a <see cref="PacketRing"/>. The defaults suit a 1500-byte MTU.</summary>
public sealed record PacketRingOptions
{
    /// <summary>TPACKET_V3 (default) or TPACKET_V2; see <see cref="PacketRingVersion"/>.</summary>
    public PacketRingVersion Version { get; init; } = PacketRingVersion.V3;

    /// <summary>
    /// RX block size in bytes (a multiple of the page size). TPACKET_V3 packs frames of any size into a
    /// block and hands the block over when it is full or its timer fires.
    /// </summary>
    public int BlockSize { get; init; } = 256 * 1024;

    /// <summary>RX blocks: 64 x 256 KiB = 16 MiB, about 10 000 full-size frames of slack.</summary>
    public int BlockCount { get; init; } = 64;

    /// <summary>
    /// tp_frame_size of the RX ring: V3 only uses it to size tp_frame_nr (frames are packed); V2 gives every frame
    /// a slot of this size, so a longer frame arrives truncated (its snap length below its length) and is dropped.
    /// </summary>
    public int FrameSize { get; init; } = 2048;

    /// <summary>
    /// tp_retire_blk_tov in ms: a partly filled block is handed over after this long. TPACKET_V3 wakes the
    /// reader per block, not per frame, so this bounds the latency added at low rates.
    /// </summary>
    public int RetireBlockTimeoutMs { get; init; } = 1;

    /// <summary>TX slot size: header (48 bytes) plus the largest frame sent. 2048 fits 1514 + a VLAN tag.</summary>
    public int TxFrameSize { get; init; } = 2048;

    /// <summary>TX slots in the ring (a multiple of the slots per <see cref="TxBlockSize"/> block).</summary>
    public int TxFrameCount { get; init; } = 1024;

    /// <summary>TX ring block size in bytes (a multiple of the page size).</summary>
    public int TxBlockSize { get; init; } = 256 * 1024;

    /// <summary>
    /// PACKET_IGNORE_OUTGOING: do not deliver the frames this host transmits on the interface (our own TX
    /// and the kernel's). On by default: the director must never re-read what it forwarded.
    /// </summary>
    public bool IgnoreOutgoing { get; init; } = true;

    /// <summary>
    /// When set, joins PACKET_FANOUT group (id &amp; 0xffff) with PACKET_FANOUT_HASH, so several rings (one per
    /// worker) on the same interface each get whole flows (the kernel's skb flow hash). All members must
    /// use the same options; with <see cref="IgnoreOutgoing"/> the group gets PACKET_FANOUT_FLAG_IGNORE_OUTGOING.
    /// </summary>
    public int? FanoutGroup { get; init; }

    /// <summary>
    /// With <see cref="FanoutGroup"/>: instead of the kernel's flow hash, the group runs a classic BPF program
    /// (PACKET_FANOUT_CBPF) that hashes the IPv4 source address masked to this many leading bits (1..32), so
    /// every flow of one client (or client network) reaches the same member; frames that are not IPv4 go to
    /// member 0. Null: PACKET_FANOUT_HASH.
    /// </summary>
    public int? FanoutSourcePrefix { get; init; }

    /// <summary>
    /// PACKET_QDISC_BYPASS: transmit straight to the driver queue, skipping the qdisc and the taps (tcpdump
    /// on the director no longer sees forwarded frames, and traffic shaping on the interface is ignored).
    /// Off by default; see docs in the Linux README for the measurement.
    /// </summary>
    public bool QdiscBypass { get; init; }
}
