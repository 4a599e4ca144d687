namespace Fulcrum.Linux;

/// <summary>A snapshot of one <see cref="PacketRing"/>'s counters (cumulative since it opened).</summary>
public readonly record struct PacketRingCounters(
    long RxFrames,
    long TxFrames,
    long TxRingFull,
    long TxTooBig,
    long TxErrors,
    long KernelDrops,
    long KernelFreezes);
