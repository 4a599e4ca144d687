namespace Fulcrum.Linux;

/// <summary>
/// Receives the frames of one <see cref="PacketRing.Poll{THandler}"/> call. Implement it on a struct so the
/// call is devirtualized and nothing is boxed. The span points into the ring and is valid only during the
/// call: rewrite in place and hand the bytes to <see cref="PacketRing.TrySend"/> (which copies) before
/// returning.
/// </summary>
public interface IFrameHandler
{
    void OnFrame(Span<byte> frame, FrameStatus status);
}
