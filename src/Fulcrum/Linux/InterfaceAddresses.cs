using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>What `ip addr add` takes besides the address (iproute2's names; null: the kernel default).</summary>
/// <param name="Broadcast">IPv4 brd.</param>
/// <param name="Scope">host, link, site, global, nowhere, or a number.</param>
/// <param name="Label">IPv4 label (an alias such as eth0:1).</param>
/// <param name="NoPrefixRoute">No prefix route for the address (IFA_F_NOPREFIXROUTE).</param>
/// <param name="NoDad">IPv6: skip duplicate address detection (IFA_F_NODAD).</param>
public sealed record InterfaceAddressOptions(
    IPAddress? Broadcast = null,
    string? Scope = null,
    string? Label = null,
    bool NoPrefixRoute = false,
    bool NoDad = false);

/// <summary>
/// Adds and removes interface addresses with rtnetlink RTM_NEWADDR/RTM_DELADDR, as `ip addr add/del` does,
/// but without a fork and exec of iproute2 per address (several milliseconds each, most of a VRRP takeover's
/// own work). The socket belongs to the network namespace of the thread that creates it.
/// Not thread-safe: one thread uses it.
/// </summary>
public sealed unsafe class InterfaceAddresses : IDisposable
{
    private const ushort RtmNewAddr = 20;
    private const ushort RtmDelAddr = 21;
    private const ushort NlmFExcl = 0x200;
    private const ushort IfaAddress = 1;
    private const ushort IfaLocal = 2;
    private const ushort IfaLabel = 3;
    private const ushort IfaBroadcast = 4;
    private const ushort IfaFlags = 8;
    private const uint IfaFNoDad = 0x02;
    private const uint IfaFNoPrefixRoute = 0x200;
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int EExist = 17;
    private const int EAddrNotAvail = 99;
    private const int ENoDev = 19;

    private readonly SafeFdHandle _socket;
    private readonly byte[] _request = new byte[256];
    private readonly byte[] _reply = new byte[4096];
    private uint _sequence;

    public InterfaceAddresses()
    {
        int fd = Libc.Socket(Netlink.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Netlink.NETLINK_ROUTE);
        if (fd < 0)
            Errno.Throw("socket(AF_NETLINK, NETLINK_ROUTE)");
        _socket = new SafeFdHandle(fd);
        var local = new sockaddr_nl { nl_family = Netlink.AF_NETLINK };
        if (Libc.Bind(fd, &local, (uint)sizeof(sockaddr_nl)) != 0)
        {
            _socket.Dispose();
            Errno.Throw("bind(AF_NETLINK)");
        }
    }

    /// <summary>`ip addr add ADDRESS/PREFIX dev (index)`; false if the interface already has it (EEXIST).</summary>
    public bool Add(int ifIndex, IPAddress address, int prefixLength, InterfaceAddressOptions? options = null) =>
        Request(RtmNewAddr, (ushort)(Netlink.NLM_F_CREATE | NlmFExcl), ifIndex, address, prefixLength, options ?? Default, EExist);

    /// <summary>`ip addr del ADDRESS/PREFIX dev (index)`; false if the interface does not have it (EADDRNOTAVAIL).</summary>
    public bool Remove(int ifIndex, IPAddress address, int prefixLength) =>
        Request(RtmDelAddr, 0, ifIndex, address, prefixLength, Default, EAddrNotAvail);

    public void Dispose() => _socket.Dispose();

    private static InterfaceAddressOptions Default { get; } = new();

    /// <summary>iproute2's rtnl_rtscope_a2n names, or a number.</summary>
    public static byte ParseScope(string? scope) => scope switch
    {
        null or "global" or "universe" => 0,
        "site" => 200,
        "link" => 253,
        "host" => 254,
        "nowhere" => 255,
        _ when byte.TryParse(scope, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out byte n) => n,
        _ => throw new ArgumentException($"unknown address scope '{scope}'", nameof(scope)),
    };

    private bool Request(ushort type, ushort flags, int ifIndex, IPAddress address, int prefixLength, InterfaceAddressOptions options, int benignErrno)
    {
        ArgumentNullException.ThrowIfNull(address);
        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        int length = address.AddressFamily == AddressFamily.InterNetwork ? 4 : v6 ? 16 : throw new ArgumentException("not an IP address", nameof(address));
        Span<byte> m = _request;
        m.Clear();
        int at = sizeof(nlmsghdr);

        // struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index; }
        m[at] = (byte)(v6 ? AfInet6 : AfInet);
        m[at + 1] = (byte)prefixLength;
        m[at + 3] = ParseScope(options.Scope);
        BinaryPrimitives.WriteInt32LittleEndian(m[(at + 4)..], ifIndex);
        at += 8;

        // iproute2 sends the address as both IFA_LOCAL and IFA_ADDRESS when no peer is given.
        at = AddressAttribute(m, at, IfaLocal, address);
        at = AddressAttribute(m, at, IfaAddress, address);
        if (type == RtmNewAddr)
        {
            if (options.Broadcast is { } brd && !v6)
                at = AddressAttribute(m, at, IfaBroadcast, brd);
            if (options.Label is { } label && !v6)
            {
                int n = System.Text.Encoding.ASCII.GetBytes(label, m[(at + 4)..]);
                m[at + 4 + n] = 0;
                at = Attribute(m, at, IfaLabel, n + 1);
            }

            uint ifaFlags = (options.NoPrefixRoute ? IfaFNoPrefixRoute : 0) | (options.NoDad && v6 ? IfaFNoDad : 0);
            if (ifaFlags != 0)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(m[(at + 4)..], ifaFlags);
                at = Attribute(m, at, IfaFlags, 4);
            }
        }

        uint seq = ++_sequence;
        ref nlmsghdr h = ref MemoryMarshal.AsRef<nlmsghdr>(m);
        h.nlmsg_len = (uint)at;
        h.nlmsg_type = type;
        h.nlmsg_flags = (ushort)(Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK | flags);
        h.nlmsg_seq = seq;
        Send(m[..at]);
        int error = ReadAck(seq);
        if (error == 0)
            return true;
        if (error == benignErrno || (type == RtmDelAddr && error == ENoDev))
            return false;
        Errno.Throw(type == RtmNewAddr ? $"RTM_NEWADDR {address}/{prefixLength}" : $"RTM_DELADDR {address}/{prefixLength}", error);
        return false;

        static int AddressAttribute(Span<byte> m, int at, ushort type, IPAddress value)
        {
            value.TryWriteBytes(m[(at + 4)..], out int written);
            return Attribute(m, at, type, written);
        }
    }

    private static int Attribute(Span<byte> m, int at, ushort type, int payload)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(m[at..], (ushort)(4 + payload));
        BinaryPrimitives.WriteUInt16LittleEndian(m[(at + 2)..], type);
        return at + Netlink.RTA_ALIGN(4 + payload);
    }

    private void Send(ReadOnlySpan<byte> message)
    {
        var kernel = new sockaddr_nl { nl_family = Netlink.AF_NETLINK };
        fixed (byte* p = message)
        {
            while (Libc.SendTo(_socket.Fd, p, (nuint)message.Length, 0, &kernel, (uint)sizeof(sockaddr_nl)) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Libc.EINTR)
                    Errno.Throw("sendto(RTM_*ADDR)", errno);
            }
        }
    }

    /// <summary>Reads until the NLMSG_ERROR answering <paramref name="seq"/>; returns its errno (0: ACK).</summary>
    private int ReadAck(uint seq)
    {
        while (true)
        {
            nint n;
            fixed (byte* p = _reply)
            {
                n = Libc.Recv(_socket.Fd, p, (nuint)_reply.Length, 0);
            }

            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR)
                    continue;
                Errno.Throw("recv(RTM_*ADDR ack)", errno);
            }

            ReadOnlySpan<byte> data = _reply.AsSpan(0, (int)n);
            while (data.Length >= sizeof(nlmsghdr))
            {
                nlmsghdr h = MemoryMarshal.Read<nlmsghdr>(data);
                if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > data.Length)
                    throw new LinuxException("RTM_*ADDR: malformed netlink reply");
                ReadOnlySpan<byte> body = data[sizeof(nlmsghdr)..(int)h.nlmsg_len];
                int next = Netlink.NLMSG_ALIGN((int)h.nlmsg_len);
                data = next >= data.Length ? default : data[next..];
                if (h.nlmsg_seq == seq && h.nlmsg_type == Netlink.NLMSG_ERROR)
                    return body.Length >= sizeof(int) ? -BinaryPrimitives.ReadInt32LittleEndian(body) : 71;
            }
        }
    }
}
