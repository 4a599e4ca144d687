namespace Fulcrum.Linux;

/// <summary>
/// What a data-plane worker needs of its driver: a batch of received frames, an in-place send, a flush
/// per batch and counters. <see cref="PacketRing"/> (AF_PACKET TPACKET_V3) and <see cref="XdpSocket"/>
/// (AF_XDP) implement it; one thread owns a ring, <see cref="ReadCounters"/> may be called from another.
/// </summary>
public interface IFrameRing : IDisposable
{
    /// <summary>The interface the ring is bound to.</summary>
    int IfIndex { get; }

    /// <summary>The largest frame <see cref="TrySend"/> accepts.</summary>
    int MaxTxFrameLength { get; }

    /// <summary>
    /// Hands every ready frame to <paramref name="handler"/> and returns the buffers to the kernel; waits in
    /// poll(2) up to <paramref name="timeoutMs"/> when none is ready (0: do not wait, -1: forever). Returns
    /// the number of frames delivered.
    /// </summary>
    int Poll<THandler>(ref THandler handler, int timeoutMs)
        where THandler : struct, IFrameHandler;

    /// <summary>Queues <paramref name="frame"/> (a whole Ethernet frame) for sending; false (counted) when it cannot.</summary>
    bool TrySend(ReadOnlySpan<byte> frame);

    /// <summary>Asks the kernel to transmit what <see cref="TrySend"/> queued.</summary>
    void FlushTx();

    /// <summary>The ring's cumulative counters.</summary>
    PacketRingCounters ReadCounters();
}
