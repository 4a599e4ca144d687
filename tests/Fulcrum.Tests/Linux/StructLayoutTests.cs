using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fulcrum.Linux.Interop;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Linux;

/// <summary>
/// Checks every kernel struct Linux/Interop declares against the C headers of this machine: a small C
/// program printing sizeof/offsetof is compiled with cc at test time (as Tmds.LibC's StructTests do).
/// </summary>
public class StructLayoutTests
{
    private const string Program = """
        #include <stdio.h>
        #include <stddef.h>
        #include <poll.h>
        #include <net/if.h>
        #include <linux/if_packet.h>
        #include <linux/netlink.h>
        #include <linux/rtnetlink.h>
        #include <linux/neighbour.h>
        #include <linux/filter.h>
        #define S(t) printf("%s %zu\n", #t, sizeof(struct t));
        #define O(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(struct t, f));
        int main(void)
        {
            S(tpacket_req3) O(tpacket_req3, tp_block_size) O(tpacket_req3, tp_block_nr) O(tpacket_req3, tp_frame_size)
            O(tpacket_req3, tp_frame_nr) O(tpacket_req3, tp_retire_blk_tov) O(tpacket_req3, tp_sizeof_priv)
            O(tpacket_req3, tp_feature_req_word)
            S(tpacket_hdr_variant1) O(tpacket_hdr_variant1, tp_rxhash) O(tpacket_hdr_variant1, tp_vlan_tci)
            O(tpacket_hdr_variant1, tp_vlan_tpid) O(tpacket_hdr_variant1, tp_padding)
            S(tpacket3_hdr) O(tpacket3_hdr, tp_next_offset) O(tpacket3_hdr, tp_sec) O(tpacket3_hdr, tp_nsec)
            O(tpacket3_hdr, tp_snaplen) O(tpacket3_hdr, tp_len) O(tpacket3_hdr, tp_status) O(tpacket3_hdr, tp_mac)
            O(tpacket3_hdr, tp_net) O(tpacket3_hdr, hv1) O(tpacket3_hdr, tp_padding)
            S(tpacket2_hdr) O(tpacket2_hdr, tp_status) O(tpacket2_hdr, tp_len) O(tpacket2_hdr, tp_snaplen)
            O(tpacket2_hdr, tp_mac) O(tpacket2_hdr, tp_net) O(tpacket2_hdr, tp_vlan_tci) O(tpacket2_hdr, tp_vlan_tpid)
            S(tpacket_bd_ts)
            S(tpacket_hdr_v1) O(tpacket_hdr_v1, block_status) O(tpacket_hdr_v1, num_pkts)
            O(tpacket_hdr_v1, offset_to_first_pkt) O(tpacket_hdr_v1, blk_len) O(tpacket_hdr_v1, seq_num)
            O(tpacket_hdr_v1, ts_first_pkt) O(tpacket_hdr_v1, ts_last_pkt)
            S(tpacket_block_desc) O(tpacket_block_desc, version) O(tpacket_block_desc, offset_to_priv) O(tpacket_block_desc, hdr)
            S(tpacket_stats_v3) O(tpacket_stats_v3, tp_packets) O(tpacket_stats_v3, tp_drops) O(tpacket_stats_v3, tp_freeze_q_cnt)
            S(sockaddr_ll) O(sockaddr_ll, sll_family) O(sockaddr_ll, sll_protocol) O(sockaddr_ll, sll_ifindex)
            O(sockaddr_ll, sll_hatype) O(sockaddr_ll, sll_pkttype) O(sockaddr_ll, sll_halen) O(sockaddr_ll, sll_addr)
            S(sockaddr_nl) O(sockaddr_nl, nl_family) O(sockaddr_nl, nl_pid) O(sockaddr_nl, nl_groups)
            S(nlmsghdr) O(nlmsghdr, nlmsg_len) O(nlmsghdr, nlmsg_type) O(nlmsghdr, nlmsg_flags) O(nlmsghdr, nlmsg_seq)
            O(nlmsghdr, nlmsg_pid)
            S(nlmsgerr) O(nlmsgerr, error) O(nlmsgerr, msg)
            S(ndmsg) O(ndmsg, ndm_family) O(ndmsg, ndm_ifindex) O(ndmsg, ndm_state) O(ndmsg, ndm_flags) O(ndmsg, ndm_type)
            S(rtattr) O(rtattr, rta_len) O(rtattr, rta_type)
            S(pollfd) O(pollfd, fd) O(pollfd, events) O(pollfd, revents)
            S(ifreq) O(ifreq, ifr_name) O(ifreq, ifr_hwaddr) O(ifreq, ifr_ifindex) O(ifreq, ifr_mtu)
            S(sock_filter) O(sock_filter, code) O(sock_filter, jt) O(sock_filter, jf) O(sock_filter, k)
            S(sock_fprog) O(sock_fprog, len) O(sock_fprog, filter)
            printf("TPACKET3_HDRLEN %zu\n", (size_t)TPACKET3_HDRLEN);
            printf("TPACKET2_HDRLEN %zu\n", (size_t)TPACKET2_HDRLEN);
            printf("sockaddr_ll.size %zu\n", sizeof(struct sockaddr_ll));
            return 0;
        }
        """;

    private static readonly Lazy<Dictionary<string, int>> C = new(CompileAndRun);

    public static TheoryData<string, int> Layouts() => new()
    {
        { "tpacket_req3", Unsafe.SizeOf<tpacket_req3>() },
        { "tpacket_req3.tp_block_size", Off<tpacket_req3>(nameof(tpacket_req3.tp_block_size)) },
        { "tpacket_req3.tp_block_nr", Off<tpacket_req3>(nameof(tpacket_req3.tp_block_nr)) },
        { "tpacket_req3.tp_frame_size", Off<tpacket_req3>(nameof(tpacket_req3.tp_frame_size)) },
        { "tpacket_req3.tp_frame_nr", Off<tpacket_req3>(nameof(tpacket_req3.tp_frame_nr)) },
        { "tpacket_req3.tp_retire_blk_tov", Off<tpacket_req3>(nameof(tpacket_req3.tp_retire_blk_tov)) },
        { "tpacket_req3.tp_sizeof_priv", Off<tpacket_req3>(nameof(tpacket_req3.tp_sizeof_priv)) },
        { "tpacket_req3.tp_feature_req_word", Off<tpacket_req3>(nameof(tpacket_req3.tp_feature_req_word)) },
        { "tpacket_hdr_variant1", Unsafe.SizeOf<tpacket_hdr_variant1>() },
        { "tpacket_hdr_variant1.tp_rxhash", Off<tpacket_hdr_variant1>(nameof(tpacket_hdr_variant1.tp_rxhash)) },
        { "tpacket_hdr_variant1.tp_vlan_tci", Off<tpacket_hdr_variant1>(nameof(tpacket_hdr_variant1.tp_vlan_tci)) },
        { "tpacket_hdr_variant1.tp_vlan_tpid", Off<tpacket_hdr_variant1>(nameof(tpacket_hdr_variant1.tp_vlan_tpid)) },
        { "tpacket_hdr_variant1.tp_padding", Off<tpacket_hdr_variant1>(nameof(tpacket_hdr_variant1.tp_padding)) },
        { "tpacket3_hdr", Unsafe.SizeOf<tpacket3_hdr>() },
        { "tpacket3_hdr.tp_next_offset", Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_next_offset)) },
        { "tpacket3_hdr.tp_sec", Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_sec)) },
        { "tpacket3_hdr.tp_nsec", Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_nsec)) },
        { "tpacket3_hdr.tp_snaplen", Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_snaplen)) },
        { "tpacket3_hdr.tp_len", Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_len)) },
        { "tpacket3_hdr.tp_status", Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_status)) },
        { "tpacket3_hdr.tp_mac", Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_mac)) },
        { "tpacket3_hdr.tp_net", Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_net)) },
        { "tpacket3_hdr.hv1", Off<tpacket3_hdr>(nameof(tpacket3_hdr.hv1)) },
        { "tpacket3_hdr.tp_padding", Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_padding)) },
        { "tpacket_bd_ts", Unsafe.SizeOf<tpacket_bd_ts>() },
        { "tpacket_hdr_v1", Unsafe.SizeOf<tpacket_hdr_v1>() },
        { "tpacket_hdr_v1.block_status", Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.block_status)) },
        { "tpacket_hdr_v1.num_pkts", Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.num_pkts)) },
        { "tpacket_hdr_v1.offset_to_first_pkt", Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.offset_to_first_pkt)) },
        { "tpacket_hdr_v1.blk_len", Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.blk_len)) },
        { "tpacket_hdr_v1.seq_num", Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.seq_num)) },
        { "tpacket_hdr_v1.ts_first_pkt", Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.ts_first_pkt)) },
        { "tpacket_hdr_v1.ts_last_pkt", Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.ts_last_pkt)) },
        { "tpacket_block_desc", Unsafe.SizeOf<tpacket_block_desc>() },
        { "tpacket_block_desc.version", Off<tpacket_block_desc>(nameof(tpacket_block_desc.version)) },
        { "tpacket_block_desc.offset_to_priv", Off<tpacket_block_desc>(nameof(tpacket_block_desc.offset_to_priv)) },
        { "tpacket_block_desc.hdr", Off<tpacket_block_desc>(nameof(tpacket_block_desc.hdr)) },
        { "tpacket_stats_v3", Unsafe.SizeOf<tpacket_stats_v3>() },
        { "tpacket_stats_v3.tp_packets", Off<tpacket_stats_v3>(nameof(tpacket_stats_v3.tp_packets)) },
        { "tpacket_stats_v3.tp_drops", Off<tpacket_stats_v3>(nameof(tpacket_stats_v3.tp_drops)) },
        { "tpacket_stats_v3.tp_freeze_q_cnt", Off<tpacket_stats_v3>(nameof(tpacket_stats_v3.tp_freeze_q_cnt)) },
        { "sockaddr_ll", Unsafe.SizeOf<sockaddr_ll>() },
        { "sockaddr_ll.sll_family", Off<sockaddr_ll>(nameof(sockaddr_ll.sll_family)) },
        { "sockaddr_ll.sll_protocol", Off<sockaddr_ll>(nameof(sockaddr_ll.sll_protocol)) },
        { "sockaddr_ll.sll_ifindex", Off<sockaddr_ll>(nameof(sockaddr_ll.sll_ifindex)) },
        { "sockaddr_ll.sll_hatype", Off<sockaddr_ll>(nameof(sockaddr_ll.sll_hatype)) },
        { "sockaddr_ll.sll_pkttype", Off<sockaddr_ll>(nameof(sockaddr_ll.sll_pkttype)) },
        { "sockaddr_ll.sll_halen", Off<sockaddr_ll>(nameof(sockaddr_ll.sll_halen)) },
        { "sockaddr_ll.sll_addr", Off<sockaddr_ll>(nameof(sockaddr_ll.sll_addr)) },
        { "sockaddr_nl", Unsafe.SizeOf<sockaddr_nl>() },
        { "sockaddr_nl.nl_family", Off<sockaddr_nl>(nameof(sockaddr_nl.nl_family)) },
        { "sockaddr_nl.nl_pid", Off<sockaddr_nl>(nameof(sockaddr_nl.nl_pid)) },
        { "sockaddr_nl.nl_groups", Off<sockaddr_nl>(nameof(sockaddr_nl.nl_groups)) },
        { "nlmsghdr", Unsafe.SizeOf<nlmsghdr>() },
        { "nlmsghdr.nlmsg_len", Off<nlmsghdr>(nameof(nlmsghdr.nlmsg_len)) },
        { "nlmsghdr.nlmsg_type", Off<nlmsghdr>(nameof(nlmsghdr.nlmsg_type)) },
        { "nlmsghdr.nlmsg_flags", Off<nlmsghdr>(nameof(nlmsghdr.nlmsg_flags)) },
        { "nlmsghdr.nlmsg_seq", Off<nlmsghdr>(nameof(nlmsghdr.nlmsg_seq)) },
        { "nlmsghdr.nlmsg_pid", Off<nlmsghdr>(nameof(nlmsghdr.nlmsg_pid)) },
        { "nlmsgerr", Unsafe.SizeOf<nlmsgerr>() },
        { "nlmsgerr.error", Off<nlmsgerr>(nameof(nlmsgerr.error)) },
        { "nlmsgerr.msg", Off<nlmsgerr>(nameof(nlmsgerr.msg)) },
        { "ndmsg", Unsafe.SizeOf<ndmsg>() },
        { "ndmsg.ndm_family", Off<ndmsg>(nameof(ndmsg.ndm_family)) },
        { "ndmsg.ndm_ifindex", Off<ndmsg>(nameof(ndmsg.ndm_ifindex)) },
        { "ndmsg.ndm_state", Off<ndmsg>(nameof(ndmsg.ndm_state)) },
        { "ndmsg.ndm_flags", Off<ndmsg>(nameof(ndmsg.ndm_flags)) },
        { "ndmsg.ndm_type", Off<ndmsg>(nameof(ndmsg.ndm_type)) },
        { "rtattr", Unsafe.SizeOf<rtattr>() },
        { "rtattr.rta_len", Off<rtattr>(nameof(rtattr.rta_len)) },
        { "rtattr.rta_type", Off<rtattr>(nameof(rtattr.rta_type)) },
        { "pollfd", Unsafe.SizeOf<PollFd>() },
        { "pollfd.fd", Off<PollFd>(nameof(PollFd.fd)) },
        { "pollfd.events", Off<PollFd>(nameof(PollFd.events)) },
        { "pollfd.revents", Off<PollFd>(nameof(PollFd.revents)) },
        { "ifreq", Unsafe.SizeOf<ifreq>() },
        { "ifreq.ifr_name", Off<ifreq>(nameof(ifreq.ifr_name)) },
        { "ifreq.ifr_hwaddr", Off<ifreq>(nameof(ifreq.ifr_hwaddr_family)) },
        { "ifreq.ifr_ifindex", Off<ifreq>(nameof(ifreq.ifr_ifindex)) },
        { "ifreq.ifr_mtu", Off<ifreq>(nameof(ifreq.ifr_mtu)) },
        { "sock_filter", Unsafe.SizeOf<sock_filter>() },
        { "sock_filter.code", Off<sock_filter>(nameof(sock_filter.code)) },
        { "sock_filter.jt", Off<sock_filter>(nameof(sock_filter.jt)) },
        { "sock_filter.jf", Off<sock_filter>(nameof(sock_filter.jf)) },
        { "sock_filter.k", Off<sock_filter>(nameof(sock_filter.k)) },
        { "sock_fprog", Unsafe.SizeOf<sock_fprog>() },
        { "sock_fprog.len", Off<sock_fprog>(nameof(sock_fprog.len)) },
        { "sock_fprog.filter", Off<sock_fprog>(nameof(sock_fprog.filter)) },
        { "TPACKET3_HDRLEN", Packet.TxDataOffset + Unsafe.SizeOf<sockaddr_ll>() },
        { "TPACKET2_HDRLEN", Packet.TxDataOffsetV2 + Unsafe.SizeOf<sockaddr_ll>() },
        { "tpacket2_hdr", Unsafe.SizeOf<tpacket2_hdr>() },
        { "tpacket2_hdr.tp_status", Off<tpacket2_hdr>(nameof(tpacket2_hdr.tp_status)) },
        { "tpacket2_hdr.tp_len", Off<tpacket2_hdr>(nameof(tpacket2_hdr.tp_len)) },
        { "tpacket2_hdr.tp_snaplen", Off<tpacket2_hdr>(nameof(tpacket2_hdr.tp_snaplen)) },
        { "tpacket2_hdr.tp_mac", Off<tpacket2_hdr>(nameof(tpacket2_hdr.tp_mac)) },
        { "tpacket2_hdr.tp_net", Off<tpacket2_hdr>(nameof(tpacket2_hdr.tp_net)) },
        { "tpacket2_hdr.tp_vlan_tci", Off<tpacket2_hdr>(nameof(tpacket2_hdr.tp_vlan_tci)) },
        { "tpacket2_hdr.tp_vlan_tpid", Off<tpacket2_hdr>(nameof(tpacket2_hdr.tp_vlan_tpid)) },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Layout_MatchesCHeader(string what, int csharp)
    {
        Assert.True(C.Value.TryGetValue(what, out int c), $"the C program printed no {what}");
        Assert.Equal(c, csharp);
    }

    [Fact]
    public void Layout_EveryCValueIsChecked()
    {
        var checkedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (object[] row in Layouts())
        {
            checkedNames.Add((string)row[0]);
        }

        checkedNames.Add("sockaddr_ll.size");
        Assert.DoesNotContain(C.Value.Keys, k => !checkedNames.Contains(k));
    }

    private static int Off<T>(string field)
        where T : struct => (int)Marshal.OffsetOf<T>(field);

    private static Dictionary<string, int> CompileAndRun()
    {
        return CLayoutProbe.Run(Program);
    }
}
