using System.Net;
using Fulcrum.Balancing;

namespace Fulcrum.Tests.Adm;

/// <summary>
/// An in-memory IPVS table with the kernel's errnos (ip_vs_ctl.c): services and dests in insertion
/// order, counters settable by tests.
/// </summary>
internal sealed class FakeIpvsControl : IIpvsControl
{
    private static readonly HashSet<string> Schedulers = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"];

    private readonly List<Svc> _services = [];
    private readonly Dictionary<ServiceKey, Svc> _byKey = [];
    private IpvsTimeouts _timeouts = new(900, 120, 300);

    public int ConnectionTableSize { get; set; } = 4096;

    public List<ConnectionInfo> Connections { get; } = [];

    public int Calls { get; private set; }

    /// <summary>The last spec -A/-E sent, whether or not it was accepted.</summary>
    public ServiceSpec? LastServiceSpec { get; private set; }

    public int AddService(ServiceSpec service)
    {
        Calls++;
        LastServiceSpec = service;
        if (Find(service.Key) is not null)
            return IpvsErrno.EEXIST;
        if (!Known(service))
            return IpvsErrno.ENOENT;
        var svc = new Svc { Spec = service };
        _services.Add(svc);
        _byKey.Add(service.Key, svc);
        return 0;
    }

    public int EditService(ServiceSpec service)
    {
        Calls++;
        LastServiceSpec = service;
        Svc? s = Find(service.Key);
        if (s is null)
            return IpvsErrno.ESRCH;
        if (!Known(service))
            return IpvsErrno.ENOENT;
        s.Spec = service;
        return 0;
    }

    public int DeleteService(ServiceKey key)
    {
        Calls++;
        Svc? s = Find(key);
        if (s is null)
            return IpvsErrno.ESRCH;
        _services.Remove(s);
        _byKey.Remove(key);
        return 0;
    }

    public int Flush()
    {
        Calls++;
        _services.Clear();
        _byKey.Clear();
        return 0;
    }

    public int AddDest(ServiceKey key, DestSpec dest)
    {
        Calls++;
        Svc? s = Find(key);
        if (s is null)
            return IpvsErrno.ESRCH;
        if (dest.LowerThreshold > dest.UpperThreshold)
            return IpvsErrno.ERANGE;
        if (s.FindDest(dest.Address, dest.Port) is not null)
            return IpvsErrno.EEXIST;
        var dst = new Dst { Spec = dest };
        s.Dests.Add(dst);
        s.Index.Add((dest.Address, dest.Port), dst);
        return 0;
    }

    public int EditDest(ServiceKey key, DestSpec dest)
    {
        Calls++;
        Svc? s = Find(key);
        if (s is null)
            return IpvsErrno.ESRCH;
        if (dest.LowerThreshold > dest.UpperThreshold)
            return IpvsErrno.ERANGE;
        Dst? d = s.FindDest(dest.Address, dest.Port);
        if (d is null)
            return IpvsErrno.ENOENT;
        d.Spec = dest;
        return 0;
    }

    public int DeleteDest(ServiceKey key, IPAddress address, ushort port)
    {
        Calls++;
        Svc? s = Find(key);
        if (s is null)
            return IpvsErrno.ESRCH;
        Dst? d = s.FindDest(address, port);
        if (d is null)
            return IpvsErrno.ENOENT;
        s.Dests.Remove(d);
        s.Index.Remove((address, port));
        return 0;
    }

    public int Zero(ServiceKey? key)
    {
        Calls++;
        if (key is null)
        {
            foreach (Svc s in _services)
                s.ZeroAll();
            return 0;
        }
        Svc? one = Find(key.Value);
        if (one is null)
            return IpvsErrno.ESRCH;
        one.ZeroAll();
        return 0;
    }

    public int SetTimeouts(IpvsTimeouts timeouts)
    {
        Calls++;
        _timeouts = new IpvsTimeouts(
            timeouts.Tcp != 0 ? timeouts.Tcp : _timeouts.Tcp,
            timeouts.TcpFin != 0 ? timeouts.TcpFin : _timeouts.TcpFin,
            timeouts.Udp != 0 ? timeouts.Udp : _timeouts.Udp);
        return 0;
    }

    public IpvsTimeouts GetTimeouts() => _timeouts;

    public IReadOnlyList<ServiceInfo> GetServices()
    {
        var list = new List<ServiceInfo>();
        foreach (Svc s in _services)
            list.Add(s.ToInfo());
        return list;
    }

    public ServiceInfo? GetService(ServiceKey key) => Find(key)?.ToInfo();

    public IReadOnlyList<ConnectionInfo> GetConnections() => Connections;

    /// <summary>Sets a service's counters (what the data plane would have counted).</summary>
    public void SetServiceCounters(ServiceKey key, IpvsStats stats, IpvsRates rates)
    {
        Svc s = Find(key) ?? throw new InvalidOperationException("no such service");
        s.Stats = stats;
        s.Rates = rates;
    }

    /// <summary>Sets a real server's connection counts and counters.</summary>
    public void SetDestCounters(ServiceKey key, IPAddress address, ushort port, uint active, uint inactive, uint persistent = 0,
        IpvsStats stats = default, IpvsRates rates = default)
    {
        Svc s = Find(key) ?? throw new InvalidOperationException("no such service");
        Dst d = s.FindDest(address, port) ?? throw new InvalidOperationException("no such dest");
        d.Active = active;
        d.Inactive = inactive;
        d.Persistent = persistent;
        d.Stats = stats;
        d.Rates = rates;
    }

    private static bool Known(ServiceSpec s) =>
        Schedulers.Contains(s.Scheduler) && (s.PersistenceEngine is null || s.PersistenceEngine == "sip");

    private Svc? Find(ServiceKey key) => _byKey.GetValueOrDefault(key);

    private sealed class Svc
    {
        public required ServiceSpec Spec { get; set; }

        public List<Dst> Dests { get; } = [];

        public Dictionary<(IPAddress, ushort), Dst> Index { get; } = [];

        public IpvsStats Stats { get; set; }

        public IpvsRates Rates { get; set; }

        public Dst? FindDest(IPAddress address, ushort port) => Index.GetValueOrDefault((address, port));

        public void ZeroAll()
        {
            Stats = default;
            Rates = default;
            foreach (Dst d in Dests)
            {
                d.Stats = default;
                d.Rates = default;
            }
        }

        public ServiceInfo ToInfo()
        {
            var dests = new List<DestInfo>();
            foreach (Dst d in Dests)
                dests.Add(new DestInfo(d.Spec, d.Active, d.Inactive, d.Persistent, d.Stats, d.Rates));
            return new ServiceInfo(Spec, dests, Stats, Rates);
        }
    }

    private sealed class Dst
    {
        public required DestSpec Spec { get; set; }

        public uint Active { get; set; }

        public uint Inactive { get; set; }

        public uint Persistent { get; set; }

        public IpvsStats Stats { get; set; }

        public IpvsRates Rates { get; set; }
    }
}
