using Fulcrum.Balancing;
using Fulcrum.Linux;
using Fulcrum.Linux.Bpf;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// Runs the kernel tier (Linux/Bpf) the `--driver` option asks for on the director's interface and hands it
/// to each worker's <see cref="Balancer"/>. With auto, a tier that cannot load (no libbpf, an old kernel)
/// leaves the C# tier forwarding everything, logged; an explicit driver that fails stops the start.
/// </summary>
internal sealed partial class KernelTierHost : IDisposable
{
    private readonly DirectorOptions _options;
    private readonly ILogger<KernelTierHost> _logger;
    private KernelTier? _tier;
    private KernelEventRing[]? _events;
    private KernelScheduling? _scheduling;
    private bool _started;

    public KernelTierHost(DirectorOptions options, ILogger<KernelTierHost> logger)
    {
        _options = options;
        _logger = logger;
    }

    /// <summary>The attached tier, or null when the C# tier forwards everything.</summary>
    public KernelTier? Tier => _tier;

    /// <summary>Loads and attaches the tier (once); call before the rings open.</summary>
    public void Start()
    {
        if (_started)
            return;
        _started = true;
        var attach = KernelDriver.Choose(_options.Driver, _options.Interface, out string why);
        if (attach is null)
        {
            RemoveStale();
            LogChoice(_options.Interface, "afpacket", why);
            return;
        }

        try
        {
            _tier = KernelTier.Open(_options.Interface, attach.Value);
        }
        catch (Exception e) when (_options.Driver == "auto" && e is LinuxException or DllNotFoundException or EntryPointNotFoundException)
        {
            if (attach is KernelAttach.XdpNative or KernelAttach.XdpGeneric)
            {
                try
                {
                    _tier = KernelTier.Open(_options.Interface, KernelAttach.Tc);
                    LogChoice(_options.Interface, "tc", $"auto: {(attach == KernelAttach.XdpNative ? "native" : "generic")} XDP refused ({e.Message}), tc instead");
                    return;
                }
                catch (LinuxException e2)
                {
                    e = e2;
                }
            }

            LogUnavailable(_options.Interface, e.Message);
            return;
        }

        LogChoice(_options.Interface, attach.Value.ToString(), why);
        if (attach == KernelAttach.XdpNative && KernelDriver.IsVirtual(_options.Interface))
            LogNativeOnVirtual(_options.Interface);
    }

    /// <summary>
    /// Opens one event ring per worker (the connections the program hands back), before <see cref="Bind"/>; without
    /// them (logged) the workers' sweeps find those connections themselves.
    /// </summary>
    public void OpenEventRings(int workers)
    {
        if (_tier is null)
            return;
        try
        {
            _events = _tier.OpenEventRings(workers, _options.FanoutPrefix);
        }
        catch (LinuxException e)
        {
            LogNoEvents(_options.Interface, e.Message);
        }
    }

    /// <summary>With event rings, lets the program schedule the published services' SYNs itself (<see cref="KernelScheduling"/>).</summary>
    public void StartScheduling(IpvsTable table)
    {
        if (_tier is null || _events is null || _scheduling is not null)
            return;
        _scheduling = new KernelScheduling(table, _tier, _logger);
    }

    /// <summary>A real server's MAC was learned or changed: republish the slot tables (off the caller's thread).</summary>
    public void MacsChanged()
    {
        if (_scheduling is { } scheduling)
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Publish(), scheduling, preferLocal: false);
    }

    /// <summary>Gives <paramref name="balancer"/> the tier and hides the tier's frames from <paramref name="ring"/> where needed.</summary>
    public void Bind(Balancer balancer, IFrameRing ring)
    {
        if (_tier is null)
            return;
        if (_tier.NeedsSocketFilter && ring is PacketRing packetRing)
            packetRing.AttachFilter(_tier.SocketFilterFd);
        balancer.FastPath = new FastPath(_tier, _events is { } rings && balancer.Index < rings.Length ? rings[balancer.Index] : null);
    }

    private void RemoveStale()
    {
        try
        {
            KernelTier.RemoveStale(NetInterface.GetIndex(_options.Interface));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libbpf: nothing of ours can be attached either.
        }
    }

    public void Dispose()
    {
        _scheduling?.Dispose();
        foreach (var ring in _events ?? [])
            ring.Dispose();
        _tier?.Dispose();
    }

    [LoggerMessage(EventId = 212, Level = LogLevel.Warning, Message = "kernel tier on {Interface}: no event rings, closing connections are found by the sweep: {Reason}")]
    private partial void LogNoEvents(string @interface, string reason);

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "kernel tier on {Interface}: {Driver} ({Why})")]
    private partial void LogChoice(string @interface, string driver, string why);

    [LoggerMessage(EventId = 216, Level = LogLevel.Warning, Message = "kernel tier on {Interface}: native XDP on a virtual interface: veth drops every XDP_TX frame unless its peer runs an XDP program (fulcrum_peer.bpf.o, shipped beside fulcrum), and frames from local senders arrive with partial checksums that native XDP cannot complete; generic XDP (--driver xdp-generic, auto's choice here) has neither limit")]
    private partial void LogNativeOnVirtual(string @interface);

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "kernel tier on {Interface} unavailable, the C# tier forwards everything: {Reason}")]
    private partial void LogUnavailable(string @interface, string reason);

    /// <summary>The <see cref="IKernelFastPath"/> the balancer calls, over the tier's map and the worker's event ring.</summary>
    private sealed class FastPath : IKernelFastPath, IKernelEventHandler
    {
        private readonly KernelTier _tier;
        private readonly KernelEventRing? _events;
        private IKernelEvents? _sink;

        public FastPath(KernelTier tier, KernelEventRing? events)
        {
            _tier = tier;
            _events = events;
        }

        public int DrainEvents(IKernelEvents sink)
        {
            if (_events is null)
                return 0;
            _sink = sink;
            try
            {
                return _events.Consume(this);
            }
            finally
            {
                _sink = null;
            }
        }

        public void OnStateChanged(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, long packets, long bytes, long idleMs, byte state) =>
            _sink?.StateChanged(protocol, client, clientPort, vip, vport, new KernelFlowCounters(packets, bytes, idleMs, (IpvsTcpState)state));

        public void OnScheduled(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, uint destAddr, ushort destPort, long idleMs) =>
            _sink?.Scheduled(protocol, client, clientPort, vip, vport, destAddr, destPort, idleMs);

        public bool Install(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, ulong destMac, IpvsTcpState state, uint destId) =>
            _tier.Install(protocol, client, clientPort, vip, vport, destMac, (byte)state, destId);

        public void MoveConns(uint destId, int active, int inactive) => _tier.MoveConns(destId, active, inactive);

        public bool TryRead(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out KernelFlowCounters counters)
        {
            bool found = _tier.TryRead(protocol, client, clientPort, vip, vport, out long p, out long b, out long idle, out byte state, out uint destId);
            counters = new KernelFlowCounters(p, b, idle, (IpvsTcpState)state, destId);
            return found;
        }

        public bool Remove(byte protocol, uint client, ushort clientPort, uint vip, ushort vport, out KernelFlowCounters counters)
        {
            bool found = _tier.Remove(protocol, client, clientPort, vip, vport, out long p, out long b, out long idle, out byte state, out uint destId);
            counters = new KernelFlowCounters(p, b, idle, (IpvsTcpState)state, destId);
            return found;
        }
    }
}
