using System.Runtime.InteropServices;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>A Linux system call failed; <see cref="Errno"/> is the kernel's error number.</summary>
public sealed class LinuxException : IOException
{
    public LinuxException()
    {
    }

    public LinuxException(string message)
        : base(message)
    {
    }

    public LinuxException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public LinuxException(string call, int errno)
        : base($"{call} failed: {Interop.Errno.Name(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})")
    {
        Errno = errno;
        Call = call;
    }

    /// <summary>The errno value (positive), 0 when the failure did not come with one.</summary>
    public int Errno { get; }

    /// <summary>What failed, e.g. "setsockopt(PACKET_RX_RING)".</summary>
    public string Call { get; } = string.Empty;
}
