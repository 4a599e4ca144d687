using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Linux;

namespace Fulcrum.Vrrp;

/// <summary>
/// The raw IPv6 protocol-112 socket of one IPv6 instance (RFC 5798 over IPv6), in the namespace of the thread
/// that creates it: bound to the interface's link-local address (the advert source the checksum covers) and
/// to the device, joined to ff02::12 there, hop limit 255 out (unicast and multicast), multicast loop off.
/// IPV6_MINHOPCOUNT 255 makes the kernel drop any advert that crossed a router (RFC 5798 §7.1's hop limit
/// check); IPV6_RECVPKTINFO gives each advert's destination for the pseudo-header checksum.
/// </summary>
internal sealed class VrrpSocket6 : IDisposable
{
    private const int SolSocket = 1;
    private const int SoBindToDevice = 25;
    private const int IpProtoIpv6 = 41;
    private const int Ipv6UnicastHops = 16;
    private const int Ipv6MulticastIf = 17;
    private const int Ipv6MulticastHops = 18;
    private const int Ipv6MulticastLoop = 19;
    private const int Ipv6MinHopCount = 73;

    private readonly Socket _socket;
    private readonly int _interfaceIndex;
    private EndPoint _from = new IPEndPoint(IPAddress.IPv6Any, 0);

    public VrrpSocket6(string interfaceName, int interfaceIndex, IPAddress linkLocal, bool joinMulticast)
    {
        _interfaceIndex = interfaceIndex;
        _socket = RawIpSocket.OpenIpv6(Packets.IpProtocols.Vrrp);
        try
        {
            _socket.SetRawSocketOption(SolSocket, SoBindToDevice, Encoding.ASCII.GetBytes(interfaceName + "\0"));
            _socket.SetRawSocketOption(IpProtoIpv6, Ipv6MulticastIf, BitConverter.GetBytes(interfaceIndex));
            _socket.SetRawSocketOption(IpProtoIpv6, Ipv6MulticastHops, BitConverter.GetBytes(255));
            _socket.SetRawSocketOption(IpProtoIpv6, Ipv6UnicastHops, BitConverter.GetBytes(255));
            _socket.SetRawSocketOption(IpProtoIpv6, Ipv6MulticastLoop, BitConverter.GetBytes(0));
            _socket.SetRawSocketOption(IpProtoIpv6, Ipv6MinHopCount, BitConverter.GetBytes(255));
            _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.PacketInformation, true);
            _socket.Bind(new IPEndPoint(new IPAddress(linkLocal.GetAddressBytes(), interfaceIndex), 0));
            if (joinMulticast)
            {
                _socket.SetSocketOption(
                    SocketOptionLevel.IPv6,
                    SocketOptionName.AddMembership,
                    new IPv6MulticastOption(ToAddress(VrrpCodec.MulticastGroup6), interfaceIndex));
            }

            _socket.Blocking = false;
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public Socket Socket => _socket;

    /// <summary>Sends one advert message to <paramref name="destination"/> (ff02::12 or a unicast peer).</summary>
    public void Send(ReadOnlySpan<byte> message, UInt128 destination)
    {
        var address = ToAddress(destination);
        if (address.IsIPv6LinkLocal || address.IsIPv6Multicast)
            address.ScopeId = _interfaceIndex;
        _socket.SendTo(message, SocketFlags.None, new IPEndPoint(address, 0));
    }

    /// <summary>Receives one advert message if one is waiting (0 when none), with its source and destination.</summary>
    public int TryReceive(Span<byte> buffer, out UInt128 source, out UInt128 destination)
    {
        source = 0;
        destination = 0;
        if (_socket.Available == 0)
            return 0;
        try
        {
            var flags = SocketFlags.None;
            int n = _socket.ReceiveMessageFrom(buffer, ref flags, ref _from, out var info);
            source = ToNumber(((IPEndPoint)_from).Address);
            destination = info.Address is { } d ? ToNumber(d) : VrrpCodec.MulticastGroup6;
            return n;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            return 0;
        }
    }

    public void Dispose() => _socket.Dispose();

    public static UInt128 ToNumber(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || !address.TryWriteBytes(b, out _))
            throw new NotSupportedException($"{address} is not an IPv6 address");
        return BinaryPrimitives.ReadUInt128BigEndian(b);
    }

    public static IPAddress ToAddress(UInt128 value)
    {
        Span<byte> b = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(b, value);
        return new IPAddress(b);
    }
}
