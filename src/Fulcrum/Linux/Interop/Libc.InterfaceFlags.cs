using System.Runtime.InteropServices;

#pragma warning disable CS8981 // kernel struct names, as in Libc.cs

namespace Fulcrum.Linux.Interop;

internal static partial class Libc
{
    internal const nuint SIOCGIFFLAGS = 0x8913;
    internal const short IFF_UP = 0x1;
    internal const short IFF_RUNNING = 0x40;
}

/// <summary>struct ifreq (net/if.h) read as ifr_flags: the name, then a short at offset 16; 40 bytes in all.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct ifreq_flags
{
    [FieldOffset(0)] public fixed byte ifr_name[ifreq.IFNAMSIZ];
    [FieldOffset(16)] public short ifr_flags;
}
