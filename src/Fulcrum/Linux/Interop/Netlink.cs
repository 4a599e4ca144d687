using System.Runtime.InteropServices;

// Kernel structs keep the kernel's all-lowercase names (style.md: as Tmds.LibC does), which C# flags as
// possibly reserved words one day; they are internal to this folder, so a rename would be cheap.
#pragma warning disable CS8981

namespace Fulcrum.Linux.Interop;

// rtnetlink ABI, names as in include/uapi/linux/netlink.h, rtnetlink.h and neighbour.h.
// Layouts are checked against the C headers by tests/Fulcrum.Tests/Linux/StructLayoutTests.cs.

internal static class Netlink
{
    internal const int AF_NETLINK = 16;
    internal const int NETLINK_ROUTE = 0;
    internal const int SOL_NETLINK = 270;
    internal const int NETLINK_EXT_ACK = 11;
    internal const int NETLINK_GET_STRICT_CHK = 12;

    internal const ushort NLMSG_NOOP = 1;
    internal const ushort NLMSG_ERROR = 2;
    internal const ushort NLMSG_DONE = 3;
    internal const ushort NLMSG_OVERRUN = 4;

    internal const ushort NLM_F_REQUEST = 0x01;
    internal const ushort NLM_F_MULTI = 0x02;
    internal const ushort NLM_F_ACK = 0x04;
    internal const ushort NLM_F_DUMP_INTR = 0x10;
    internal const ushort NLM_F_ROOT = 0x100;
    internal const ushort NLM_F_MATCH = 0x200;
    internal const ushort NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
    internal const ushort NLM_F_REPLACE = 0x100;
    internal const ushort NLM_F_CREATE = 0x400;

    internal const ushort RTM_NEWNEIGH = 28;
    internal const ushort RTM_DELNEIGH = 29;
    internal const ushort RTM_GETNEIGH = 30;

    /// <summary>RTNLGRP_NEIGH = 3; the legacy nl_groups bit mask is 1 &lt;&lt; (group - 1) (RTMGRP_NEIGH).</summary>
    internal const uint RTMGRP_NEIGH = 0x4;

    internal const ushort NDA_DST = 1;
    internal const ushort NDA_LLADDR = 2;
    internal const ushort NDA_IFINDEX = 8;

    internal const byte NTF_USE = 0x01;

    internal const int NLMSG_ALIGNTO = 4;
    internal const int RTA_ALIGNTO = 4;

    internal static int NLMSG_ALIGN(int len) => (len + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);

    internal static int RTA_ALIGN(int len) => (len + RTA_ALIGNTO - 1) & ~(RTA_ALIGNTO - 1);
}

/// <summary>struct sockaddr_nl.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct sockaddr_nl
{
    public ushort nl_family;
    public ushort nl_pad;
    public uint nl_pid;
    public uint nl_groups;
}

/// <summary>struct nlmsghdr.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct nlmsghdr
{
    public uint nlmsg_len;
    public ushort nlmsg_type;
    public ushort nlmsg_flags;
    public uint nlmsg_seq;
    public uint nlmsg_pid;
}

/// <summary>struct nlmsgerr: the negative errno (0 for an ACK) and the request it answers.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct nlmsgerr
{
    public int error;
    public nlmsghdr msg;
}

/// <summary>struct ndmsg: the fixed part of RTM_*NEIGH messages.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ndmsg
{
    public byte ndm_family;
    public byte ndm_pad1;
    public ushort ndm_pad2;
    public int ndm_ifindex;
    public ushort ndm_state;
    public byte ndm_flags;
    public byte ndm_type;
}

/// <summary>struct rtattr: a type-length-value attribute after the fixed part.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct rtattr
{
    public ushort rta_len;
    public ushort rta_type;
}
