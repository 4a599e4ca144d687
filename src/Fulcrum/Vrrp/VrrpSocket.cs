using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Linux;

namespace Fulcrum.Vrrp;

/// <summary>
/// The raw IPv4 protocol-112 socket of one instance, in the namespace of the thread that creates it.
/// IP_HDRINCL: we write the whole IPv4 header, so TOS 0xc0, TTL 255 and the source address are exactly
/// keepalived's and the v3 pseudo-header checksum matches the header sent. Bound to the interface
/// (SO_BINDTODEVICE) so adverts from other segments never reach the instance; joined to 224.0.0.18 on it
/// with multicast loop off, so our own adverts do not come back.
/// </summary>
/// <remarks>Every option is a plain setsockopt through the managed <see cref="Socket"/> (see <see cref="RawIpSocket"/>).</remarks>
internal sealed class VrrpSocket : IDisposable
{
    private const int SolSocket = 1;
    private const int SoBindToDevice = 25;
    private const int IpProtoIp = 0;
    private const int IpMulticastIf = 32;
    private const int IpMulticastTtl = 33;
    private const int IpMulticastLoop = 34;

    private readonly Socket _socket;

    public VrrpSocket(string interfaceName, int interfaceIndex, bool joinMulticast)
    {
        _socket = RawIpSocket.OpenIpv4(Packets.IpProtocols.Vrrp);
        try
        {
            _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.HeaderIncluded, true);
            _socket.SetRawSocketOption(SolSocket, SoBindToDevice, Encoding.ASCII.GetBytes(interfaceName + "\0"));
            Span<byte> mreqn = stackalloc byte[12];
            mreqn.Clear();
            BinaryPrimitives.WriteInt32LittleEndian(mreqn[8..], interfaceIndex);
            _socket.SetRawSocketOption(IpProtoIp, IpMulticastIf, mreqn);
            _socket.SetRawSocketOption(IpProtoIp, IpMulticastTtl, BitConverter.GetBytes(255));
            _socket.SetRawSocketOption(IpProtoIp, IpMulticastLoop, BitConverter.GetBytes(0));
            if (joinMulticast)
            {
                _socket.SetSocketOption(
                    SocketOptionLevel.IP,
                    SocketOptionName.AddMembership,
                    new MulticastOption(new IPAddress(BinaryPrimitives.ReverseEndianness(VrrpCodec.MulticastGroup)), interfaceIndex));
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

    /// <summary>Sends a whole IPv4 packet (header included) to <paramref name="destination"/> (host order).</summary>
    public void Send(ReadOnlySpan<byte> packet, uint destination) =>
        _socket.SendTo(packet, SocketFlags.None, new IPEndPoint(new IPAddress(BinaryPrimitives.ReverseEndianness(destination)), 0));

    /// <summary>Receives one packet (IPv4 header included) if one is waiting; 0 when none.</summary>
    public int TryReceive(Span<byte> buffer)
    {
        if (_socket.Available == 0)
            return 0;
        try
        {
            return _socket.Receive(buffer, SocketFlags.None);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            return 0;
        }
    }

    public void Dispose() => _socket.Dispose();
}
