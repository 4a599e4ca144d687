using Fulcrum.Balancing;

namespace Fulcrum.Sync;

/// <summary>
/// Fills one sync datagram as the kernel's master does (ip_vs_sync_conn into a sync_buff): a header,
/// then records, each 32-bit aligned, up to maxlen bytes (sync_maxlen, from the MTU) and 255 records
/// (nr_conns is one byte). Room for an authentication trailer is kept out of maxlen when asked.
/// </summary>
public sealed class SyncMessageBuilder
{
    private readonly byte[] _buffer;
    private readonly int _limit;
    private int _length;

    /// <param name="maxLength">sync_maxlen: the largest datagram.</param>
    /// <param name="reserve">bytes kept free at the end (the HMAC trailer).</param>
    public SyncMessageBuilder(byte syncId, int maxLength, int reserve = 0)
    {
        // As ip_vs_sync_buff_create: a message always has room for one record, however small maxlen is.
        int size = Math.Max(maxLength, SyncCodec.HeaderSize + SyncCodec.V6RecordSize + reserve);
        SyncId = syncId;
        _buffer = new byte[size];
        _limit = size - reserve;
        _length = SyncCodec.HeaderSize;
    }

    public byte SyncId { get; }

    public int Count { get; private set; }

    public bool IsEmpty => Count == 0;

    /// <summary>The whole buffer (header + records + free room for a trailer).</summary>
    public byte[] Buffer => _buffer;

    /// <summary>Adds a record; false when it does not fit (send, <see cref="Reset"/>, add again).</summary>
    public bool TryAdd(in SyncedConnection c)
    {
        int pad = (4 - _length) & 3;
        int len = SyncCodec.RecordSize(in c);
        if (Count == byte.MaxValue || _length + pad + len > _limit)
            return false;
        _buffer.AsSpan(_length, pad).Clear();
        _length += pad;
        _length += SyncCodec.WriteRecord(_buffer.AsSpan(_length), in c);
        Count++;
        return true;
    }

    /// <summary>Writes the header and returns the message's length.</summary>
    public int Finish()
    {
        SyncCodec.WriteHeader(_buffer, SyncId, _length, Count);
        return _length;
    }

    public void Reset()
    {
        _length = SyncCodec.HeaderSize;
        Count = 0;
    }
}
