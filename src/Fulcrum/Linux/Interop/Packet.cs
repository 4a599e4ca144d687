using System.Runtime.InteropServices;

namespace Fulcrum.Linux.Interop;

// AF_PACKET kernel ABI, names as in include/uapi/linux/if_packet.h and linux/if_ether.h.
// Layouts are checked against the C headers by tests/Fulcrum.Tests/Linux/StructLayoutTests.cs.

internal static class Packet
{
    internal const int AF_PACKET = 17;
    internal const int SOL_PACKET = 263;
    internal const ushort ETH_P_ALL = 0x0003;

    internal const int PACKET_RX_RING = 5;
    internal const int PACKET_STATISTICS = 6;
    internal const int PACKET_VERSION = 10;
    internal const int PACKET_TX_RING = 13;
    internal const int PACKET_LOSS = 14;
    internal const int PACKET_FANOUT = 18;
    internal const int PACKET_QDISC_BYPASS = 20;
    internal const int PACKET_FANOUT_DATA = 22;
    internal const int PACKET_IGNORE_OUTGOING = 23;

    internal const int TPACKET_V2 = 1;
    internal const int TPACKET_V3 = 2;

    internal const int PACKET_FANOUT_HASH = 0;
    internal const int PACKET_FANOUT_CBPF = 6;

    /// <summary>
    /// A fanout group has its own packet_type hook, which replaces each member's: the member's
    /// PACKET_IGNORE_OUTGOING no longer applies, the group needs this flag (Linux 6.2, not yet in every
    /// distribution's if_packet.h).
    /// </summary>
    internal const int PACKET_FANOUT_FLAG_IGNORE_OUTGOING = 0x4000;

    // RX block and frame status.
    internal const uint TP_STATUS_KERNEL = 0;
    internal const uint TP_STATUS_USER = 1 << 0;
    internal const uint TP_STATUS_COPY = 1 << 1;
    internal const uint TP_STATUS_LOSING = 1 << 2;
    internal const uint TP_STATUS_CSUMNOTREADY = 1 << 3;
    internal const uint TP_STATUS_VLAN_VALID = 1 << 4;
    internal const uint TP_STATUS_BLK_TMO = 1 << 5;
    internal const uint TP_STATUS_VLAN_TPID_VALID = 1 << 6;
    internal const uint TP_STATUS_CSUM_VALID = 1 << 7;

    // TX frame status.
    internal const uint TP_STATUS_AVAILABLE = 0;
    internal const uint TP_STATUS_SEND_REQUEST = 1 << 0;
    internal const uint TP_STATUS_SENDING = 1 << 1;
    internal const uint TP_STATUS_WRONG_FORMAT = 1 << 2;

    internal const int TPACKET_ALIGNMENT = 16;

    internal static int TPACKET_ALIGN(int x) => (x + TPACKET_ALIGNMENT - 1) & ~(TPACKET_ALIGNMENT - 1);

    /// <summary>
    /// Where a TX frame's bytes start in its slot: tpacket_parse_header (net/packet/af_packet.c) uses
    /// po->tp_hdrlen - sizeof(struct sockaddr_ll), i.e. TPACKET_ALIGN(sizeof(struct tpacket3_hdr)).
    /// </summary>
    internal static unsafe int TxDataOffset => TPACKET_ALIGN(sizeof(tpacket3_hdr));

    /// <summary>The same for a TPACKET_V2 socket: TPACKET_ALIGN(sizeof(struct tpacket2_hdr)).</summary>
    internal static unsafe int TxDataOffsetV2 => TPACKET_ALIGN(sizeof(tpacket2_hdr));
}

/// <summary>struct tpacket2_hdr: the header in front of each frame slot of a TPACKET_V2 ring (RX and TX).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct tpacket2_hdr
{
    public uint tp_status;
    public uint tp_len;
    public uint tp_snaplen;
    public ushort tp_mac;
    public ushort tp_net;
    public uint tp_sec;
    public uint tp_nsec;
    public ushort tp_vlan_tci;
    public ushort tp_vlan_tpid;
    public fixed byte tp_padding[4];
}

/// <summary>struct tpacket_req3: geometry of a TPACKET_V3 ring.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_req3
{
    public uint tp_block_size;
    public uint tp_block_nr;
    public uint tp_frame_size;
    public uint tp_frame_nr;
    public uint tp_retire_blk_tov;
    public uint tp_sizeof_priv;
    public uint tp_feature_req_word;
}

/// <summary>struct tpacket_hdr_variant1: the RX hash and the VLAN tag the kernel stripped.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_hdr_variant1
{
    public uint tp_rxhash;
    public uint tp_vlan_tci;
    public ushort tp_vlan_tpid;
    public ushort tp_padding;
}

/// <summary>struct tpacket3_hdr: the header in front of each frame of a TPACKET_V3 ring.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct tpacket3_hdr
{
    public uint tp_next_offset;
    public uint tp_sec;
    public uint tp_nsec;
    public uint tp_snaplen;
    public uint tp_len;
    public uint tp_status;
    public ushort tp_mac;
    public ushort tp_net;
    public tpacket_hdr_variant1 hv1;
    public fixed byte tp_padding[8];
}

/// <summary>struct tpacket_bd_ts.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_bd_ts
{
    public uint ts_sec;
    public uint ts_usec_or_nsec;
}

/// <summary>struct tpacket_hdr_v1: the header of one RX block.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_hdr_v1
{
    public uint block_status;
    public uint num_pkts;
    public uint offset_to_first_pkt;
    public uint blk_len;
    public ulong seq_num;
    public tpacket_bd_ts ts_first_pkt;
    public tpacket_bd_ts ts_last_pkt;
}

/// <summary>struct tpacket_block_desc: version, private area offset, then the (8-aligned) block header.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_block_desc
{
    public uint version;
    public uint offset_to_priv;
    public tpacket_hdr_v1 hdr;
}

/// <summary>struct tpacket_stats_v3 (PACKET_STATISTICS on a TPACKET_V3 socket; reading resets it).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_stats_v3
{
    public uint tp_packets;
    public uint tp_drops;
    public uint tp_freeze_q_cnt;
}

/// <summary>struct sockaddr_ll (linux/if_packet.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct sockaddr_ll
{
    public ushort sll_family;
    /// <summary>Network byte order.</summary>
    public ushort sll_protocol;
    public int sll_ifindex;
    public ushort sll_hatype;
    public byte sll_pkttype;
    public byte sll_halen;
    public fixed byte sll_addr[8];
}

/// <summary>struct sock_filter (linux/filter.h): one classic BPF instruction.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct sock_filter
{
    public ushort code;
    public byte jt;
    public byte jf;
    public uint k;

    public sock_filter(ushort code, byte jt, byte jf, uint k)
    {
        this.code = code;
        this.jt = jt;
        this.jf = jf;
        this.k = k;
    }
}

/// <summary>struct sock_fprog (linux/filter.h): a classic BPF program for SO_ATTACH_FILTER / PACKET_FANOUT_DATA.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct sock_fprog
{
    public ushort len;
    public sock_filter* filter;
}

/// <summary>Classic BPF opcodes and offsets (linux/bpf_common.h, linux/filter.h).</summary>
internal static class Cbpf
{
    internal const ushort BPF_LD = 0x00;
    internal const ushort BPF_ALU = 0x04;
    internal const ushort BPF_JMP = 0x05;
    internal const ushort BPF_RET = 0x06;
    internal const ushort BPF_W = 0x00;
    internal const ushort BPF_H = 0x08;
    internal const ushort BPF_B = 0x10;
    internal const ushort BPF_ABS = 0x20;
    internal const ushort BPF_MUL = 0x20;
    internal const ushort BPF_AND = 0x50;
    internal const ushort BPF_RSH = 0x70;
    internal const ushort BPF_JEQ = 0x10;
    internal const ushort BPF_K = 0x00;
    internal const ushort BPF_A = 0x10;

    /// <summary>SKF_AD_OFF + SKF_AD_PROTOCOL: loads skb->protocol (host order).</summary>
    internal const uint SKF_AD_PROTOCOL = unchecked((uint)(-0x1000 + 0));

    /// <summary>SKF_NET_OFF: offsets from the network header, wherever the MAC header ends.</summary>
    internal const int SKF_NET_OFF = -0x100000;
}
