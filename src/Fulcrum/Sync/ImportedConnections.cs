using System.Collections.Concurrent;
using Fulcrum.Balancing;

namespace Fulcrum.Sync;

/// <summary>
/// What a BACKUP received: connections and templates keyed as the kernel's connection table keys them
/// (protocol, client, client port, virtual address, virtual port; templates apart), each with the expiry
/// its synced timeout gives. Written by the receive thread only; read lock-free by workers on a
/// connection-table miss. A worker that takes an entry over marks it adopted (a flag, no lock); the
/// receive thread removes adopted and expired entries when it sweeps. Entries outlive the BACKUP daemon,
/// as the kernel's synced connections do, so they are still there after a takeover.
/// </summary>
internal sealed class ImportedConnections
{
    private readonly ConcurrentDictionary<ConnectionKey, Entry> _entries = new();
    private readonly int _capacity;

    public ImportedConnections(int capacity) => _capacity = capacity;

    public int Count => _entries.Count;

    /// <summary>
    /// ip_vs_proc_conn: add or update. A connection already known with another dest is replaced, unless
    /// the update is INACTIVE (the expiry message of the connection it replaced: ignored). Returns false
    /// when the table is full (counted by the caller).
    /// </summary>
    public bool Install(in SyncedConnection c, long nowMs)
    {
        var key = c.Key;
        long timeoutMs = TimeoutMs(in c);
        if (_entries.TryGetValue(key, out var old) && !c.IsTemplate &&
            (old.Connection.DestAddress != c.DestAddress || old.Connection.DestPort != c.DestPort) &&
            (c.Flags & IpvsConnFlags.Inactive) != 0)
            return true;
        if (old is null && _entries.Count >= _capacity)
            return false;
        _entries[key] = new Entry(c, nowMs + timeoutMs);
        return true;
    }

    public bool TryGet(in ConnectionKey key, long nowMs, out SyncedConnection connection)
    {
        if (_entries.TryGetValue(key, out var e) &&
            e.ExpiresMs > nowMs && Volatile.Read(ref e.Adopted) == 0)
        {
            connection = e.Connection;
            return true;
        }
        connection = default;
        return false;
    }

    public void MarkAdopted(in ConnectionKey key)
    {
        if (_entries.TryGetValue(key, out var e))
            Volatile.Write(ref e.Adopted, 1);
    }

    /// <summary>Removes expired and adopted entries (receive thread); returns how many went.</summary>
    public int Sweep(long nowMs)
    {
        int removed = 0;
        foreach (var (key, e) in _entries)
        {
            if ((e.ExpiresMs <= nowMs || Volatile.Read(ref e.Adopted) != 0) &&
                _entries.TryRemove(new KeyValuePair<ConnectionKey, Entry>(key, e)))
                removed++;
        }
        return removed;
    }

    public void Collect(List<ConnectionInfo> into, long nowMs)
    {
        foreach (var (_, e) in _entries)
        {
            if (e.ExpiresMs <= nowMs || Volatile.Read(ref e.Adopted) != 0)
                continue;
            var c = e.Connection;
            bool tcp = c.Protocol == (byte)IpProtocol.Tcp;
            string state = c.IsTemplate ? tcp ? "NONE" : "UDP"
                : tcp ? TcpStateMachine.Name((IpvsTcpState)c.State) : c.Protocol == (byte)IpProtocol.Udp ? "UDP" : "NONE";
            into.Add(new ConnectionInfo((IpProtocol)c.Protocol, c.ToAddress(c.ClientAddress), c.ClientPort,
                c.ToAddress(c.VirtualAddress), c.VirtualPort, c.ToAddress(c.DestAddress), c.DestPort, state,
                (uint)((e.ExpiresMs - nowMs) / 1000)));
        }
    }

    /// <summary>Every live entry (bulk listings, tests).</summary>
    public List<SyncedConnection> Snapshot(long nowMs)
    {
        var list = new List<SyncedConnection>();
        foreach (var (_, e) in _entries)
        {
            if (e.ExpiresMs > nowMs && Volatile.Read(ref e.Adopted) == 0)
                list.Add(e.Connection);
        }
        return list;
    }

    public void Clear() => _entries.Clear();

    /// <summary>ip_vs_proc_conn: the synced timeout, or (0 from a version-0 peer) the state's default, 3 min for a template.</summary>
    private static long TimeoutMs(in SyncedConnection c)
    {
        if (c.TimeoutSeconds != 0)
            return c.TimeoutSeconds * 1000L;
        if (!c.IsTemplate && c.Protocol == (byte)IpProtocol.Tcp && c.State < TcpStateMachine.StateCount)
            return TcpStateMachine.DefaultTimeoutsSeconds[c.State] * 1000L;
        if (!c.IsTemplate && c.Protocol == (byte)IpProtocol.Udp)
            return TcpStateMachine.DefaultUdpTimeoutSeconds * 1000L;
        return 3 * 60 * 1000L;
    }

    private sealed class Entry(SyncedConnection connection, long expiresMs)
    {
        public readonly SyncedConnection Connection = connection;
        public readonly long ExpiresMs = expiresMs;
        public int Adopted;
    }
}
