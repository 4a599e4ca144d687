using System.Runtime.InteropServices;

// Kernel structs keep the kernel's names (include/uapi/linux/if_xdp.h), as in Packet.cs.
#pragma warning disable CS8981

namespace Fulcrum.Linux.Interop;

// AF_XDP kernel ABI, names as in include/uapi/linux/if_xdp.h. Debian 12's libbpf 1.1 no longer ships
// xsk.h (moved to libxdp, which Debian 12 does not package), so Linux/XdpSocket.cs drives the rings
// itself over this ABI. Layouts are checked against the C header by tests/Fulcrum.Tests/Linux/XdpLayoutTests.cs.
internal static class Xdp
{
    internal const int AF_XDP = 44;
    internal const int SOL_XDP = 283;

    // sockaddr_xdp.sxdp_flags
    internal const ushort XDP_SHARED_UMEM = 1 << 0;
    internal const ushort XDP_COPY = 1 << 1;
    internal const ushort XDP_ZEROCOPY = 1 << 2;
    internal const ushort XDP_USE_NEED_WAKEUP = 1 << 3;

    internal const uint XDP_RING_NEED_WAKEUP = 1 << 0;

    // setsockopt/getsockopt names at SOL_XDP
    internal const int XDP_MMAP_OFFSETS = 1;
    internal const int XDP_RX_RING = 2;
    internal const int XDP_TX_RING = 3;
    internal const int XDP_UMEM_REG = 4;
    internal const int XDP_UMEM_FILL_RING = 5;
    internal const int XDP_UMEM_COMPLETION_RING = 6;
    internal const int XDP_STATISTICS = 7;
    internal const int XDP_OPTIONS = 8;

    internal const uint XDP_OPTIONS_ZEROCOPY = 1 << 0;

    // mmap offsets of the four rings
    internal const long XDP_PGOFF_RX_RING = 0;
    internal const long XDP_PGOFF_TX_RING = 0x80000000;
    internal const long XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
    internal const long XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;

    // mmap flags for the UMEM (anonymous, page-aligned, zeroed) and the rings (pre-faulted).
    internal const int MAP_PRIVATE = 0x02;
    internal const int MAP_ANONYMOUS = 0x20;
    internal const int MAP_POPULATE = 0x8000;

    internal const int EBUSY = 16;
    internal const int ENETDOWN = 100;
}

[StructLayout(LayoutKind.Sequential)]
internal struct sockaddr_xdp
{
    public ushort sxdp_family;
    public ushort sxdp_flags;
    public uint sxdp_ifindex;
    public uint sxdp_queue_id;
    public uint sxdp_shared_umem_fd;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_ring_offset
{
    public ulong producer;
    public ulong consumer;
    public ulong desc;
    public ulong flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_mmap_offsets
{
    public xdp_ring_offset rx;
    public xdp_ring_offset tx;
    public xdp_ring_offset fr;
    public xdp_ring_offset cr;
}

/// <summary>xdp_umem_reg with the 4 bytes after flags (tx_metadata_len since Linux 6.8) kept 0.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct xdp_umem_reg
{
    public ulong addr;
    public ulong len;
    public uint chunk_size;
    public uint headroom;
    public uint flags;
    public uint tx_metadata_len;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_desc
{
    public ulong addr;
    public uint len;
    public uint options;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_statistics
{
    public ulong rx_dropped;
    public ulong rx_invalid_descs;
    public ulong tx_invalid_descs;
    public ulong rx_ring_full;
    public ulong rx_fill_ring_empty_descs;
    public ulong tx_ring_empty_descs;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_options
{
    public uint flags;
}
