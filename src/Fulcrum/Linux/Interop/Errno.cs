using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Fulcrum.Linux.Interop;

internal static class Errno
{
    /// <summary>Throws a <see cref="LinuxException"/> for the errno the last P/Invoke left.</summary>
    [DoesNotReturn]
    public static void Throw(string call) => throw new LinuxException(call, Marshal.GetLastPInvokeError());

    [DoesNotReturn]
    public static void Throw(string call, int errno) => throw new LinuxException(call, errno);

    /// <summary>The symbolic name of common errno values, so messages say EPERM rather than 1.</summary>
    public static string Name(int errno) => errno switch
    {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        22 => "EINVAL",
        34 => "ERANGE",
        71 => "EPROTO",
        90 => "EMSGSIZE",
        92 => "ENOPROTOOPT",
        93 => "EPROTONOSUPPORT",
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        100 => "ENETDOWN",
        105 => "ENOBUFS",
        6 => "ENXIO",
        _ => "errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
