using System.Runtime.InteropServices;

// Kernel structs keep the kernel's all-lowercase names (style.md: as Tmds.LibC does), which C# flags as
// possibly reserved words one day; they are internal to this folder, so a rename would be cheap.
#pragma warning disable CS8981

namespace Fulcrum.Linux.Interop;

/// <summary>
/// The libc calls Fulcrum makes. Raw file descriptors and pointers stay in this folder; the classes in
/// Linux/ wrap them in <see cref="SafeFdHandle"/> and turn a failure into a <see cref="LinuxException"/>.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Library = "libc";

    [LibraryImport(Library, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "bind", SetLastError = true)]
    internal static partial int Bind(int fd, void* address, uint addressLength);

    [LibraryImport(Library, EntryPoint = "getsockname", SetLastError = true)]
    internal static partial int GetSockName(int fd, void* address, uint* addressLength);

    [LibraryImport(Library, EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    internal static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport(Library, EntryPoint = "sendto", SetLastError = true)]
    internal static partial nint SendTo(int fd, void* buffer, nuint length, int flags, void* address, uint addressLength);

    [LibraryImport(Library, EntryPoint = "recv", SetLastError = true)]
    internal static partial nint Recv(int fd, void* buffer, nuint length, int flags);

    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "mmap", SetLastError = true)]
    internal static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport(Library, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(void* address, nuint length);

    // ioctl is variadic in C; on x86-64 and arm64 Linux a variadic call with one pointer argument has the
    // same calling convention as this fixed signature (Tmds.LibC declares it the same way).
    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Library, EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(int fd, int nsType);

    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int ENOBUFS = 105;

    internal const int SOCK_RAW = 3;
    internal const int SOCK_DGRAM = 2;
    internal const int SOCK_CLOEXEC = 0x80000;

    internal const int SOL_SOCKET = 1;
    internal const int SO_ERROR = 4;
    internal const int SO_SNDBUF = 7;
    internal const int SO_RCVBUF = 8;
    internal const int SO_SNDBUFFORCE = 32;
    internal const int SO_RCVBUFFORCE = 33;
    internal const int SO_ATTACH_FILTER = 26;

    internal const int MSG_DONTWAIT = 0x40;

    internal const short POLLIN = 0x1;
    internal const short POLLERR = 0x8;
    internal const short POLLHUP = 0x10;

    internal const int PROT_READ = 0x1;
    internal const int PROT_WRITE = 0x2;
    internal const int MAP_SHARED = 0x01;
    internal const int MAP_LOCKED = 0x2000;

    internal const int CLONE_NEWNET = 0x40000000;

    internal const nuint SIOCGIFMTU = 0x8921;
    internal const nuint SIOCGIFHWADDR = 0x8927;
    internal const nuint SIOCGIFINDEX = 0x8933;
}

/// <summary>struct pollfd (poll.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int fd;
    public short events;
    public short revents;
}

/// <summary>struct ifreq (net/if.h): a 16-byte name and a 24-byte union; only the members we read.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct ifreq
{
    public const int IFNAMSIZ = 16;

    [FieldOffset(0)] public fixed byte ifr_name[IFNAMSIZ];
    /// <summary>ifr_hwaddr: a struct sockaddr, sa_family (ARPHRD_*) then the address bytes.</summary>
    [FieldOffset(16)] public ushort ifr_hwaddr_family;
    [FieldOffset(18)] public fixed byte ifr_hwaddr_data[14];
    [FieldOffset(16)] public int ifr_ifindex;
    [FieldOffset(16)] public int ifr_mtu;
}
