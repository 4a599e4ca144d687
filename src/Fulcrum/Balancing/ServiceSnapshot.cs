using System.Numerics;

namespace Fulcrum.Balancing;

/// <summary>
/// An immutable view of the configuration that workers read without locks (read-copy-update): the
/// control plane builds a new one after every change and publishes it with Volatile.Write. Lookup by
/// (protocol, IPv4 VIP, port) is an open-addressing probe over a power-of-two array: no allocation. IPv6
/// services have an index of their own (<see cref="Find6"/>), so the IPv4 probe stays one word per slot.
/// </summary>
public sealed class ServiceSnapshot
{
    public static readonly ServiceSnapshot Empty = new([], DefaultTcpTimeouts(), TcpStateMachine.DefaultUdpTimeoutSeconds * 1000L, 0);

    private readonly ulong[] _keys;
    private readonly VirtualService?[] _slots;
    private readonly int _shift;
    private readonly long[] _tcpTimeoutsMs;
    private readonly UInt128[] _addresses6;
    private readonly uint[] _protocolPorts6;
    private readonly VirtualService?[] _slots6;
    private readonly int _shift6;

    internal ServiceSnapshot(VirtualService[] services, long[] tcpTimeoutsMs, long udpTimeoutMs, long generation)
    {
        Services = services;
        _tcpTimeoutsMs = tcpTimeoutsMs;
        UdpTimeoutMs = udpTimeoutMs;
        Generation = generation;

        // At most half full so probes stay short; key 0 never occurs (the protocol is never 0).
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(8, services.Length * 2));
        _keys = new ulong[size];
        _slots = new VirtualService?[size];
        _shift = 64 - BitOperations.Log2((uint)size);
        foreach (var s in services)
        {
            if (!s.IsIPv4)
                continue;
            ulong key = VirtualService.LookupKey(s.Protocol, s.Address4, s.Port);
            int i = Slot(key);
            while (_keys[i] != 0)
                i = (i + 1) & (size - 1);
            _keys[i] = key;
            _slots[i] = s;
        }

        int count6 = 0;
        foreach (var s in services)
        {
            if (s.IsIPv6)
                count6++;
        }
        int size6 = count6 == 0 ? 1 : (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(8, count6 * 2));
        _addresses6 = new UInt128[size6];
        _protocolPorts6 = new uint[size6];
        _slots6 = new VirtualService?[size6];
        _shift6 = 64 - BitOperations.Log2((uint)size6);
        foreach (var s in services)
        {
            if (!s.IsIPv6)
                continue;
            uint pp = ProtocolPort(s.Protocol, s.Port);
            int i = Slot6(s.Address6, pp);
            while (_protocolPorts6[i] != 0)
                i = (i + 1) & (size6 - 1);
            _addresses6[i] = s.Address6;
            _protocolPorts6[i] = pp;
            _slots6[i] = s;
        }
    }

    /// <summary>Every virtual service, IPv6 and fwmark ones included, in the order they were added.</summary>
    public IReadOnlyList<VirtualService> Services { get; }

    /// <summary>Increases with every published change.</summary>
    public long Generation { get; }

    /// <summary>Idle timeout of a UDP connection.</summary>
    public long UdpTimeoutMs { get; }

    /// <summary>Idle timeout of a TCP connection in a state (the kernel's timeout_table, after --set).</summary>
    public long TcpTimeoutMs(IpvsTcpState state) => _tcpTimeoutsMs[(int)state];

    /// <summary>The address-keyed IPv4 service for (protocol, VIP, port), host order; null when none.</summary>
    public VirtualService? Find(byte protocol, uint address, ushort port)
    {
        ulong key = VirtualService.LookupKey(protocol, address, port);
        var keys = _keys;
        int mask = keys.Length - 1;
        for (int i = Slot(key); ; i = (i + 1) & mask)
        {
            ulong k = keys[i];
            if (k == key)
                return _slots[i];
            if (k == 0)
                return null;
        }
    }

    /// <summary>The address-keyed IPv6 service for (protocol, VIP, port); null when none.</summary>
    public VirtualService? Find6(byte protocol, UInt128 address, ushort port)
    {
        uint pp = ProtocolPort(protocol, port);
        var pps = _protocolPorts6;
        int mask = pps.Length - 1;
        for (int i = Slot6(address, pp); ; i = (i + 1) & mask)
        {
            uint k = pps[i];
            if (k == pp && _addresses6[i] == address)
                return _slots6[i];
            if (k == 0)
                return null;
        }
    }

    // Never 0 for a real service (the protocol is never 0), which marks an empty slot.
    private static uint ProtocolPort(byte protocol, ushort port) => ((uint)protocol << 16) | port;

    // A one-slot table (no IPv6 service) has shift 64, which C# masks to 0: slot 0, an empty one.
    private int Slot6(UInt128 address, uint protocolPort) => _protocolPorts6.Length == 1
        ? 0
        : (int)((((ulong)(address >> 64) * 31 + (ulong)address) ^ protocolPort) * 0x9E3779B97F4A7C15UL >> _shift6);

    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);

    internal static long[] DefaultTcpTimeouts()
    {
        var t = new long[TcpStateMachine.StateCount];
        for (int i = 0; i < t.Length; i++)
            t[i] = TcpStateMachine.DefaultTimeoutsSeconds[i] * 1000L;
        return t;
    }
}
