namespace Fulcrum.Linux;

/// <summary>Geometry of an <see cref="XdpSocket"/>: its UMEM and its four rings. The defaults suit a 1500-byte MTU.</summary>
public sealed record XdpSocketOptions
{
    /// <summary>UMEM chunk size: one frame per chunk (aligned mode: a power of two, 2048 up to the page size).</summary>
    public int FrameSize { get; init; } = 2048;

    /// <summary>Chunks in the UMEM (8 MiB with the defaults): the fill ring's share plus the frames in flight on TX.</summary>
    public int FrameCount { get; init; } = 4096;

    /// <summary>Entries of each ring (fill, completion, RX, TX), a power of two.</summary>
    public int RingSize { get; init; } = 2048;

    /// <summary>
    /// Ask for zero-copy (XDP_ZEROCOPY) rather than letting the kernel choose. On veth the kernel only does
    /// copy mode and a forced zero-copy bind fails with EOPNOTSUPP, so the default lets it choose (flags 0:
    /// zero-copy where the driver supports it, else copy) and <see cref="XdpSocket.ZeroCopy"/> says which.
    /// </summary>
    public bool ForceZeroCopy { get; init; }

    /// <summary>
    /// How long a bind that fails with EBUSY is retried: a socket just closed on the same queue (a restarted
    /// daemon) releases it asynchronously.
    /// </summary>
    public TimeSpan BusyRetry { get; init; } = TimeSpan.FromSeconds(2);
}
