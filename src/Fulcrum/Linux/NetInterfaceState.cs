using System.Runtime.InteropServices;
using System.Text;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>An interface's link state (SIOCGIFFLAGS), in the calling thread's network namespace.</summary>
public static unsafe class NetInterfaceState
{
    /// <summary>
    /// True when the interface is administratively up and has carrier (IFF_UP and IFF_RUNNING); false when
    /// it is down or does not exist (ENODEV), which is what keepalived's track_interface treats as a fault.
    /// </summary>
    public static bool IsUp(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Encoding.ASCII.GetByteCount(name) >= ifreq.IFNAMSIZ)
        {
            throw new ArgumentException($"Interface name '{name}' is longer than {ifreq.IFNAMSIZ - 1} bytes.", nameof(name));
        }

        ifreq_flags req = default;
        Encoding.ASCII.GetBytes(name, new Span<byte>(req.ifr_name, ifreq.IFNAMSIZ));
        int fd = Libc.Socket(Packet.AF_PACKET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno.Throw("socket(AF_PACKET, SOCK_DGRAM)");
        }

        using var handle = new SafeFdHandle(fd);
        if (Libc.Ioctl(fd, Libc.SIOCGIFFLAGS, &req) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 19)
            {
                return false;
            }

            Errno.Throw($"ioctl(SIOCGIFFLAGS, {name})", errno);
        }

        return (req.ifr_flags & (Libc.IFF_UP | Libc.IFF_RUNNING)) == (Libc.IFF_UP | Libc.IFF_RUNNING);
    }
}
