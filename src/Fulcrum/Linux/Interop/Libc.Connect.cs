using System.Runtime.InteropServices;

namespace Fulcrum.Linux.Interop;

internal static unsafe partial class Libc
{
    internal const int AF_UNIX = 1;
    internal const int SOCK_STREAM = 1;
    internal const int MSG_NOSIGNAL = 0x4000;

    /// <summary>sizeof(struct sockaddr_un): sa_family_t sun_family, char sun_path[108].</summary>
    internal const int SockaddrUnSize = 110;

    [LibraryImport(Library, EntryPoint = "connect", SetLastError = true)]
    internal static partial int Connect(int fd, void* address, uint addressLength);
}
