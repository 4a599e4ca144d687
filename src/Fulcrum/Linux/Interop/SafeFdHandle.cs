using System.Runtime.InteropServices;

namespace Fulcrum.Linux.Interop;

/// <summary>A file descriptor closed exactly once, when the owner disposes it or the finalizer runs.</summary>
internal sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    public SafeFdHandle(int fd)
        : base(new IntPtr(-1), ownsHandle: true) => SetHandle(new IntPtr(fd));

    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw descriptor, for the calls in this folder. Valid while the handle is not disposed.</summary>
    public int Fd => (int)handle.ToInt64();

    protected override bool ReleaseHandle() => Libc.Close((int)handle.ToInt64()) == 0;
}
