using System.Net;
using System.Net.Sockets;
using Fulcrum.Config;
using Fulcrum.Linux;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Vrrp;

/// <summary>Where the VRRP service runs.</summary>
public sealed class VrrpServiceOptions
{
    /// <summary>
    /// A named network namespace (/var/run/netns) for the VRRP thread to enter first: its sockets, `ip`
    /// commands and notify scripts then all live there. Null: the process's own namespace (the daemon).
    /// </summary>
    public string? NetworkNamespace { get; init; }
}

/// <summary>One instance as `fulcrum status` shows it; <see cref="Transitions"/> counts state changes since start (metrics).</summary>
public sealed record VrrpInstanceStatus(
    string Name,
    string? Interface,
    byte VirtualRouterId,
    int Version,
    VrrpInstanceState State,
    byte Priority,
    IPAddress? Master,
    IReadOnlyList<IPAddress> VirtualAddresses,
    long Transitions = 0);

/// <summary>
/// Runs the configuration's vrrp_instances (IPv4) on one dedicated thread: it waits on all their sockets at
/// once with the nearest timer as the timeout, so every state machine and the sync groups are driven from
/// one place without locks. Members of a vrrp_sync_group move together: one becoming MASTER takes the others
/// to MASTER, one leaving MASTER takes them to BACKUP (keepalived's sync group rule). Stopping the service
/// resigns every MASTER with a priority-0 advert and removes its addresses.
/// </summary>
public sealed class VrrpService : BackgroundService
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(100);

    private readonly KeepalivedConfiguration _configuration;
    private readonly TimeProvider _time;
    private readonly ILogger<VrrpService> _logger;
    private readonly VrrpServiceOptions _options;
    private readonly VrrpSyncGroups _syncGroups = new();
    private IReadOnlyList<VrrpInstanceStatus> _status = [];

    public VrrpService(KeepalivedConfiguration configuration, TimeProvider time, ILogger<VrrpService> logger, VrrpServiceOptions? options = null)
    {
        _configuration = configuration;
        _time = time;
        _logger = logger;
        _options = options ?? new VrrpServiceOptions();
    }

    /// <summary>The instances' current states (a snapshot, replaced whenever one changes).</summary>
    public IReadOnlyList<VrrpInstanceStatus> Instances => Volatile.Read(ref _status);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Body()
        {
            try
            {
                Run(stoppingToken);
                done.TrySetResult();
            }
            catch (Exception e)
            {
                _logger.LogError(e, "VRRP stopped on an error");
                done.TrySetException(e);
            }
        }

        if (_options.NetworkNamespace is { } ns)
        {
            NetworkNamespace.StartIn(ns, Body);
        }
        else
        {
            new Thread(Body) { IsBackground = true, Name = "vrrp" }.Start();
        }

        return done.Task;
    }

    private void Run(CancellationToken stoppingToken)
    {
        var links = new List<VrrpLink>();
        using var tracking = new VrrpTracking(_configuration, _time, _logger);
        try
        {
            foreach (var config in _configuration.VrrpInstances)
            {
                if (config.IsIpv6)
                {
                    _logger.LogWarning("({Instance}) IPv6 VRRP is not supported yet; instance skipped", config.Name);
                    continue;
                }

                try
                {
                    links.Add(new VrrpLink(config, _logger, _syncGroups.Record, _time));
                }
                catch (Exception e) when (e is IOException or SocketException or InvalidOperationException or NotSupportedException)
                {
                    // As keepalived: one broken instance (no such interface, no address) does not stop the others.
                    _logger.LogError("({Instance}) cannot start: {Error}", config.Name, e.Message);
                }
            }

            var instances = new List<VrrpInstance>(links.Count);
            foreach (var link in links)
                instances.Add(link.Instance);
            _syncGroups.Configure(_configuration.VrrpSyncGroups, instances);
            foreach (var link in links)
            {
                tracking.Add(link.Instance, link.Config);
                link.Instance.Start();
            }

            tracking.Poll();
            _syncGroups.Apply();
            Publish(links);

            var buffer = new byte[65536];
            var readable = new List<Socket>(links.Count);

            // Stopping must not wait for select's timeout: a MASTER's priority-0 advert is what lets
            // the BACKUP take over after skew time only. An abstract Unix datagram socket (no file,
            // no dependence on the namespace's loopback) wakes the select when the token fires.
            var wakeAddress = new UnixDomainSocketEndPoint("\0fulcrum-vrrp-" + Guid.NewGuid().ToString("N"));
            using var wake = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            wake.Bind(wakeAddress);
            using var waker = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            using var wakeOnStop = stoppingToken.Register(() =>
            {
                try
                {
                    waker.SendTo(new byte[1], wakeAddress);
                }
                catch (SocketException)
                {
                    // The loop's own timeout still ends it.
                }
            });
            while (!stoppingToken.IsCancellationRequested)
            {
                TimeSpan wait = MaxWait;
                foreach (var link in links)
                {
                    if (link.Instance.DueIn is { } due && due < wait)
                        wait = due;
                }

                readable.Clear();
                foreach (var link in links)
                {
                    readable.Add(link.Socket);
                    readable.Add(link.ArpListener);
                }

                if (readable.Count == 0)
                {
                    stoppingToken.WaitHandle.WaitOne(MaxWait);
                    continue;
                }

                readable.Add(wake);

                Socket.Select(readable, null, null, Math.Max(1, (int)(wait.Ticks / TimeSpan.TicksPerMicrosecond)));
                foreach (var link in links)
                {
                    if (readable.Contains(link.Socket))
                        link.Drain(buffer);
                    if (readable.Contains(link.ArpListener))
                        link.DrainArp(buffer);
                    link.Instance.Poll();
                }

                tracking.Poll();

                if (_syncGroups.Apply() || StatusMoved(links))
                    Publish(links);
            }
        }
        finally
        {
            foreach (var link in links)
            {
                try
                {
                    link.Instance.Stop();
                }
                catch (Exception e)
                {
                    _logger.LogError(e, "({Instance}) clean stop failed", link.Instance.Name);
                }

                link.Dispose();
            }

            Publish(links);
        }
    }

    /// <summary>True when some instance's master or priority differs from the published status (they change without a state change).</summary>
    private bool StatusMoved(List<VrrpLink> links)
    {
        var published = Volatile.Read(ref _status);
        if (published.Count != links.Count)
            return true;
        for (int i = 0; i < links.Count; i++)
        {
            uint master = links[i].Instance.MasterAddress;
            uint shown = published[i].Master is { } m ? VrrpLink.ToHost(m) : 0;
            if (master != shown || links[i].Instance.EffectivePriority != published[i].Priority)
                return true;
        }

        return false;
    }

    private void Publish(List<VrrpLink> links)
    {
        var list = new List<VrrpInstanceStatus>(links.Count);
        foreach (var link in links)
        {
            var i = link.Instance;
            var vips = new List<IPAddress>();
            foreach (var v in link.Config.VirtualIpAddresses)
                vips.Add(v.Address);
            IPAddress? master = i.MasterAddress == 0 ? null : new IPAddress(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(i.MasterAddress));
            list.Add(new VrrpInstanceStatus(i.Name, link.Config.Interface, link.Config.VirtualRouterId, link.Config.Version, i.State, i.EffectivePriority, master, vips, link.Transitions));
        }

        Volatile.Write(ref _status, list);
    }
}
