namespace Fulcrum.Linux;

/// <summary>
/// A snapshot of one <see cref="PacketRing"/>'s counters, cumulative since it opened. TxFrames counts frames
/// queued by TrySend; TxRingFull and TxBadLength count frames TrySend refused; TxErrors counts failed
/// flushes (e.g. interface down); KernelDrops is PACKET_STATISTICS tp_drops (RX ring was full) and
/// KernelFreezes tp_freeze_q_cnt (times the RX queue froze).
/// </summary>
public readonly record struct PacketRingCounters(
    long RxFrames,
    long TxFrames,
    long TxRingFull,
    long TxBadLength,
    long TxErrors,
    long KernelDrops,
    long KernelFreezes);
