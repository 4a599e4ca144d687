using Fulcrum.Packets;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>
/// The kernel's neighbour (ARP/NDP) table over rtnetlink: dump it, ask the kernel to resolve an address, and
/// follow changes. Sockets are opened in the constructor, so the table belongs to the network namespace of
/// the constructing thread, whichever thread calls it later.
/// </summary>
/// <remarks>
/// The netlink messages are encoded and decoded by hand here: there is no maintained .NET rtnetlink library,
/// and the few messages needed (RTM_GETNEIGH dump, RTM_NEWNEIGH with NTF_USE, RTM_NEWNEIGH/RTM_DELNEIGH
/// notifications) are small fixed structs plus type-length-value attributes.
/// </remarks>
public sealed unsafe class NeighbourTable : IDisposable
{
    private const int AF_UNSPEC = 0;
    private const int AF_INET = 2;
    private const int AF_INET6 = 10;
    private const int BufferSize = 64 * 1024;

    private readonly Lock _requestLock = new();
    private readonly SafeFdHandle _request;
    private readonly SafeFdHandle _monitor;
    private readonly byte[] _buffer = new byte[BufferSize];
    private uint _sequence = (uint)Environment.TickCount;
    private int _monitorRunning;

    public NeighbourTable()
    {
        _request = OpenSocket(groups: 0);
        try
        {
            // Subscribed now, in this thread's namespace: a caller that dumps and then starts RunMonitor
            // misses no change in between (the socket buffers them; an overrun is recovered by a dump).
            _monitor = OpenSocket(groups: Netlink.RTMGRP_NEIGH);
        }
        catch
        {
            _request.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The IPv4 and IPv6 neighbour entries of interface <paramref name="ifIndex"/> (0: all interfaces).
    /// </summary>
    public IReadOnlyList<NeighbourEntry> Dump(int ifIndex)
    {
        var entries = new List<NeighbourEntry>();
        lock (_requestLock)
        {
            // NLM_F_DUMP_INTR: the table changed while the kernel walked it; the dump may miss or repeat
            // entries, so ask again (the monitor reports the changes themselves anyway).
            for (int attempt = 0; attempt < 3; attempt++)
            {
                entries.Clear();
                if (!DumpOnce(ifIndex, entries))
                {
                    break;
                }
            }
        }

        return entries;
    }

    // Returns true when the dump was interrupted (NLM_F_DUMP_INTR) and should be repeated.
    private bool DumpOnce(int ifIndex, List<NeighbourEntry> entries)
    {
        Span<byte> request = stackalloc byte[sizeof(nlmsghdr) + sizeof(ndmsg)];
        request.Clear();
        uint seq = ++_sequence;
        ref nlmsghdr h = ref MemoryMarshal.AsRef<nlmsghdr>(request);
        h.nlmsg_len = (uint)request.Length;
        h.nlmsg_type = Netlink.RTM_GETNEIGH;
        h.nlmsg_flags = Netlink.NLM_F_REQUEST | Netlink.NLM_F_DUMP;
        h.nlmsg_seq = seq;
        ref ndmsg nd = ref MemoryMarshal.AsRef<ndmsg>(request[sizeof(nlmsghdr)..]);
        nd.ndm_family = AF_UNSPEC;
        nd.ndm_ifindex = ifIndex;
        Send(_request, request, "sendto(RTM_GETNEIGH)");
        return ReadReplies(seq, entries, ifIndex, "RTM_GETNEIGH");
    }

    /// <summary>
    /// Asks the kernel to resolve <paramref name="address"/> on <paramref name="ifIndex"/>: RTM_NEWNEIGH with
    /// NLM_F_CREATE and NTF_USE. neigh_add (net/core/neighbour.c) creates the entry if missing, keeps the
    /// state of an existing one (NEIGH_UPDATE_F_USE) and calls neigh_event_send, which starts ARP/NDP
    /// probing from NONE/STALE exactly as a transmitted packet would. The answer arrives asynchronously: watch
    /// <see cref="RunMonitor"/> or <see cref="Dump"/> again. Do not call it for a PERMANENT entry (the kernel
    /// clears NUD_PERMANENT on a USE update).
    /// </summary>
    public void Resolve(int ifIndex, IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        int addressLength = address.AddressFamily == AddressFamily.InterNetwork ? 4 : 16;
        byte family = address.AddressFamily == AddressFamily.InterNetwork ? (byte)AF_INET : (byte)AF_INET6;
        int attributeLength = sizeof(rtattr) + addressLength;
        int length = sizeof(nlmsghdr) + sizeof(ndmsg) + Netlink.RTA_ALIGN(attributeLength);
        lock (_requestLock)
        {
            Span<byte> request = stackalloc byte[length];
            request.Clear();
            uint seq = ++_sequence;
            ref nlmsghdr h = ref MemoryMarshal.AsRef<nlmsghdr>(request);
            h.nlmsg_len = (uint)length;
            h.nlmsg_type = Netlink.RTM_NEWNEIGH;
            h.nlmsg_flags = Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK | Netlink.NLM_F_CREATE;
            h.nlmsg_seq = seq;
            ref ndmsg nd = ref MemoryMarshal.AsRef<ndmsg>(request[sizeof(nlmsghdr)..]);
            nd.ndm_family = family;
            nd.ndm_ifindex = ifIndex;
            nd.ndm_state = (ushort)NeighbourState.None;
            nd.ndm_flags = Netlink.NTF_USE;
            Span<byte> attribute = request[(sizeof(nlmsghdr) + sizeof(ndmsg))..];
            ref rtattr rta = ref MemoryMarshal.AsRef<rtattr>(attribute);
            rta.rta_len = (ushort)attributeLength;
            rta.rta_type = Netlink.NDA_DST;
            address.TryWriteBytes(attribute[sizeof(rtattr)..], out _);
            Send(_request, request, "sendto(RTM_NEWNEIGH)");
            ReadReplies(seq, null, 0, $"RTM_NEWNEIGH NTF_USE {address} ifindex {ifIndex}");
        }
    }

    /// <summary>
    /// Follows the kernel's neighbour notifications (RTNLGRP_NEIGH, subscribed since the constructor) until <paramref name="ct"/> is cancelled,
    /// calling <paramref name="onChange"/>(entry, deleted) for each; blocks the calling thread (the daemon runs
    /// it on its own). Checks for cancellation at least every 200 ms. If the kernel overruns the socket
    /// (ENOBUFS: notifications were lost) it dumps the table and reports every entry as changed.
    /// </summary>
    public void RunMonitor(Action<NeighbourEntry, bool> onChange, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        if (Interlocked.Exchange(ref _monitorRunning, 1) != 0)
        {
            throw new InvalidOperationException("RunMonitor is already running on this table.");
        }

        try
        {
            var buffer = new byte[BufferSize];
            var entries = new List<NeighbourEntry>();
            var deleted = new List<bool>();
            while (!ct.IsCancellationRequested)
            {
                var pfd = new PollFd { fd = _monitor.Fd, events = Libc.POLLIN };
                int ready = Libc.Poll(&pfd, 1, 200);
                if (ready < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }

                    Errno.Throw("poll(netlink)", errno);
                }

                if (ready == 0)
                {
                    continue;
                }

                nint n;
                fixed (byte* p = buffer)
                {
                    n = Libc.Recv(_monitor.Fd, p, (nuint)buffer.Length, Libc.MSG_DONTWAIT);
                }

                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is Libc.EAGAIN or Libc.EINTR)
                    {
                        continue;
                    }

                    if (errno == Libc.ENOBUFS)
                    {
                        foreach (NeighbourEntry e in Dump(0))
                        {
                            onChange(e, false);
                        }

                        continue;
                    }

                    Errno.Throw("recv(netlink monitor)", errno);
                }

                entries.Clear();
                deleted.Clear();
                ParseNotifications(buffer.AsSpan(0, (int)n), entries, deleted);
                for (int i = 0; i < entries.Count; i++)
                {
                    onChange(entries[i], deleted[i]);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _monitorRunning, 0);
        }
    }

    public void Dispose()
    {
        _request.Dispose();
        _monitor.Dispose();
    }

    /// <summary>Decodes one RTM_NEWNEIGH/RTM_DELNEIGH message body (ndmsg + attributes); false if not IPv4/IPv6.</summary>
    internal static bool TryParseNeighbour(ReadOnlySpan<byte> body, out NeighbourEntry entry)
    {
        entry = default;
        if (body.Length < sizeof(ndmsg))
        {
            return false;
        }

        ndmsg nd = MemoryMarshal.Read<ndmsg>(body);
        if (nd.ndm_family is not (AF_INET or AF_INET6))
        {
            return false;
        }

        IPAddress? address = null;
        ulong mac = 0;
        ReadOnlySpan<byte> attributes = body[Netlink.NLMSG_ALIGN(sizeof(ndmsg))..];
        while (attributes.Length >= sizeof(rtattr))
        {
            rtattr rta = MemoryMarshal.Read<rtattr>(attributes);
            if (rta.rta_len < sizeof(rtattr) || rta.rta_len > attributes.Length)
            {
                break;
            }

            ReadOnlySpan<byte> value = attributes[sizeof(rtattr)..rta.rta_len];
            switch (rta.rta_type)
            {
                case Netlink.NDA_DST when value.Length is 4 or 16:
                    address = new IPAddress(value);
                    break;
                case Netlink.NDA_LLADDR when value.Length == 6:
                    mac = EthernetFrame.ReadMac(value);
                    break;
            }

            int next = Netlink.RTA_ALIGN(rta.rta_len);
            attributes = next >= attributes.Length ? default : attributes[next..];
        }

        if (address is null)
        {
            return false;
        }

        entry = new NeighbourEntry(nd.ndm_ifindex, address, mac, (NeighbourState)nd.ndm_state);
        return true;
    }

    private static void ParseNotifications(ReadOnlySpan<byte> data, List<NeighbourEntry> entries, List<bool> deleted)
    {
        while (data.Length >= sizeof(nlmsghdr))
        {
            nlmsghdr h = MemoryMarshal.Read<nlmsghdr>(data);
            if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > data.Length)
            {
                return;
            }

            if (h.nlmsg_type is Netlink.RTM_NEWNEIGH or Netlink.RTM_DELNEIGH
                && TryParseNeighbour(data[sizeof(nlmsghdr)..(int)h.nlmsg_len], out NeighbourEntry e))
            {
                entries.Add(e);
                deleted.Add(h.nlmsg_type == Netlink.RTM_DELNEIGH);
            }

            int next = Netlink.NLMSG_ALIGN((int)h.nlmsg_len);
            data = next >= data.Length ? default : data[next..];
        }
    }

    private bool ReadReplies(uint seq, List<NeighbourEntry>? entries, int ifIndex, string what)
    {
        bool interrupted = false;
        while (true)
        {
            nint n;
            fixed (byte* p = _buffer)
            {
                n = Libc.Recv(_request.Fd, p, (nuint)_buffer.Length, 0);
            }

            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR)
                {
                    continue;
                }

                Errno.Throw($"recv({what})", errno);
            }

            ReadOnlySpan<byte> data = _buffer.AsSpan(0, (int)n);
            while (data.Length >= sizeof(nlmsghdr))
            {
                nlmsghdr h = MemoryMarshal.Read<nlmsghdr>(data);
                if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > data.Length)
                {
                    throw new LinuxException($"{what}: malformed netlink reply");
                }

                ReadOnlySpan<byte> body = data[sizeof(nlmsghdr)..(int)h.nlmsg_len];
                int next = Netlink.NLMSG_ALIGN((int)h.nlmsg_len);
                data = next >= data.Length ? default : data[next..];
                if (h.nlmsg_seq != seq)
                {
                    // A late answer to an earlier request that failed half-way: not ours.
                    continue;
                }

                interrupted |= (h.nlmsg_flags & Netlink.NLM_F_DUMP_INTR) != 0;
                switch (h.nlmsg_type)
                {
                    case Netlink.NLMSG_DONE:
                        return interrupted;
                    case Netlink.NLMSG_ERROR:
                        int error = body.Length >= sizeof(int) ? BinaryPrimitives.ReadInt32LittleEndian(body) : -71;
                        if (error != 0)
                        {
                            Errno.Throw(what, -error);
                        }

                        // An ACK (error 0) ends a non-dump request.
                        return interrupted;
                    case Netlink.RTM_NEWNEIGH when entries is not null:
                        if (TryParseNeighbour(body, out NeighbourEntry e) && (ifIndex == 0 || e.IfIndex == ifIndex))
                        {
                            entries.Add(e);
                        }

                        break;
                }

                if ((h.nlmsg_flags & Netlink.NLM_F_MULTI) == 0 && entries is null)
                {
                    return interrupted;
                }
            }
        }
    }

    private static void Send(SafeFdHandle socket, ReadOnlySpan<byte> message, string what)
    {
        var kernel = new sockaddr_nl { nl_family = Netlink.AF_NETLINK };
        fixed (byte* p = message)
        {
            while (Libc.SendTo(socket.Fd, p, (nuint)message.Length, 0, &kernel, (uint)sizeof(sockaddr_nl)) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Libc.EINTR)
                {
                    Errno.Throw(what, errno);
                }
            }
        }
    }

    private static SafeFdHandle OpenSocket(uint groups)
    {
        int fd = Libc.Socket(Netlink.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Netlink.NETLINK_ROUTE);
        if (fd < 0)
        {
            Errno.Throw("socket(AF_NETLINK, NETLINK_ROUTE)");
        }

        var handle = new SafeFdHandle(fd);
        var local = new sockaddr_nl { nl_family = Netlink.AF_NETLINK, nl_groups = groups };
        if (Libc.Bind(fd, &local, (uint)sizeof(sockaddr_nl)) != 0)
        {
            handle.Dispose();
            Errno.Throw("bind(AF_NETLINK)");
        }

        // A bigger receive buffer makes ENOBUFS (lost notifications) rare when a whole subnet changes at once.
        int size = 1 << 20;
        if (Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, &size, sizeof(int)) != 0)
        {
            Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, &size, sizeof(int));
        }

        return handle;
    }
}
