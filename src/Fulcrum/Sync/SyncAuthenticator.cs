using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Fulcrum.Sync;

/// <summary>
/// Fulcrum's optional authentication of sync messages: a trailer after the message, "FSA1", the sender's
/// clock in Unix milliseconds (big-endian u64) and HMAC-SHA256 over message, magic and clock. A kernel
/// drops an authenticated message cleanly: the header's size no longer equals the datagram's length.
/// The clock bounds replays: a trailer older (or newer) than <see cref="MaxAge"/> is refused.
/// </summary>
public sealed class SyncAuthenticator
{
    public const int TrailerSize = 4 + 8 + 32;

    private static ReadOnlySpan<byte> Magic => "FSA1"u8;

    private readonly byte[] _key;
    private readonly TimeProvider _time;

    public SyncAuthenticator(ReadOnlySpan<byte> key, TimeProvider? time = null)
    {
        if (key.IsEmpty)
            throw new ArgumentException("an HMAC key must not be empty", nameof(key));
        _key = key.ToArray();
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How far a trailer's clock may be from ours.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Appends the trailer after <paramref name="length"/> bytes of <paramref name="buffer"/>; returns the new length.</summary>
    public int Sign(byte[] buffer, int length)
    {
        var t = buffer.AsSpan(length, TrailerSize);
        Magic.CopyTo(t);
        BinaryPrimitives.WriteInt64BigEndian(t[4..], _time.GetUtcNow().ToUnixTimeMilliseconds());
        HMACSHA256.HashData(_key, buffer.AsSpan(0, length + 12), t[12..]);
        return length + TrailerSize;
    }

    /// <summary>Checks the trailer; on success <paramref name="message"/> is the datagram without it.</summary>
    public bool TryVerify(ReadOnlySpan<byte> datagram, out ReadOnlySpan<byte> message)
    {
        message = default;
        if (datagram.Length < TrailerSize + 4)
            return false;
        int length = datagram.Length - TrailerSize;
        var t = datagram[length..];
        if (!t[..4].SequenceEqual(Magic))
            return false;
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, datagram[..(length + 12)], mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, t[12..]))
            return false;
        long sent = BinaryPrimitives.ReadInt64BigEndian(t[4..]);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (Math.Abs(now - sent) > (long)MaxAge.TotalMilliseconds)
            return false;
        message = datagram[..length];
        return true;
    }
}
