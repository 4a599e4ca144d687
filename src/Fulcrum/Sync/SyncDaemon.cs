using System.Net;
using System.Net.Sockets;
using Fulcrum.Balancing;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Sync;

/// <summary>Settings of the sync threads beyond what ipvsadm can say.</summary>
public sealed record SyncTuning
{
    /// <summary>
    /// How long a part-filled message may wait for more records. The kernel waits up to 2 s
    /// (IPVS_SYNC_FLUSH_TIME); a takeover in that window would lose the waiting connections.
    /// </summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The MASTER's send-rate bound, in datagrams per second; past it, worker queues fill and drop.</summary>
    public int MaxMessagesPerSecond { get; init; } = 20_000;

    /// <summary>Each worker's queue of connection changes.</summary>
    public int QueueCapacity { get; init; } = 1 << 16;

    /// <summary>The most synced connections a BACKUP holds.</summary>
    public int ImportCapacity { get; init; } = 1 << 22;
}

/// <summary>
/// One running sync daemon (the kernel's ipvs-m / ipvs-b thread) on its own thread and socket.
/// MASTER: drains the workers' queues into messages of up to maxlen bytes, flushes a part-filled one
/// after <see cref="SyncTuning.FlushInterval"/>, sends each to the group and the unicast peers within the
/// rate bound, and answers resync requests by streaming the whole table to the requester. BACKUP:
/// receives, checks (syncid, HMAC, format), installs into the imported table, asks a MASTER it has not
/// heard before for a resync. Nothing a peer sends can make either loop throw.
/// </summary>
internal sealed partial class SyncDaemon : IDisposable
{
    private const int SweepIntervalMs = 1000;

    private readonly Socket _socket;
    private readonly SyncDaemonConfig _config;
    private readonly SyncService _owner;
    private readonly SyncCounters _counters;
    private readonly SyncAuthenticator? _auth;
    private readonly ILogger _logger;
    private readonly List<IPEndPoint> _destinations;
    private readonly Thread _thread;
    private volatile bool _stop;

    public SyncDaemon(SyncDaemonConfig config, int ifIndex, SyncService owner, ILogger logger)
    {
        _config = config;
        _owner = owner;
        _counters = owner.Counters;
        _logger = logger;
        _auth = config.AuthKey.IsEmpty ? null : new SyncAuthenticator(config.AuthKey.Span, owner.Time);
        _destinations = SyncSockets.Destinations(config);
        _socket = SyncSockets.Open(config, ifIndex);
        _thread = new Thread(config.State == SyncDaemonState.Master ? RunMaster : RunBackup)
        {
            IsBackground = true,
            Name = config.State == SyncDaemonState.Master ? "sync-master" : "sync-backup",
        };
    }

    public SyncDaemonConfig Config => _config;

    public void Start()
    {
        _thread.Start();
        LogStarted(_config.State == SyncDaemonState.Master ? "MASTER" : "BACKUP", _config.Interface, _config.SyncId, _config.MaxLength);
    }

    public void Dispose()
    {
        _stop = true;
        if (_thread.IsAlive)
            _thread.Join(TimeSpan.FromSeconds(2));
        _socket.Dispose();
    }

    private void RunMaster()
    {
        var builder = NewBuilder();
        var rx = new byte[65536];
        var queues = _owner.Queues;
        var time = _owner.Time;
        long rate = Math.Max(1, _owner.Tuning.MaxMessagesPerSecond);
        double tokens = rate / 10.0;
        long last = time.GetTimestamp();
        long firstAt = 0;
        long flushTicks = (long)(_owner.Tuning.FlushInterval.TotalSeconds * time.TimestampFrequency);
        ResyncJob? resync = null;
        var pendingResync = new Queue<IPEndPoint>();

        while (!_stop)
        {
            try
            {
                long now = time.GetTimestamp();
                tokens = Math.Min(rate / 10.0, tokens + (now - last) * (double)rate / time.TimestampFrequency);
                last = now;
                bool busy = false;

                while (_socket.Available > 0)
                {
                    EndPoint from = new IPEndPoint(_config.Group?.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
                    int n = _socket.ReceiveFrom(rx, ref from);
                    if (Unwrap(rx.AsSpan(0, n), out var message) && SyncCodec.IsResyncRequest(message, (byte)_config.SyncId) &&
                        !pendingResync.Contains((IPEndPoint)from))
                        pendingResync.Enqueue((IPEndPoint)from);
                }

                // Changes first: they are what a takeover needs most recently.
                for (int q = 0; q < queues.Length && tokens >= 1; q++)
                {
                    while (queues[q].TryDequeue(out var c))
                    {
                        busy = true;
                        if (!builder.TryAdd(in c))
                        {
                            tokens -= Send(builder, _destinations);
                            builder.TryAdd(in c);
                        }
                        if (builder.Count == 1)
                            firstAt = now;
                        if (tokens < 1)
                            break;
                    }
                }

                if (!builder.IsEmpty && now - firstAt >= flushTicks)
                    tokens -= Send(builder, _destinations);

                if (resync is null && pendingResync.Count > 0)
                {
                    var to = pendingResync.Dequeue();
                    resync = new ResyncJob(to, _owner.CollectTable(), NewBuilder());
                    SyncCounters.Add(ref _counters.ResyncRequestsServed, 1);
                    LogResync(to.ToString(), resync.Records.Count);
                }
                if (resync is not null && tokens >= 1)
                {
                    busy = true;
                    // Half the bound at most for a resync, so new changes keep flowing beside it.
                    int budget = (int)Math.Max(1, tokens / 2);
                    while (budget > 0 && resync.Next < resync.Records.Count)
                    {
                        var c = resync.Records[resync.Next];
                        if (!resync.Builder.TryAdd(in c))
                        {
                            Send(resync.Builder, resync.Target);
                            budget--;
                            tokens--;
                            continue;
                        }
                        resync.Next++;
                    }
                    if (resync.Next >= resync.Records.Count)
                    {
                        if (!resync.Builder.IsEmpty)
                        {
                            Send(resync.Builder, resync.Target);
                            tokens--;
                        }
                        resync = null;
                    }
                }

                if (!busy)
                    Thread.Sleep(1);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stop)
                    break;
                SyncCounters.Add(ref _counters.SendErrors, 1);
                Thread.Sleep(10);
            }
        }

        // What the workers handed over before the stop still goes out.
        if (!builder.IsEmpty)
            TrySend(builder, _destinations);
    }

    private void RunBackup()
    {
        var rx = new byte[65536];
        var records = new List<SyncedConnection>(256);
        var imported = _owner.Imported;
        _socket.ReceiveTimeout = 200;
        IPAddress? lastMaster = null;
        long lastSweep = _owner.NowMs;
        RequestResync(_destinations);

        while (!_stop)
        {
            int n;
            EndPoint from = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            try
            {
                n = _socket.ReceiveFrom(rx, ref from);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.Interrupted)
            {
                n = -1;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stop)
                    break;
                Thread.Sleep(10);
                n = -1;
            }

            long nowMs = _owner.NowMs;
            if (n >= 0)
            {
                try
                {
                    var source = ((IPEndPoint)from).Address;
                    if (Receive(rx.AsSpan(0, n), records, nowMs) && !source.Equals(lastMaster))
                    {
                        // A MASTER we have not heard before (we just joined, or it restarted or changed):
                        // ask it for its whole table.
                        lastMaster = source;
                        RequestResync([(IPEndPoint)from]);
                    }
                }
                catch (Exception e)
                {
                    // Never out of the loop: a message we cannot handle is counted and dropped.
                    SyncCounters.Add(ref _counters.MalformedMessages, 1);
                    LogReceiveFailed(e.Message);
                }
            }

            if (nowMs - lastSweep >= SweepIntervalMs)
            {
                imported.Sweep(nowMs);
                lastSweep = nowMs;
            }
        }
    }

    /// <summary>One datagram on the BACKUP; true when it was a valid connection message.</summary>
    private bool Receive(ReadOnlySpan<byte> datagram, List<SyncedConnection> records, long nowMs)
    {
        SyncCounters.Add(ref _counters.ReceivedMessages, 1);
        SyncCounters.Add(ref _counters.ReceivedBytes, datagram.Length);
        if (!Unwrap(datagram, out var message))
            return false;
        if (SyncCodec.IsResyncRequest(message, (byte)_config.SyncId))
            return false; // for a MASTER
        records.Clear();
        var result = SyncCodec.Parse(message, (byte)_config.SyncId, records, out int skipped);
        switch (result)
        {
            case SyncParseResult.Ok:
                break;
            case SyncParseResult.OtherSyncId:
                SyncCounters.Add(ref _counters.OtherSyncId, 1);
                return false;
            default:
                SyncCounters.Add(ref _counters.MalformedMessages, 1);
                return false;
        }

        Volatile.Write(ref _counters.LastReceivedTimestamp, _owner.Time.GetTimestamp());
        SyncCounters.Add(ref _counters.SkippedRecords, skipped);
        SyncCounters.Add(ref _counters.ReceivedRecords, records.Count);
        var imported = _owner.Imported;
        foreach (var c in records)
        {
            if (!imported.Install(in c, nowMs))
                SyncCounters.Add(ref _counters.InstallDrops, 1);
        }
        return true;
    }

    /// <summary>With authentication on, strips a valid trailer or refuses; without, takes the datagram as it is.</summary>
    private bool Unwrap(ReadOnlySpan<byte> datagram, out ReadOnlySpan<byte> message)
    {
        if (_auth is null)
        {
            message = datagram;
            return true;
        }
        if (_auth.TryVerify(datagram, out message))
            return true;
        SyncCounters.Add(ref _counters.AuthFailures, 1);
        return false;
    }

    private void RequestResync(IReadOnlyList<IPEndPoint> to)
    {
        var b = new byte[SyncCodec.ResyncRequestSize + SyncAuthenticator.TrailerSize];
        SyncCodec.WriteResyncRequest(b, (byte)_config.SyncId);
        int len = _auth?.Sign(b, SyncCodec.ResyncRequestSize) ?? SyncCodec.ResyncRequestSize;
        foreach (var ep in to)
        {
            try
            {
                _socket.SendTo(b.AsSpan(0, len), SocketFlags.None, ep);
                SyncCounters.Add(ref _counters.ResyncRequestsSent, 1);
            }
            catch (SocketException)
            {
                SyncCounters.Add(ref _counters.SendErrors, 1);
            }
        }
    }

    private SyncMessageBuilder NewBuilder() =>
        new((byte)_config.SyncId, _config.MaxLength, _auth is null ? 0 : SyncAuthenticator.TrailerSize);

    /// <summary>Sends the message to each destination and empties the builder; returns 1 (one token).</summary>
    private int Send(SyncMessageBuilder builder, List<IPEndPoint> to)
    {
        TrySend(builder, to);
        return 1;
    }

    private int Send(SyncMessageBuilder builder, IPEndPoint to) => Send(builder, [to]);

    private void TrySend(SyncMessageBuilder builder, List<IPEndPoint> to)
    {
        int len = builder.Finish();
        int records = builder.Count;
        if (_auth is not null)
            len = _auth.Sign(builder.Buffer, len);
        foreach (var ep in to)
        {
            try
            {
                _socket.SendTo(builder.Buffer.AsSpan(0, len), SocketFlags.None, ep);
                SyncCounters.Add(ref _counters.SentMessages, 1);
                SyncCounters.Add(ref _counters.SentRecords, records);
                SyncCounters.Add(ref _counters.SentBytes, len);
            }
            catch (SocketException)
            {
                SyncCounters.Add(ref _counters.SendErrors, 1);
            }
        }
        builder.Reset();
    }

    private sealed class ResyncJob(IPEndPoint target, List<SyncedConnection> records, SyncMessageBuilder builder)
    {
        public IPEndPoint Target { get; } = target;
        public List<SyncedConnection> Records { get; } = records;
        public SyncMessageBuilder Builder { get; } = builder;
        public int Next { get; set; }
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Information, Message = "sync daemon started: state = {State}, mcast_ifn = {Interface}, syncid = {SyncId}, maxlen = {MaxLength}")]
    private partial void LogStarted(string state, string @interface, int syncId, int maxLength);

    [LoggerMessage(EventId = 901, Level = LogLevel.Information, Message = "resync requested by {Peer}: streaming {Count} connection(s)")]
    private partial void LogResync(string peer, int count);

    [LoggerMessage(EventId = 902, Level = LogLevel.Warning, Message = "sync message dropped: {Error}")]
    private partial void LogReceiveFailed(string error);
}
