namespace Fulcrum.Linux;

/// <summary>
/// Receives the frames of one <see cref="IFrameRing.Poll{THandler}"/> call (<see cref="PacketRing"/> or
/// <see cref="XdpSocket"/>). Implement it on a struct so the call is devirtualized and nothing is boxed. The
/// span points into the ring and is valid only during the call: rewrite in place and hand the bytes to
/// <see cref="IFrameRing.TrySend"/> before returning (<see cref="PacketRing"/> copies them into a TX slot,
/// <see cref="XdpSocket"/> sends that very UMEM chunk).
/// </summary>
public interface IFrameHandler
{
    void OnFrame(Span<byte> frame, FrameStatus status);
}
