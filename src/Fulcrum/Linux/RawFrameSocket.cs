using System.Buffers.Binary;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>
/// A send-only AF_PACKET socket on one interface, for the occasional control-plane frame (gratuitous ARP)
/// where a <see cref="PacketRing"/> and its mapped rings would be overkill. Created in, and bound to, the
/// calling thread's network namespace.
/// </summary>
public sealed unsafe class RawFrameSocket : IDisposable
{
    private readonly SafeFdHandle _fd;
    private readonly int _ifIndex;

    /// <summary>Opens the socket for interface <paramref name="interfaceName"/>.</summary>
    public RawFrameSocket(string interfaceName)
    {
        _ifIndex = NetInterface.GetIndex(interfaceName);

        // Protocol 0: the socket receives nothing, so it needs no draining.
        int fd = Libc.Socket(Packet.AF_PACKET, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno.Throw("socket(AF_PACKET, SOCK_RAW, 0)");
        }

        _fd = new SafeFdHandle(fd);
        InterfaceName = interfaceName;
    }

    public string InterfaceName { get; }

    /// <summary>Sends one whole Ethernet frame (destination MAC first) out of the interface.</summary>
    public void Send(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14)
        {
            throw new ArgumentException("an Ethernet frame has at least 14 bytes", nameof(frame));
        }

        var address = new sockaddr_ll
        {
            sll_family = Packet.AF_PACKET,
            sll_protocol = BinaryPrimitives.ReverseEndianness(BinaryPrimitives.ReadUInt16BigEndian(frame[12..])),
            sll_ifindex = _ifIndex,
            sll_halen = 6,
        };
        for (int i = 0; i < 6; i++)
        {
            address.sll_addr[i] = frame[i];
        }

        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = frame)
            {
                nint sent;
                do
                {
                    sent = Libc.SendTo(_fd.Fd, p, (nuint)frame.Length, 0, &address, (uint)sizeof(sockaddr_ll));
                }
                while (sent < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Libc.EINTR);
                if (sent < 0)
                {
                    Errno.Throw($"sendto(AF_PACKET, {InterfaceName})");
                }
            }
        }
        finally
        {
            if (added)
            {
                _fd.DangerousRelease();
            }
        }
    }

    public void Dispose() => _fd.Dispose();
}
