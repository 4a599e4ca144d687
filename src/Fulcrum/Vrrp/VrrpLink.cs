using Fulcrum.Packets;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Linux;
using Microsoft.Extensions.Logging;
using ConfigInstance = Fulcrum.Config.VrrpInstance;

namespace Fulcrum.Vrrp;

/// <summary>
/// The Linux side of one instance: its raw VRRP socket, gratuitous ARPs on an AF_PACKET socket, the
/// virtual addresses on the interface and the notify scripts. Created and used on the VRRP thread, so
/// sockets and child processes (scripts) all belong to that thread's network namespace.
/// </summary>
/// <remarks>
/// Addresses are changed with rtnetlink (<see cref="InterfaceAddresses"/>), not iproute2's `ip addr`: a fork
/// and exec from this process measured 50–300 ms per takeover on the loaded 2-core CI machine, against the
/// issue's 5 ms budget for our own takeover work. The GARP sockets and MACs of every VIP device are opened
/// before they are needed, for the same reason.
/// </remarks>
internal sealed class VrrpLink : IVrrpInstanceIo, IDisposable
{
    private readonly ILogger _logger;
    private readonly Action<VrrpInstance, VrrpInstanceState> _changed;
    private readonly Dictionary<string, Device> _devices = new(StringComparer.Ordinal);
    private readonly InterfaceAddresses _addresses;
    private readonly byte[] _sendBuffer = new byte[VrrpCodec.MaxPacketLength];
    private readonly byte[] _arpFrame = new byte[GratuitousArp.FrameLength];
    private readonly byte[] _naFrame = new byte[UnsolicitedNeighborAdvertisement.FrameLength];
    private readonly Socket _claimListener;
    private readonly ulong _mac;
    private readonly string _interface;
    private readonly int _interfaceIndex;
    private ConfigInstance _config;
    private readonly bool _ipv6;
    private VrrpSocket? _socket4;
    private VrrpSocket6? _socket6;
    private UInt128[] _peers;
    private UInt128 _detectedPrimary;
    private TakeoverClock _takeover;

    public VrrpLink(ConfigInstance config, ILogger logger, Action<VrrpInstance, VrrpInstanceState> changed, TimeProvider time)
    {
        _config = config;
        _logger = logger;
        _changed = changed;
        _interface = config.Interface ?? throw new InvalidOperationException($"({config.Name}) no interface configured");
        _ipv6 = config.IsIpv6;
        _peers = PeersOf(config);
        var options = OptionsFor(config);
        _mac = NetInterface.GetMac(_interface);
        _interfaceIndex = NetInterface.GetIndex(_interface);
        OpenSocket(options.PrimaryAddress, multicast: _peers.Length == 0);
        try
        {
            _claimListener = _ipv6 ? PacketListener.OpenNeighborAdvertisements(_interface) : PacketListener.Open(_interface, Packets.EtherTypes.Arp);
            _addresses = new InterfaceAddresses();
        }
        catch
        {
            _socket4?.Dispose();
            _socket6?.Dispose();
            _claimListener?.Dispose();
            throw;
        }

        Instance = new VrrpInstance(options, this, time);
        OpenDevices(config);
    }

    public VrrpInstance Instance { get; }

    public ConfigInstance Config => _config;

    public Socket Socket => _socket6?.Socket ?? _socket4!.Socket;

    /// <summary>
    /// Where another host's claim on our addresses shows: ARP frames on an IPv4 instance's interface, Neighbor
    /// Advertisements on an IPv6 one's.
    /// </summary>
    public Socket ClaimListener => _claimListener;

    /// <summary>
    /// Reads every waiting ARP frame or NA; a foreign claim on a virtual address makes a MASTER re-assert with an
    /// advert and gratuitous ARPs or unsolicited NAs (stale neighbour caches after a split brain: issue 3).
    /// </summary>
    public void DrainClaims(Span<byte> buffer)
    {
        while (_claimListener.Available > 0)
        {
            int n;
            try
            {
                n = _claimListener.Receive(buffer, SocketFlags.None);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                return;
            }

            IPAddress? claimed = null;
            ulong claimant = 0;
            if (_ipv6 && Instance.Options.Format.Ipv6Addresses is { } addresses6
                && UnsolicitedNeighborAdvertisement.IsConflict(buffer[..n], addresses6, _mac, out var address6, out claimant))
            {
                claimed = VrrpSocket6.ToAddress(address6);
            }
            else if (!_ipv6 && GratuitousArp.IsConflict(buffer[..n], Instance.Options.Format.Addresses, _mac, out uint address))
            {
                claimed = new IPAddress(BinaryPrimitives.ReverseEndianness(address));
                claimant = EthernetFrame.ReadMac(buffer[6..12]);
            }

            if (claimed is not null && Instance.ResolveAddressConflict())
            {
                _logger.LogWarning(
                    "({Instance}) {Address} claimed by {Mac}: re-asserting with an advert and {Announcement}",
                    Name,
                    claimed,
                    NetInterface.FormatMac(claimant),
                    _ipv6 ? "unsolicited neighbor advertisement" : "gratuitous ARP");
            }
        }
    }

    /// <summary>Reads every waiting packet and hands the valid ones for this instance to the state machine.</summary>
    public void Drain(Span<byte> buffer)
    {
        while (true)
        {
            VrrpReceiveResult result;
            VrrpAdvertisement advert;
            if (_socket6 is { } s6)
            {
                int n = s6.TryReceive(buffer, out var source, out var destination);
                if (n <= 0)
                    return;
                result = VrrpCodec.ValidateIpv6(buffer[..n], Instance.Options.Format, source, destination, out advert);
            }
            else
            {
                int n = _socket4!.TryReceive(buffer);
                if (n <= 0)
                    return;
                result = VrrpCodec.Validate(buffer[..n], Instance.Options.Format, out advert);
            }

            if (result == VrrpReceiveResult.Ok)
            {
                if (advert.Source != Instance.Options.PrimaryAddress)
                    Instance.Receive(in advert);
            }
            else if (result != VrrpReceiveResult.OtherRouter)
            {
                _logger.LogDebug("({Instance}) discarded a VRRP packet: {Reason}", Name, result);
            }
        }
    }

    private string Name => _config.Name;

    /// <summary>
    /// Applies a reload's new declaration of the same virtual router (<see cref="VrrpReload.SameVirtualRouter"/>)
    /// without a state change. A MASTER adds the addresses that are new (and announces them with gratuitous
    /// ARPs) and removes the ones that are gone; addresses in both are not touched, so they never flap.
    /// </summary>
    public void Reconfigure(ConfigInstance next)
    {
        var previous = _config;
        var removed = VrrpReload.Except(previous.VirtualIpAddresses, next.VirtualIpAddresses);
        var added = VrrpReload.Except(next.VirtualIpAddresses, previous.VirtualIpAddresses);
        var peers = PeersOf(next);
        var options = OptionsFor(next);
        if ((peers.Length == 0) != (_peers.Length == 0) || options.PrimaryAddress != Instance.Options.PrimaryAddress)
        {
            // Multicast to unicast or back (a socket joined to the group only when it needs to be), or a new source.
            var old4 = _socket4;
            var old6 = _socket6;
            OpenSocket(options.PrimaryAddress, multicast: peers.Length == 0);
            old4?.Dispose();
            old6?.Dispose();
        }

        _peers = peers;
        _config = next;
        OpenDevices(next);
        bool master = Instance.State == VrrpInstanceState.Master;
        if (master)
        {
            foreach (var vip in removed)
                RemoveAddress(vip);
            foreach (var vip in added)
                AddAddress(vip);
        }

        Instance.Reconfigure(options);
        if (master && added.Count > 0)
        {
            for (int r = 0; r < Instance.Options.GarpMasterRepeat; r++)
            {
                foreach (var vip in added)
                    SendGratuitousArp(vip);
            }
        }
    }

    public void SendAdvertisement(VrrpInstance instance, byte priority)
    {
        try
        {
            if (_peers.Length == 0)
            {
                Send(priority, _ipv6 ? VrrpCodec.MulticastGroup6 : VrrpCodec.MulticastGroup);
            }
            else
            {
                foreach (var peer in _peers)
                    Send(priority, peer);
            }

            if (_takeover.Start != 0 && _takeover.Advert == 0)
                _takeover.Advert = Stopwatch.GetTimestamp();
        }
        catch (SocketException e)
        {
            _logger.LogWarning("({Instance}) sending an advertisement failed: {Error}", Name, e.Message);
        }
    }

    public void AddAddresses(VrrpInstance instance)
    {
        // BecomeMaster's first call: the takeover's own work starts here.
        if (instance.State == VrrpInstanceState.Master)
            _takeover = new TakeoverClock(Stopwatch.GetTimestamp());
        foreach (var vip in _config.VirtualIpAddresses)
            AddAddress(vip);
        if (_takeover.Start != 0)
            _takeover.VipsAdded = Stopwatch.GetTimestamp();
    }

    public void RemoveAddresses(VrrpInstance instance)
    {
        foreach (var vip in _config.VirtualIpAddresses)
            RemoveAddress(vip);
    }

    private void AddAddress(Fulcrum.Config.VirtualIpAddress vip)
    {
        try
        {
            var device = DeviceFor(DeviceOf(vip));
            // keepalived adds IPv6 VIPs with IFA_F_NODAD: the address moves between routers, and a tentative
            // address would neither answer Neighbor Solicitations nor source packets until DAD ends.
            var options = new InterfaceAddressOptions(vip.Broadcast, vip.Scope, vip.Label, vip.NoPrefixRoute, NoDad: true);
            _addresses.Add(device.Index, vip.Address, vip.PrefixLength, options);
        }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            _logger.LogWarning("({Instance}) adding {Address}/{Prefix} failed: {Error}", Name, vip.Address, vip.PrefixLength, e.Message);
        }
    }

    private void RemoveAddress(Fulcrum.Config.VirtualIpAddress vip)
    {
        try
        {
            _addresses.Remove(DeviceFor(DeviceOf(vip)).Index, vip.Address, vip.PrefixLength);
        }
        catch (IOException e)
        {
            _logger.LogWarning("({Instance}) removing {Address}/{Prefix} failed: {Error}", Name, vip.Address, vip.PrefixLength, e.Message);
        }
    }

    public void SendGratuitousArps(VrrpInstance instance, int rounds)
    {
        for (int r = 0; r < rounds; r++)
        {
            foreach (var vip in _config.VirtualIpAddresses)
            {
                SendGratuitousArp(vip);
                if (_takeover.Start != 0 && _takeover.FirstGarp == 0)
                    _takeover.FirstGarp = Stopwatch.GetTimestamp();
            }
        }

        if (_takeover.Start != 0 && _takeover.GarpsDone == 0)
        {
            _takeover.GarpsDone = Stopwatch.GetTimestamp();
            _takeover.Rounds = rounds;
        }
    }

    private void SendGratuitousArp(Fulcrum.Config.VirtualIpAddress vip)
    {
        try
        {
            var device = DeviceFor(DeviceOf(vip));
            if (vip.Address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                int n = UnsolicitedNeighborAdvertisement.Write(_naFrame, device.Mac, VrrpSocket6.ToNumber(vip.Address));
                device.Socket.Send(_naFrame.AsSpan(0, n));
            }
            else
            {
                GratuitousArp.Write(_arpFrame, device.Mac, ToHost(vip.Address));
                device.Socket.Send(_arpFrame);
            }
        }
        catch (IOException e)
        {
            _logger.LogWarning("({Instance}) gratuitous ARP for {Address} failed: {Error}", Name, vip.Address, e.Message);
        }
    }

    /// <summary>State changes of this instance so far (written and read on the VRRP thread).</summary>
    public long Transitions { get; private set; }

    public void StateChanged(VrrpInstance instance, VrrpInstanceState previous)
    {
        Transitions++;
        if (_takeover.Start != 0)
        {
            // Issue 3's budget: our own takeover work under 5 ms (timer expiry to VIPs added and GARPs sent).
            var t = _takeover;
            _takeover = default;
            VrrpLog.Takeover(
                _logger,
                Name,
                instance.MasterDownLateness.TotalMilliseconds,
                Stopwatch.GetElapsedTime(t.Start, t.VipsAdded).TotalMilliseconds,
                t.Advert == 0 ? double.NaN : Stopwatch.GetElapsedTime(t.Start, t.Advert).TotalMilliseconds,
                t.FirstGarp == 0 ? double.NaN : Stopwatch.GetElapsedTime(t.Start, t.FirstGarp).TotalMilliseconds,
                t.Rounds,
                t.GarpsDone == 0 ? double.NaN : Stopwatch.GetElapsedTime(t.Start, t.GarpsDone).TotalMilliseconds);
        }

        _logger.LogInformation("({Instance}) Entering {State} STATE (was {Previous})", Name, instance.State.ToString().ToUpperInvariant(), previous);
        var notify = _config.Notify;
        string? script = instance.State switch
        {
            VrrpInstanceState.Master => notify.Master,
            VrrpInstanceState.Backup => notify.Backup,
            VrrpInstanceState.Fault => notify.Fault,
            VrrpInstanceState.Stopped => notify.Stop,
            _ => null,
        };
        if (script is not null)
            RunScript(script);
        if (notify.Any is not null && instance.State != VrrpInstanceState.Init)
        {
            // keepalived's `notify` gets: INSTANCE NAME STATE PRIORITY (vrrp_notify.c).
            string state = instance.State == VrrpInstanceState.Stopped ? "STOP" : instance.State.ToString().ToUpperInvariant();
            RunScript($"{notify.Any} INSTANCE \"{Name}\" {state} {instance.EffectivePriority.ToString(CultureInfo.InvariantCulture)}");
        }

        _changed(instance, previous);
    }

    public void Dispose()
    {
        _socket4?.Dispose();
        _socket6?.Dispose();
        _claimListener.Dispose();
        _addresses.Dispose();
        foreach (var d in _devices.Values)
            d.Socket.Dispose();
    }

    /// <summary>Stopwatch timestamps of one takeover's steps (0: not yet).</summary>
    private record struct TakeoverClock(long Start)
    {
        public long VipsAdded;
        public long Advert;
        public long FirstGarp;
        public long GarpsDone;
        public int Rounds;
    }

    internal static uint ToHost(IPAddress address)
    {
        Span<byte> b = stackalloc byte[4];
        if (address.AddressFamily != AddressFamily.InterNetwork || !address.TryWriteBytes(b, out _))
            throw new NotSupportedException($"{address} is not an IPv4 address");
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    private static UInt128[] PeersOf(ConfigInstance config)
    {
        var peers = new UInt128[config.UnicastPeers.Count];
        for (int i = 0; i < peers.Length; i++)
            peers[i] = ToNumber(config.UnicastPeers[i].Address);
        return peers;
    }

    /// <summary>An address as the state machine compares it: IPv4 host order in the low 32 bits, IPv6 all 128.</summary>
    internal static UInt128 ToNumber(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? VrrpSocket6.ToNumber(address) : ToHost(address);

    internal static IPAddress ToAddress(UInt128 value, bool ipv6) =>
        ipv6 ? VrrpSocket6.ToAddress(value) : new IPAddress(BinaryPrimitives.ReverseEndianness((uint)value));

    private void OpenSocket(UInt128 primary, bool multicast)
    {
        if (_ipv6)
        {
            _socket6 = new VrrpSocket6(_interface, _interfaceIndex, VrrpSocket6.ToAddress(primary), multicast);
            _socket4 = null;
        }
        else
        {
            _socket4 = new VrrpSocket(_interface, _interfaceIndex, joinMulticast: multicast);
            _socket6 = null;
        }
    }

    private VrrpInstanceOptions OptionsFor(ConfigInstance config)
    {
        var addresses = new List<uint>();
        List<UInt128>? addresses6 = null;
        if (config.IsIpv6)
        {
            addresses6 = [];
            foreach (var vip in config.VirtualIpAddresses)
                addresses6.Add(VrrpSocket6.ToNumber(vip.Address));
        }
        else
        {
            foreach (var vip in config.VirtualIpAddresses)
                addresses.Add(ToHost(vip.Address));
        }

        byte[]? password = config.Version == 2 && config.Authentication is { Type: Fulcrum.Config.VrrpAuthType.Pass } auth
            ? Encoding.ASCII.GetBytes(auth.Password)
            : null;
        var format = new VrrpMessageFormat(config.Version, config.VirtualRouterId, addresses, config.AdvertInterval, password, Ipv6Addresses: addresses6);
        IPAddress? source = config.UnicastSourceIp ?? config.McastSourceIp;
        if (source is null && _detectedPrimary == 0)
        {
            // Found once: later a MASTER's interface also carries VIPs, and the primary must not change.
            _detectedPrimary = config.IsIpv6 ? VrrpSocket6.ToNumber(LinkLocalOf(_interface)) : ToHost(PrimaryAddressOf(_interface, addresses));
        }

        return new VrrpInstanceOptions(
            config.Name,
            format,
            config.Priority,
            source is null ? _detectedPrimary : ToNumber(source),
            Preempt: !config.NoPreempt,
            PreemptDelay: config.PreemptDelay,
            GarpMasterDelay: config.GarpMasterDelay,
            GarpMasterRepeat: config.GarpMasterRepeat,
            GarpMasterRefresh: config.GarpMasterRefresh,
            GarpMasterRefreshRepeat: config.GarpMasterRefreshRepeat);
    }

    private void Send(byte priority, UInt128 destination)
    {
        if (_socket6 is { } s6)
        {
            int n = VrrpCodec.WriteIpv6Message(_sendBuffer, Instance.Options.Format, priority, Instance.Options.PrimaryAddress, destination);
            s6.Send(_sendBuffer.AsSpan(0, n), destination);
        }
        else
        {
            int n = VrrpCodec.WriteIpv4(_sendBuffer, Instance.Options.Format, priority, (uint)Instance.Options.PrimaryAddress, (uint)destination);
            _socket4!.Send(_sendBuffer.AsSpan(0, n), (uint)destination);
        }
    }

    private string DeviceOf(Fulcrum.Config.VirtualIpAddress vip) => vip.Device ?? _interface;

    private Device DeviceFor(string name)
    {
        if (!_devices.TryGetValue(name, out var device))
        {
            var socket = new RawFrameSocket(name);
            try
            {
                device = new Device(socket, NetInterface.GetIndex(name), NetInterface.GetMac(name));
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            _devices.Add(name, device);
        }

        return device;
    }

    /// <summary>Opens every VIP device's GARP socket and reads its index and MAC now, not during a takeover.</summary>
    private void OpenDevices(ConfigInstance config)
    {
        foreach (var vip in config.VirtualIpAddresses)
        {
            try
            {
                DeviceFor(DeviceOf(vip));
            }
            catch (IOException e)
            {
                // A device that appears later is opened when first used.
                _logger.LogWarning("({Instance}) device {Device} of {Address}: {Error}", Name, DeviceOf(vip), vip.Address, e.Message);
            }
        }
    }

    private sealed record Device(RawFrameSocket Socket, int Index, ulong Mac);

    private void RunScript(string command)
    {
        // keepalived execs the script itself after splitting the quoted line; sh -c gives the same word
        // splitting for the usual "path arg ..." lines. Not awaited: a slow script must not stall VRRP.
        try
        {
            var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(command);
            var p = Process.Start(psi)!;
            p.EnableRaisingEvents = true;
            p.Exited += (_, _) => p.Dispose();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            _logger.LogWarning("({Instance}) notify script {Command} failed to start: {Error}", Name, command, e.Message);
        }
    }

    private static IPAddress LinkLocalOf(string iface)
    {
        // RFC 5798 §5.1.2.1: IPv6 adverts come from the interface's link-local address.
        foreach (var ni in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (ni.Name != iface)
                continue;
            foreach (var ua in ni.GetIPProperties().UnicastAddresses)
            {
                if (ua.Address.IsIPv6LinkLocal)
                    return ua.Address;
            }
        }

        throw new InvalidOperationException($"interface {iface} has no IPv6 link-local address to send VRRP adverts from");
    }

    private static IPAddress PrimaryAddressOf(string iface, List<uint> virtualAddresses)
    {
        // getifaddrs (behind NetworkInterface) asks rtnetlink from the calling thread, so it answers for
        // this thread's namespace. The first IPv4 address that is not one of ours is the primary one.
        foreach (var ni in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (ni.Name != iface)
                continue;
            foreach (var ua in ni.GetIPProperties().UnicastAddresses)
            {
                if (ua.Address.AddressFamily == AddressFamily.InterNetwork && !virtualAddresses.Contains(ToHost(ua.Address)))
                    return ua.Address;
            }
        }

        throw new InvalidOperationException($"interface {iface} has no IPv4 address to send VRRP adverts from");
    }
}
