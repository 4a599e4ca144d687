using System.Text;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>
/// A blocking AF_UNIX stream connection on plain system calls, for one-shot clients of the control socket
/// (`fulcrum adm`). System.Net.Sockets would do, but a process that lives 10 ms pays for its set-up: the
/// IPv4/IPv6 support probes, the async engine's and telemetry's static constructors (docs/performance.md).
/// </summary>
public sealed unsafe class UnixStreamClient : IDisposable
{
    private readonly SafeFdHandle _fd;

    private UnixStreamClient(SafeFdHandle fd) => _fd = fd;

    /// <summary>Connects to the socket at <paramref name="path"/>; a <see cref="LinuxException"/> says why not (ENOENT, ECONNREFUSED, EACCES).</summary>
    public static UnixStreamClient Connect(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // struct sockaddr_un: the family, then the path NUL-terminated within 108 bytes.
        byte* address = stackalloc byte[Libc.SockaddrUnSize];
        new Span<byte>(address, Libc.SockaddrUnSize).Clear();
        *(ushort*)address = Libc.AF_UNIX;
        var pathBytes = new Span<byte>(address + 2, Libc.SockaddrUnSize - 2);
        if (Encoding.UTF8.GetByteCount(path) >= pathBytes.Length)
        {
            throw new ArgumentException($"'{path}' is longer than a Unix socket path may be (107 bytes).", nameof(path));
        }

        int length = Encoding.UTF8.GetBytes(path, pathBytes);
        int fd = Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno.Throw("socket(AF_UNIX)");
        }

        var handle = new SafeFdHandle(fd);
        try
        {
            // A blocking connect on a Unix socket does not return EINTR half-done: a retry is safe.
            int r;
            do
            {
                r = Libc.Connect(fd, address, (uint)(2 + length + 1));
            }
            while (r < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Libc.EINTR);
            if (r < 0)
            {
                Errno.Throw($"connect({path})");
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        return new UnixStreamClient(handle);
    }

    /// <summary>Sends all of <paramref name="data"/> (MSG_NOSIGNAL: a closed peer is an EPIPE, not a SIGPIPE).</summary>
    public void Send(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            nint n;
            fixed (byte* p = data)
            {
                n = Libc.SendTo(_fd.Fd, p, (nuint)data.Length, Libc.MSG_NOSIGNAL, null, 0);
            }

            if (n < 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR)
                {
                    continue;
                }

                Errno.Throw("send", errno);
            }

            data = data[(int)n..];
        }
    }

    /// <summary>Fills <paramref name="into"/> completely, or throws <see cref="EndOfStreamException"/> if the peer closes first.</summary>
    public void ReceiveExactly(Span<byte> into)
    {
        while (!into.IsEmpty)
        {
            nint n;
            fixed (byte* p = into)
            {
                n = Libc.Recv(_fd.Fd, p, (nuint)into.Length, 0);
            }

            if (n < 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR)
                {
                    continue;
                }

                Errno.Throw("recv", errno);
            }

            if (n == 0)
            {
                throw new EndOfStreamException("the peer closed the connection early");
            }

            into = into[(int)n..];
        }
    }

    public void Dispose() => _fd.Dispose();
}
