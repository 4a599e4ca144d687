namespace Fulcrum.Balancing;

/// <summary>
/// The sysctls of IPVS's defense strategies (Documentation/networking/ipvs-sysctl.rst), as `fulcrum run`
/// takes them. Modes: 0 off, 1 automatic (on while the table is short of room), 2 on now but back to 1 once
/// room returns (what the kernel shows while an automatic strategy is active), 3 always on.
/// </summary>
public sealed record DefenseSettings
{
    /// <summary>
    /// amemthresh: the defense activates when fewer free connection-table entries than this remain. The
    /// kernel counts free memory pages (default 1024); Fulcrum's table has a hard bound, so free entries
    /// are the analogue. 0 = an eighth of the bound.
    /// </summary>
    public int AmemThresh { get; init; }

    /// <summary>drop_entry: randomly drop not-yet-established entries (SYN_RECV, SYNACK) once a second.</summary>
    public int DropEntry { get; init; }

    /// <summary>drop_packet: drop 1/rate of the packets that would create a connection.</summary>
    public int DropPacket { get; init; }

    /// <summary>secure_tcp: use the kernel's tcp_states_dos state table.</summary>
    public int SecureTcp { get; init; }

    /// <summary>am_droprate: drop_packet's rate in mode 3 (default 10: one packet in ten).</summary>
    public int AmDropRate { get; init; } = 10;

    /// <summary>EINVAL-style validation of the values; null when they are valid.</summary>
    public string? Validate()
    {
        if (DropEntry is < 0 or > 3 || DropPacket is < 0 or > 3 || SecureTcp is < 0 or > 3)
            return "drop_entry, drop_packet and secure_tcp take 0 (off), 1 (auto), 2 (on, auto) or 3 (always)";
        if (AmemThresh < 0)
            return "amemthresh must not be negative";
        if (AmDropRate < 1)
            return "am_droprate must be at least 1";
        return null;
    }
}

/// <summary>
/// ip_vs_ctl.c's update_defense_level, run once a second by the control plane (defense_work): compares the
/// free room in the connection table with amemthresh and decides what the workers do. Workers read the
/// decisions (<see cref="DropEntryActive"/>, <see cref="DropRate"/>, <see cref="SecureTcpActive"/>) without
/// locks; each keeps its own drop counter and runs its own random entry drop on its own table.
/// </summary>
public sealed class IpvsDefense
{
    private readonly Lock _gate = new();
    private readonly int _amemThresh;
    private readonly int _amDropRate;
    private int _dropEntry;
    private int _dropPacket;
    private int _secureTcp;
    private bool _dropEntryActive;
    private int _dropRate;
    private bool _secureTcpActive;
    private long _available;

    /// <param name="settings">The sysctl values.</param>
    /// <param name="capacity">The table's hard bound (all workers): the default amemthresh is an eighth of it.</param>
    public IpvsDefense(DefenseSettings settings, long capacity)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var error = settings.Validate();
        if (error is not null)
            throw new ArgumentException(error, nameof(settings));
        Capacity = capacity;
        _amemThresh = settings.AmemThresh > 0 ? settings.AmemThresh : (int)Math.Min(int.MaxValue, Math.Max(1, capacity / 8));
        _amDropRate = settings.AmDropRate;
        _dropEntry = settings.DropEntry;
        _dropPacket = settings.DropPacket;
        _secureTcp = settings.SecureTcp;
        Update(capacity);
    }

    /// <summary>The table's bound the defense was sized for.</summary>
    public long Capacity { get; }

    public int AmemThresh => _amemThresh;

    /// <summary>The drop_entry sysctl as it reads now (1 and 2 swap as the table fills and empties).</summary>
    public int DropEntryMode => Volatile.Read(ref _dropEntry);

    public int DropPacketMode => Volatile.Read(ref _dropPacket);

    public int SecureTcpMode => Volatile.Read(ref _secureTcp);

    /// <summary>ipvs->dropentry: workers drop random embryonic entries once a second.</summary>
    public bool DropEntryActive => Volatile.Read(ref _dropEntryActive);

    /// <summary>ipvs->drop_rate: drop one connection-creating packet in this many; 0 = none.</summary>
    public int DropRate => Volatile.Read(ref _dropRate);

    /// <summary>The tcp_states_dos table is in use.</summary>
    public bool SecureTcpActive => Volatile.Read(ref _secureTcpActive);

    /// <summary>Free entries at the last update.</summary>
    public long Available => Volatile.Read(ref _available);

    /// <summary>
    /// update_defense_level with <paramref name="available"/> free entries in place of free memory.
    /// </summary>
    public void Update(long available)
    {
        lock (_gate)
        {
            Volatile.Write(ref _available, available);
            long amem = _amemThresh;
            bool nomem = available < amem;

            switch (_dropEntry)
            {
                case 0:
                    SetDropEntry(false);
                    break;
                case 1:
                    SetDropEntry(nomem);
                    if (nomem)
                        Volatile.Write(ref _dropEntry, 2);
                    break;
                case 2:
                    SetDropEntry(nomem);
                    if (!nomem)
                        Volatile.Write(ref _dropEntry, 1);
                    break;
                default:
                    SetDropEntry(true);
                    break;
            }

            // amemthresh / (amemthresh - availmem): 1 (every packet) when no room is left at all.
            int rate = nomem ? (int)(amem / Math.Max(1, amem - Math.Max(0, available))) : 0;
            switch (_dropPacket)
            {
                case 0:
                    Volatile.Write(ref _dropRate, 0);
                    break;
                case 1:
                    Volatile.Write(ref _dropRate, rate);
                    if (nomem)
                        Volatile.Write(ref _dropPacket, 2);
                    break;
                case 2:
                    Volatile.Write(ref _dropRate, rate);
                    if (!nomem)
                        Volatile.Write(ref _dropPacket, 1);
                    break;
                default:
                    Volatile.Write(ref _dropRate, _amDropRate);
                    break;
            }

            // The kernel switches to tcp_states_dos whenever the sysctl ends up above 1.
            int secure = _secureTcp;
            if (secure == 1 && nomem)
                secure = 2;
            else if (secure == 2 && !nomem)
                secure = 1;
            Volatile.Write(ref _secureTcp, secure);
            bool on = secure > 1;
            Volatile.Write(ref _secureTcpActive, on);
        }
    }

    private void SetDropEntry(bool on) => Volatile.Write(ref _dropEntryActive, on);
}
