using System.Net.Sockets;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>Raw IP sockets for protocols .NET's <see cref="ProtocolType"/> does not know.</summary>
public static class RawIpSocket
{
    private const int AfInet = 2;
    private const int AfInet6 = 10;

    /// <summary>
    /// socket(AF_INET, SOCK_RAW, <paramref name="protocol"/>) wrapped in a managed <see cref="Socket"/>, in the
    /// calling thread's network namespace. .NET refuses unknown protocol numbers (VRRP's 112 gives
    /// EPROTONOSUPPORT from its PAL), but it adopts an existing descriptor, and every later setsockopt,
    /// send and receive works through the managed API.
    /// </summary>
    public static Socket OpenIpv4(int protocol)
    {
        int fd = Libc.Socket(AfInet, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, protocol);
        if (fd < 0)
        {
            Errno.Throw($"socket(AF_INET, SOCK_RAW, {protocol})");
        }

        return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }

    /// <summary>socket(AF_INET6, SOCK_RAW, <paramref name="protocol"/>) as a managed <see cref="Socket"/> (see <see cref="OpenIpv4"/>).</summary>
    public static Socket OpenIpv6(int protocol)
    {
        int fd = Libc.Socket(AfInet6, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, protocol);
        if (fd < 0)
        {
            Errno.Throw($"socket(AF_INET6, SOCK_RAW, {protocol})");
        }

        return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }
}
