using System.Net;
using Fulcrum.Balancing;

namespace Fulcrum.Adm;

/// <summary>
/// Finishes graceful drains (`fulcrum adm -d ... --drain SECONDS`, our extension) after the command
/// has returned: the real server is already at weight 0; it is deleted once it holds no connections
/// or when the deadline passes.
/// </summary>
public interface IDrainScheduler
{
    /// <summary>
    /// Deletes the real server <paramref name="address"/>:<paramref name="port"/> of
    /// <paramref name="service"/> when its ActiveConns + InactiveConns reach 0, or after
    /// <paramref name="timeout"/>. A second call for the same real server replaces the deadline.
    /// </summary>
    void Drain(ServiceKey service, IPAddress address, ushort port, TimeSpan timeout);
}

/// <summary>How a drain ended.</summary>
public enum DrainOutcome
{
    /// <summary>Its last connection ended; the real server was deleted.</summary>
    Drained,

    /// <summary>The deadline passed with connections left; the real server was deleted anyway.</summary>
    DeadlinePassed,

    /// <summary>Someone gave it a weight again (e.g. `-e -w 5`): it stays, the drain is dropped.</summary>
    Cancelled,

    /// <summary>The real server or its service was deleted by someone else first.</summary>
    Gone,
}

/// <summary>One finished drain, with the connections it still had when it ended.</summary>
public readonly record struct DrainResult(ServiceKey Service, IPAddress Address, ushort Port, DrainOutcome Outcome, uint Connections);

/// <summary>
/// <see cref="IDrainScheduler"/> over <see cref="IIpvsControl"/>: polls the pending drains every
/// <see cref="PollInterval"/> on a <see cref="TimeProvider"/> timer, which runs only while a drain
/// is pending. Control path only: one GetService per pending drain and tick.
/// </summary>
public sealed class DrainScheduler : IDrainScheduler, IDisposable
{
    /// <summary>How often pending drains look at their connection counts.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly IIpvsControl _control;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<(ServiceKey Service, IPAddress Address, ushort Port), long> _deadlines = [];
    private ITimer? _timer;
    private bool _disposed;

    public DrainScheduler(IIpvsControl control, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(time);
        _control = control;
        _time = time;
    }

    /// <summary>Raised after a drain ended (outside the scheduler's lock), for logging.</summary>
    public event Action<DrainResult>? Completed;

    /// <summary>Drains not finished yet.</summary>
    public int Pending
    {
        get
        {
            lock (_gate)
                return _deadlines.Count;
        }
    }

    public void Drain(ServiceKey service, IPAddress address, ushort port, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(address);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
            _deadlines[(service, address, port)] = deadline;
            _timer ??= _time.CreateTimer(static s => ((DrainScheduler)s!).Poll(), this, PollInterval, PollInterval);
        }
    }

    /// <summary>One look at every pending drain; the timer calls it, tests may too.</summary>
    public void Poll()
    {
        List<DrainResult>? done = null;
        lock (_gate)
        {
            if (_disposed || _deadlines.Count == 0)
                return;
            long now = _time.GetTimestamp();
            foreach (var ((service, address, port), deadline) in _deadlines)
            {
                DrainOutcome? outcome = Step(service, address, port, deadline, now, out uint connections);
                if (outcome is { } o)
                    (done ??= []).Add(new DrainResult(service, address, port, o, connections));
            }

            if (done is not null)
            {
                foreach (DrainResult r in done)
                    _deadlines.Remove((r.Service, r.Address, r.Port));
            }

            if (_deadlines.Count == 0)
            {
                _timer?.Dispose();
                _timer = null;
            }
        }

        if (done is not null)
        {
            foreach (DrainResult r in done)
                Completed?.Invoke(r);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _timer?.Dispose();
            _timer = null;
            _deadlines.Clear();
        }
    }

    /// <summary>Null while the drain goes on; else how it ended (the real server deleted when it should be).</summary>
    private DrainOutcome? Step(ServiceKey service, IPAddress address, ushort port, long deadline, long now, out uint connections)
    {
        connections = 0;
        ServiceInfo? info = _control.GetService(service);
        if (info is null)
            return DrainOutcome.Gone;
        DestInfo? dest = null;
        foreach (DestInfo d in info.Dests)
        {
            if (d.Spec.Port == port && d.Spec.Address.Equals(address))
            {
                dest = d;
                break;
            }
        }
        if (dest is null)
            return DrainOutcome.Gone;
        if (dest.Spec.Weight != 0)
            return DrainOutcome.Cancelled;

        // ip_vs_dest's activeconns + inactconns: what -ln shows. Persistence templates are not
        // counted, as they carry no traffic of their own.
        connections = dest.ActiveConns + dest.InactiveConns;
        DrainOutcome outcome;
        if (connections == 0)
            outcome = DrainOutcome.Drained;
        else if (now >= deadline)
            outcome = DrainOutcome.DeadlinePassed;
        else
            return null;

        int err = _control.DeleteDest(service, address, port);
        return err == IpvsErrno.ENOENT || err == IpvsErrno.ESRCH ? DrainOutcome.Gone : outcome;
    }
}
