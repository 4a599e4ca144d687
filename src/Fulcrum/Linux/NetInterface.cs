using Fulcrum.Packets;
using System.Text;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>
/// Control-plane lookups of a network interface by name, in the calling thread's network namespace.
/// </summary>
/// <remarks>
/// These use ioctl on a throwaway socket, not /sys/class/net: sysfs shows the namespace of whoever mounted
/// it, so it answers wrongly on a thread that entered another namespace with <see cref="NetworkNamespace"/>.
/// </remarks>
public static unsafe class NetInterface
{
    /// <summary>The interface index (SIOCGIFINDEX).</summary>
    public static int GetIndex(string name)
    {
        ifreq request = Query(name, Libc.SIOCGIFINDEX, "SIOCGIFINDEX");
        return request.ifr_ifindex;
    }

    /// <summary>
    /// The interface's RX queues (the rx-N entries of /sys/class/net/NAME/queues, which `ip netns exec`
    /// mounts for the namespace); 1 when sysfs does not say. An AF_XDP socket binds to one queue.
    /// </summary>
    public static int GetRxQueueCount(string name)
    {
        var dir = new DirectoryInfo($"/sys/class/net/{name}/queues");
        if (!dir.Exists)
            return 1;
        int count = dir.GetDirectories("rx-*").Length;
        return Math.Max(1, count);
    }

    /// <summary>The MTU (SIOCGIFMTU).</summary>
    public static int GetMtu(string name)
    {
        ifreq request = Query(name, Libc.SIOCGIFMTU, "SIOCGIFMTU");
        return request.ifr_mtu;
    }

    /// <summary>
    /// The Ethernet address (SIOCGIFHWADDR) as a 48-bit number, first octet most significant
    /// (00:11:22:33:44:55 is 0x001122334455), the layout <see cref="NeighbourEntry.Mac"/> uses too.
    /// </summary>
    public static ulong GetMac(string name)
    {
        ifreq request = Query(name, Libc.SIOCGIFHWADDR, "SIOCGIFHWADDR");
        ulong mac = 0;
        for (int i = 0; i < 6; i++)
        {
            mac = (mac << 8) | request.ifr_hwaddr_data[i];
        }

        return mac;
    }

    /// <summary>The Ethernet address as 6 bytes, in wire order.</summary>
    public static byte[] GetMacBytes(string name)
    {
        var bytes = new byte[6];
        EthernetFrame.WriteMac(bytes, GetMac(name));
        return bytes;
    }

    /// <summary>aa:bb:cc:dd:ee:ff.</summary>
    public static string FormatMac(ulong mac)
    {
        Span<byte> b = stackalloc byte[6];
        EthernetFrame.WriteMac(b, mac);
        return $"{b[0]:x2}:{b[1]:x2}:{b[2]:x2}:{b[3]:x2}:{b[4]:x2}:{b[5]:x2}";
    }

    private static ifreq Query(string name, nuint request, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        int byteCount = Encoding.ASCII.GetByteCount(name);
        if (byteCount >= ifreq.IFNAMSIZ)
        {
            throw new ArgumentException($"Interface name '{name}' is longer than {ifreq.IFNAMSIZ - 1} bytes.", nameof(name));
        }

        ifreq req = default;
        Encoding.ASCII.GetBytes(name, new Span<byte>(req.ifr_name, ifreq.IFNAMSIZ));
        int fd = Libc.Socket(Packet.AF_PACKET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno.Throw("socket(AF_PACKET, SOCK_DGRAM)");
        }

        using var handle = new SafeFdHandle(fd);
        if (Libc.Ioctl(fd, request, &req) != 0)
        {
            Errno.Throw($"ioctl({what}, {name})");
        }

        return req;
    }
}
