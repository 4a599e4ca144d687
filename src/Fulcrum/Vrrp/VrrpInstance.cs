namespace Fulcrum.Vrrp;

/// <summary>An instance's state (RFC 5798 §6.4, plus keepalived's FAULT and a final STOP).</summary>
public enum VrrpInstanceState
{
    Init,
    Backup,
    Master,
    Fault,
    Stopped,
}

/// <summary>What a <see cref="VrrpInstance"/> asks of the outside world. Calls come from the thread that drives the instance.</summary>
public interface IVrrpInstanceIo
{
    /// <summary>Sends one advertisement with <paramref name="priority"/> (the instance's, or 0 when it resigns).</summary>
    void SendAdvertisement(VrrpInstance instance, byte priority);

    /// <summary>Adds the virtual addresses to the interface (becoming MASTER).</summary>
    void AddAddresses(VrrpInstance instance);

    /// <summary>Removes the virtual addresses (leaving MASTER, and once at start in case a killed run left them).</summary>
    void RemoveAddresses(VrrpInstance instance);

    /// <summary>Sends <paramref name="rounds"/> rounds of gratuitous ARP, each covering every virtual address.</summary>
    void SendGratuitousArps(VrrpInstance instance, int rounds);

    /// <summary>The state changed (runs notify scripts).</summary>
    void StateChanged(VrrpInstance instance, VrrpInstanceState previous);
}

/// <summary>The settings of one instance, as the state machine needs them.</summary>
/// <param name="Name">The vrrp_instance name.</param>
/// <param name="Format">What the adverts carry (version, VRID, addresses, interval, auth).</param>
/// <param name="Priority">1..255; 255 is the address owner (RFC 5798 §6.1).</param>
/// <param name="PrimaryAddress">This router's own address on the interface as a number (IPv4 in the low 32 bits; IPv6 its link-local): the advert source and the tie-break.</param>
/// <param name="Preempt">False for keepalived's nopreempt.</param>
/// <param name="PreemptDelay">keepalived's preempt_delay: how long a BACKUP keeps accepting a lower-priority master.</param>
/// <param name="GarpMasterDelay">keepalived's garp_master_delay: a second burst of GARPs this long after becoming MASTER (0: none).</param>
/// <param name="GarpMasterRepeat">keepalived's garp_master_repeat: GARP rounds per burst.</param>
/// <param name="GarpMasterRefresh">keepalived's garp_master_refresh: periodic GARPs while MASTER (0: off).</param>
/// <param name="GarpMasterRefreshRepeat">keepalived's garp_master_refresh_repeat: rounds per refresh.</param>
public sealed record VrrpInstanceOptions(
    string Name,
    VrrpMessageFormat Format,
    byte Priority,
    UInt128 PrimaryAddress,
    bool Preempt = true,
    TimeSpan PreemptDelay = default,
    TimeSpan GarpMasterDelay = default,
    int GarpMasterRepeat = 5,
    TimeSpan GarpMasterRefresh = default,
    int GarpMasterRefreshRepeat = 1);

/// <summary>
/// The VRRP state machine of RFC 3768 §6.4 / RFC 5798 §6.4 with keepalived's timer arithmetic, as pure logic:
/// inputs are <see cref="Start"/>, <see cref="Receive"/>, <see cref="Poll"/> (fire due timers),
/// <see cref="SetFault"/> and <see cref="Stop"/>; outputs go to <see cref="IVrrpInstanceIo"/>. Time comes
/// from a <see cref="TimeProvider"/>'s monotonic timestamp. Not thread-safe: one thread drives it.
/// </summary>
public sealed class VrrpInstance
{
    /// <summary>RFC: Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time (keepalived's down_timer_adverts).</summary>
    public const int DownTimerAdverts = 3;

    private readonly IVrrpInstanceIo _io;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private TimeSpan? _masterDownAt;
    private TimeSpan? _advertAt;
    private TimeSpan? _garpAt;
    private TimeSpan? _refreshAt;
    private TimeSpan? _preemptAt;
    private TimeSpan? _lastConflictGarp;

    public VrrpInstance(VrrpInstanceOptions options, IVrrpInstanceIo io, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _io = io;
        _time = time;
        _origin = time.GetTimestamp();
        AdvertInterval = IntervalOf(options.Format);
        MasterAdvertInterval = AdvertInterval;
        EffectivePriority = options.Priority;
    }

    public VrrpInstanceOptions Options { get; private set; }

    public string Name => Options.Name;

    public VrrpInstanceState State { get; private set; } = VrrpInstanceState.Init;

    /// <summary>
    /// The priority in adverts and comparisons: the configured one plus the tracking weights
    /// (<see cref="SetPriorityAdjustment"/>), kept within 1..254 once adjusted, as keepalived does; an
    /// unadjusted owner stays 255.
    /// </summary>
    public byte EffectivePriority { get; private set; }

    /// <summary>The sum of the track_script/track_interface weights now applied.</summary>
    public int PriorityAdjustment { get; private set; }

    /// <summary>This router's configured Advertisement_Interval.</summary>
    public TimeSpan AdvertInterval { get; private set; }

    /// <summary>v3: the interval learned from the current master's adverts (RFC 5798 §6.4.2); v2: ours.</summary>
    public TimeSpan MasterAdvertInterval { get; private set; }

    /// <summary>The current master's primary address (ours when MASTER), host order; 0 when unknown.</summary>
    public UInt128 MasterAddress { get; private set; }

    /// <summary>
    /// Skew_Time in keepalived's integer microseconds (vrrp.h VRRP_TIMER_SKEW): v2 (256−prio)/256 s
    /// (RFC 3768 §6.1); v3 ((256−prio) × Master_Adver_Interval)/256 (RFC 5798 §6.1). An owner counts as 255.
    /// </summary>
    public TimeSpan SkewTime
    {
        get
        {
            long prio = Options.Priority == VrrpPacket.PriorityOwner ? 255 : EffectivePriority;
            long micros = Options.Format.Version == 3
                ? (256 - prio) * ((long)(MasterAdvertInterval.Ticks / TimeSpan.TicksPerMicrosecond) / 10000) * 625 / 16
                : (256 - prio) * 1_000_000 / 256;
            return TimeSpan.FromTicks(micros * TimeSpan.TicksPerMicrosecond);
        }
    }

    /// <summary>Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.</summary>
    public TimeSpan MasterDownInterval => (DownTimerAdverts * MasterAdvertInterval) + SkewTime;

    /// <summary>
    /// How late the last Master_Down expiry was served (timer due → <see cref="Poll"/> noticed it): the
    /// scheduling part of a takeover. Zero when the last takeover was not a timer's (owner start, sync group).
    /// </summary>
    public TimeSpan MasterDownLateness { get; private set; }

    /// <summary>Time until the next timer is due (zero if overdue), or null when none runs.</summary>
    public TimeSpan? DueIn
    {
        get
        {
            TimeSpan? next = Min(Min(_masterDownAt, _advertAt), Min(_garpAt, _refreshAt));
            if (next is null)
                return null;
            TimeSpan left = next.Value - Now;
            return left < TimeSpan.Zero ? TimeSpan.Zero : left;
        }
    }

    private TimeSpan Now => _time.GetElapsedTime(_origin);

    /// <summary>
    /// Leaves INIT (RFC 5798 §6.4.1): the address owner becomes MASTER at once; anyone else BACKUP with
    /// the Master_Down timer running. Any virtual address a killed previous run left behind is removed first.
    /// </summary>
    public void Start()
    {
        if (State != VrrpInstanceState.Init)
            return;
        _io.RemoveAddresses(this);
        if (Options.Priority == VrrpPacket.PriorityOwner)
            BecomeMaster();
        else
            BecomeBackup(0);
    }

    /// <summary>Handles an advertisement that passed <see cref="VrrpCodec.Validate"/> for this instance.</summary>
    public void Receive(in VrrpAdvertisement advert)
    {
        var now = Now;
        switch (State)
        {
            case VrrpInstanceState.Backup:
                ReceiveInBackup(in advert, now);
                break;
            case VrrpInstanceState.Master:
                ReceiveInMaster(in advert, now);
                break;
            default:
                break;
        }
    }

    /// <summary>Fires every timer that is due.</summary>
    public void Poll()
    {
        var now = Now;
        if (State == VrrpInstanceState.Backup && _masterDownAt is { } due && due <= now)
        {
            BecomeMaster(now - due);
            return;
        }

        if (State != VrrpInstanceState.Master)
            return;
        if (_advertAt <= now)
        {
            _io.SendAdvertisement(this, EffectivePriority);
            _advertAt = now + AdvertInterval;
        }

        if (_garpAt <= now)
        {
            // keepalived's vrrp_gratuitous_arp_thread: the second burst, garp_master_delay after takeover.
            _garpAt = null;
            _io.SendGratuitousArps(this, Options.GarpMasterRepeat);
        }

        if (_refreshAt <= now)
        {
            _refreshAt = now + Options.GarpMasterRefresh;
            _io.SendGratuitousArps(this, Options.GarpMasterRefreshRepeat);
        }
    }

    /// <summary>
    /// Enters FAULT (a tracked interface or script failed) or leaves it for BACKUP. A MASTER entering FAULT
    /// resigns with a priority-0 advert so the backup takes over without waiting for Master_Down.
    /// </summary>
    public void SetFault(bool fault)
    {
        if (fault && State is VrrpInstanceState.Backup or VrrpInstanceState.Master)
        {
            var previous = State;
            if (previous == VrrpInstanceState.Master)
                Resign();
            ClearTimers();
            State = VrrpInstanceState.Fault;
            _io.StateChanged(this, previous);
        }
        else if (!fault && State == VrrpInstanceState.Fault)
        {
            BecomeBackup(0);
        }
    }

    /// <summary>
    /// Applies the tracking weights. A MASTER advertises its new priority at once, so a backup that now
    /// outranks it (and preempts) starts its takeover without waiting for the next advert.
    /// </summary>
    public void SetPriorityAdjustment(int adjustment)
    {
        if (adjustment == PriorityAdjustment)
            return;
        PriorityAdjustment = adjustment;
        EffectivePriority = adjustment == 0 ? Options.Priority : (byte)Math.Clamp(Options.Priority + adjustment, 1, 254);
        if (State == VrrpInstanceState.Master)
        {
            _io.SendAdvertisement(this, EffectivePriority);
            _advertAt = Now + AdvertInterval;
        }
    }

    /// <summary>
    /// Another host claims one of our addresses (an ARP from a foreign MAC). A MASTER re-asserts: an advert,
    /// so a VRRP peer that thinks it is master steps down, and a round of GARPs so hosts learn our MAC again;
    /// at most once per advert interval. Returns true when it re-asserted.
    /// </summary>
    public bool ResolveAddressConflict()
    {
        var now = Now;
        if (State != VrrpInstanceState.Master || (_lastConflictGarp is { } last && now - last < AdvertInterval))
            return false;
        _lastConflictGarp = now;
        _io.SendAdvertisement(this, EffectivePriority);
        _io.SendGratuitousArps(this, 1);
        _advertAt = now + AdvertInterval;
        return true;
    }

    /// <summary>
    /// A reload changed this instance's settings (same virtual router: interface, VRID and version are
    /// unchanged). The state is kept: a MASTER stays MASTER and keeps its addresses, so a reload never moves
    /// a VIP the new configuration still gives it (issue 3). A MASTER whose priority, addresses, auth or
    /// interval changed advertises at once, so peers see the new values (and a backup that now outranks it
    /// and preempts starts its Master_Down) without waiting an interval. Address changes on the interface
    /// are the caller's (<see cref="IVrrpInstanceIo"/> owner): it knows which addresses were added.
    /// </summary>
    public void Reconfigure(VrrpInstanceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var old = Options;
        Options = options;
        AdvertInterval = IntervalOf(options.Format);
        EffectivePriority = PriorityAdjustment == 0 ? options.Priority : (byte)Math.Clamp(options.Priority + PriorityAdjustment, 1, 254);
        var now = Now;
        switch (State)
        {
            case VrrpInstanceState.Master:
                MasterAddress = options.PrimaryAddress;
                MasterAdvertInterval = AdvertInterval;
                bool advertChanged = old.Priority != options.Priority
                    || old.PrimaryAddress != options.PrimaryAddress
                    || old.Format.WireInterval != options.Format.WireInterval
                    || !old.Format.Addresses.SequenceEqual(options.Format.Addresses)
                    || !(old.Format.Ipv6Addresses ?? []).SequenceEqual(options.Format.Ipv6Addresses ?? [])
                    || !SamePassword(old.Format.Password, options.Format.Password);
                if (advertChanged)
                {
                    _io.SendAdvertisement(this, EffectivePriority);
                    _advertAt = now + AdvertInterval;
                }
                else if (_advertAt > now + AdvertInterval)
                {
                    _advertAt = now + AdvertInterval;
                }

                if (old.GarpMasterRefresh != options.GarpMasterRefresh)
                    _refreshAt = options.GarpMasterRefresh > TimeSpan.Zero ? now + options.GarpMasterRefresh : null;
                break;
            case VrrpInstanceState.Backup:
                // v2: every router of a virtual router shares one interval (RFC 3768 §7.1 drops adverts
                // carrying another), so Master_Down follows ours; v3 learns the master's from its adverts.
                if (options.Format.Version == 2)
                    MasterAdvertInterval = AdvertInterval;
                if (!options.Preempt || options.PreemptDelay == TimeSpan.Zero)
                    _preemptAt = null;
                break;
            default:
                break;
        }
    }

    /// <summary>Sync group: follow a member that became MASTER.</summary>
    public void ForceMaster()
    {
        if (State == VrrpInstanceState.Backup)
            BecomeMaster();
    }

    /// <summary>Sync group: follow a member that left MASTER.</summary>
    public void ForceBackup()
    {
        if (State == VrrpInstanceState.Master)
            BecomeBackup(MasterAddress);
    }

    /// <summary>Clean shutdown: a MASTER sends priority 0 (RFC 5798 §6.4.3) and removes its addresses.</summary>
    public void Stop()
    {
        if (State == VrrpInstanceState.Stopped)
            return;
        var previous = State;
        if (previous == VrrpInstanceState.Master)
            Resign();
        ClearTimers();
        State = VrrpInstanceState.Stopped;
        _io.StateChanged(this, previous);
    }

    private void ReceiveInBackup(in VrrpAdvertisement advert, TimeSpan now)
    {
        if (advert.Priority == VrrpPacket.PriorityStop)
        {
            // RFC 5798 §6.4.2: the master resigned; take over after Skew_Time only.
            _masterDownAt = now + SkewTime;
            return;
        }

        bool lower = advert.Priority < EffectivePriority;
        if (lower && Options.Preempt && Options.PreemptDelay > TimeSpan.Zero)
        {
            // keepalived's preempt_delay: keep accepting a lower-priority master until the delay, started by
            // its first advert, has passed; only then let Master_Down expire.
            _preemptAt ??= now + Options.PreemptDelay;
            if (now < _preemptAt)
                lower = false;
        }
        else if (!lower)
        {
            _preemptAt = null;
        }

        if (!Options.Preempt || !lower)
        {
            if (Options.Format.Version == 3)
                MasterAdvertInterval = advert.AdvertInterval;
            MasterAddress = advert.Source;
            _masterDownAt = now + MasterDownInterval;
        }

        // Otherwise (preempt and a lower priority): discard, so Master_Down expires and we take over.
    }

    private void ReceiveInMaster(in VrrpAdvertisement advert, TimeSpan now)
    {
        if (advert.Priority == VrrpPacket.PriorityStop)
        {
            // RFC 5798 §6.4.3: another router resigned; advertise at once so backups keep us.
            _io.SendAdvertisement(this, EffectivePriority);
            _advertAt = now + AdvertInterval;
            return;
        }

        if (advert.Priority > EffectivePriority
            || (advert.Priority == EffectivePriority && advert.Source > Options.PrimaryAddress))
        {
            if (Options.Format.Version == 3)
                MasterAdvertInterval = advert.AdvertInterval;
            BecomeBackup(advert.Source);
            return;
        }

        // Another MASTER with a lower priority (or an equal one and a lower address): a split brain that is
        // healing. Advertise now so it steps down at once, and re-announce our addresses, since hosts may have
        // learned its MAC meanwhile (stale ARP caches are the classic keepalived complaint). At most once
        // per advert interval, so a misbehaving peer cannot make us flood.
        _io.SendAdvertisement(this, EffectivePriority);
        _advertAt = now + AdvertInterval;
        if (_lastConflictGarp is null || now - _lastConflictGarp.Value >= AdvertInterval)
        {
            _lastConflictGarp = now;
            _io.SendGratuitousArps(this, 1);
        }
    }

    private void BecomeMaster(TimeSpan lateness = default)
    {
        MasterDownLateness = lateness;
        var previous = State;
        var now = Now;
        State = VrrpInstanceState.Master;
        MasterAddress = Options.PrimaryAddress;
        MasterAdvertInterval = AdvertInterval;
        _masterDownAt = null;
        _preemptAt = null;

        // RFC 5798 §6.4.1 order: advertise, then announce the addresses; keepalived adds them first so the
        // kernel answers ARP for them by the time hosts react to the GARPs.
        _io.AddAddresses(this);
        _io.SendAdvertisement(this, EffectivePriority);
        _io.SendGratuitousArps(this, Options.GarpMasterRepeat);
        _advertAt = now + AdvertInterval;
        _garpAt = Options.GarpMasterDelay > TimeSpan.Zero ? now + Options.GarpMasterDelay : null;

        // Refreshes start after the delayed burst (reference §6: first at garp_delay + refresh).
        _refreshAt = Options.GarpMasterRefresh > TimeSpan.Zero ? now + Options.GarpMasterDelay + Options.GarpMasterRefresh : null;
        _io.StateChanged(this, previous);
    }

    private void BecomeBackup(UInt128 master)
    {
        var previous = State;
        State = VrrpInstanceState.Backup;
        MasterAddress = master;
        _advertAt = null;
        _garpAt = null;
        _refreshAt = null;
        _preemptAt = null;
        if (previous == VrrpInstanceState.Master)
            _io.RemoveAddresses(this);
        _masterDownAt = Now + MasterDownInterval;
        _io.StateChanged(this, previous);
    }

    private void Resign()
    {
        _io.SendAdvertisement(this, VrrpPacket.PriorityStop);
        _io.RemoveAddresses(this);
    }

    private void ClearTimers()
    {
        _masterDownAt = null;
        _advertAt = null;
        _garpAt = null;
        _refreshAt = null;
        _preemptAt = null;
    }

    private static TimeSpan IntervalOf(VrrpMessageFormat format) => format.Version == 2
        ? TimeSpan.FromSeconds(format.WireInterval)
        : TimeSpan.FromMilliseconds(format.WireInterval * 10);

    private static bool SamePassword(byte[]? a, byte[]? b) =>
        a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    private static TimeSpan? Min(TimeSpan? a, TimeSpan? b) =>
        a is null ? b : b is null ? a : (a < b ? a : b);
}
