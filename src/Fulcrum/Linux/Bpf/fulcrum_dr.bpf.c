// SPDX-License-Identifier: GPL-2.0
// Fulcrum's kernel tier: forwards packets of LVS-DR connections the C# data plane has already
// scheduled (TCP from its SYN, UDP after its first datagram), from a connection map the C# side fills
// (Linux/Bpf/KernelTier.cs), and moves a TCP entry's state along the INPUT-ONLY rows of IPVS's table
// (ip_vs_proto_tcp.c) for the segments it forwards: ACKs and FINs. SYN and RST segments go up to the C#
// path (AF_PACKET), which reads the entry's state first and runs those rows itself (a SYN may start a new
// connection, a RST ends one), as do new flows, fragments, IP options, VLAN tags and non-IPv4.
//
// Three entry points share one decision (fulcrum_match), so they can never disagree:
//   fulcrum_tc      cls_bpf direct-action on ingress; a hit is rewritten and bpf_redirect'ed out of the
//                   same interface. The skb keeps CHECKSUM_PARTIAL, so frames from local veth senders
//                   still reach the real server with a checksum it accepts.
//   fulcrum_filter  SO_ATTACH_BPF on the AF_PACKET ring: taps (ptype_all) run before tc ingress, so
//                   the ring must not see the frames fulcrum_tc is about to forward (returns 0 on a hit).
//   fulcrum_xdp     XDP (native or generic); XDP runs before the taps, so no filter is needed.
//
// A fourth, fulcrum_xsk, is the AF_XDP driver's (`--driver afxdp`, Linux/XdpSocket.cs) and runs alone:
// frames of claimed virtual services go up the AF_XDP socket bound to their RX queue, the rest to the stack.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "fulcrum_dr.h"

// A hash without preallocation, not an LRU: LRU maps are always preallocated (256K entries took 1-8 s to
// create on a busy 2-CPU machine, 1M ~160 MB), and an LRU would evict entries silently with their unfolded
// counts. Here the C# tier decides every removal; when the map is full, Install fails and the C# tier keeps
// forwarding that flow itself. Sized like the C# connection table's default bound. Not per-CPU: the state
// must be one value whichever CPU a flow's frames arrive on, so the counters are atomic adds.
#define FULCRUM_CONN_MAX 1048576

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FULCRUM_CONN_MAX);
	__type(key, struct fulcrum_conn_key);
	__type(value, struct fulcrum_conn_value);
} fulcrum_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fulcrum_config);
} fulcrum_config SEC(".maps");

// One BPF ring buffer per data-plane worker (created and inserted by C#, Linux/Bpf/KernelTier.cs): the
// connections handed back. Submitted without a wake-up; the worker drains its ring after each poll.
#define FULCRUM_WORKERS_MAX 64

struct fulcrum_event_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, FULCRUM_WORKERS_MAX);
	__type(key, __u32);
	__array(values, struct fulcrum_event_ring);
} fulcrum_events SEC(".maps");

// Per-CPU totals of what this program forwarded (index 0) and sent up (index 1): for diagnostics.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} fulcrum_totals SEC(".maps");

#define ETH_HLEN_ 14
#define TCP_FLAGS_OFF 13 // byte 13 of the TCP header: CWR ECE URG ACK PSH RST SYN FIN
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

// IPVS TCP states (IP_VS_TCP_S_*, include/net/ip_vs.h), the C# IpvsTcpState.
enum { sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA, sLAST };

// The fin and ack rows of tcp_states' INPUT-ONLY part (ip_vs_proto_tcp.c; the C# TcpStateMachine.InputOnly):
// the segments this program forwards. Columns: the current state sNO..sSA.
static const __u8 fulcrum_fin_row[sLAST] = { sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW };
static const __u8 fulcrum_ack_row[sLAST] = { sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES };

static __always_inline void count_total(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&fulcrum_totals, &index);
	if (n)
		*n += 1;
}

// The first 14 + 20 + 14 bytes of a frame: Ethernet, an option-less IPv4 header, the transport
// ports and (for TCP) the flags byte. Parsed from a copy so tc, the socket filter and XDP share it.
struct fulcrum_head {
	__u8 dst_mac[6];
	__u8 src_mac[6];
	__u16 proto;
	struct iphdr ip;
	__u16 sport;
	__u16 dport;
	__u8 l4[10]; // TCP: seq, ack, data offset, flags
} __attribute__((packed));

static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

// Returns the map value on a hit (the frame is forwarded by the kernel tier), NULL otherwise.
static __always_inline struct fulcrum_conn_value *fulcrum_match(const struct fulcrum_head *h,
								__u32 len, __u32 *ip_len)
{
	if (len < sizeof(struct fulcrum_head) || h->proto != bpf_htons(ETH_P_IP))
		return NULL;
	if (h->ip.version != 4 || h->ip.ihl != 5)
		return NULL;
	// Fragments go up: only the first has ports, and IPVS handles them in C#.
	if (h->ip.frag_off & bpf_htons(0x3fff))
		return NULL;
	if (h->ip.protocol == IPPROTO_TCP) {
		if (h->l4[TCP_FLAGS_OFF - 4] & (TCP_SYN | TCP_RST))
			return NULL;
	} else if (h->ip.protocol != IPPROTO_UDP) {
		return NULL;
	}

	__u32 zero = 0;
	struct fulcrum_config *cfg = bpf_map_lookup_elem(&fulcrum_config, &zero);
	if (!cfg)
		return NULL;
	// Only frames sent to this director (the C# path's rule): a switch flooding a peer's MAC must not
	// make a BACKUP forward the MASTER's traffic.
	if (!mac_equal(h->dst_mac, cfg->own_mac))
		return NULL;

	struct fulcrum_conn_key key = {
		.protocol = h->ip.protocol,
		.client_addr = h->ip.saddr,
		.virtual_addr = h->ip.daddr,
		.client_port = h->sport,
		.virtual_port = h->dport,
	};
	*ip_len = bpf_ntohs(h->ip.tot_len);
	return bpf_map_lookup_elem(&fulcrum_conns, &key);
}

// Hands a connection a FIN moved out of SYN_RECV/ESTABLISHED back to its worker: the final counts and state
// go into the worker's event ring and the entry is deleted, so the rest of the connection (its last ACKs)
// goes up to C#. Without a ring (none configured, or full) the entry stays; the C# sweep finds it.
static __always_inline void fulcrum_hand_back(const struct fulcrum_head *h, struct fulcrum_conn_value *v,
					      const struct fulcrum_config *cfg)
{
	__u32 worker = 0;
	if (cfg->workers == 0)
		return;
	if (cfg->workers > 1) {
		// The fanout program's arithmetic (32-bit, the address in host order), then fanout_demux_bpf's "% members".
		__u32 a = (bpf_ntohl(h->ip.saddr) & cfg->fanout_mask) * 0x9E3779B1u;
		worker = (a >> 16) % cfg->workers;
	}
	void *ring = bpf_map_lookup_elem(&fulcrum_events, &worker);
	if (!ring)
		return;
	struct fulcrum_event *e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
	if (!e)
		return;
	struct fulcrum_conn_key key = {
		.protocol = h->ip.protocol,
		.client_addr = h->ip.saddr,
		.virtual_addr = h->ip.daddr,
		.client_port = h->sport,
		.virtual_port = h->dport,
	};
	e->key = key;
	e->packets = v->packets;
	e->bytes = v->bytes;
	e->last_seen_ns = v->last_seen_ns;
	e->state = v->state;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	// Deleted first: the worker may read the event the moment it is submitted, and then expects the entry gone.
	bpf_map_delete_elem(&fulcrum_conns, &key);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

// What a forwarded frame does to its entry: ip_vs_in_stats and, for TCP, set_tcp_state (tcp_state_idx
// picks the fin row for any FIN, else the ack row for an ACK; a segment with neither moves nothing).
static __always_inline void fulcrum_account(struct fulcrum_conn_value *v, const struct fulcrum_head *h, __u32 ip_len)
{
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, ip_len);
	v->last_seen_ns = bpf_ktime_get_ns();
	if (h->ip.protocol == IPPROTO_TCP) {
		__u8 flags = h->l4[TCP_FLAGS_OFF - 4];
		__u32 state = v->state;
		if (state < sLAST && (flags & (TCP_FIN | TCP_ACK))) {
			__u8 next = (flags & TCP_FIN) ? fulcrum_fin_row[state] : fulcrum_ack_row[state];
			if (next != state) {
				v->state = next;
				__u32 zero = 0;
				struct fulcrum_config *cfg = bpf_map_lookup_elem(&fulcrum_config, &zero);
				if (next != sSR && next != sES && cfg)
					fulcrum_hand_back(h, v, cfg);
			}
		}
	}
	count_total(0);
}

SEC("tc")
int fulcrum_tc(struct __sk_buff *skb)
{
	struct fulcrum_head h;
	__u32 ip_len;
	if (skb->vlan_present || bpf_skb_load_bytes(skb, 0, &h, sizeof(h)) < 0)
		return TC_ACT_OK;
	struct fulcrum_conn_value *v = fulcrum_match(&h, skb->len, &ip_len);
	if (!v) {
		count_total(1);
		return TC_ACT_OK;
	}
	// LVS-DR: only the Ethernet addresses change (dst := real server, src := us, the old dst).
	__u8 macs[12];
	__builtin_memcpy(macs, v->dest_mac, 6);
	__builtin_memcpy(macs + 6, h.dst_mac, 6);
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) < 0)
		return TC_ACT_OK;
	fulcrum_account(v, &h, ip_len); // last: it may hand the entry back (delete it)
	return bpf_redirect(skb->ifindex, 0);
}

SEC("socket")
int fulcrum_filter(struct __sk_buff *skb)
{
	struct fulcrum_head h;
	__u32 ip_len;
	// AF_PACKET strips an 802.1Q tag into metadata, as tc sees it: same test, same answer.
	if (skb->vlan_present || bpf_skb_load_bytes(skb, 0, &h, sizeof(h)) < 0)
		return skb->len;
	// Ours to forward in tc: the ring must not see it. Frames the host sends out (PACKET_OUTGOING)
	// are never forwarded by tc ingress, so they stay visible.
	if (skb->pkt_type != 4 /* PACKET_OUTGOING */ && fulcrum_match(&h, skb->len, &ip_len))
		return 0;
	return skb->len;
}

SEC("xdp")
int fulcrum_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 ip_len;
	if (data + sizeof(struct fulcrum_head) > end)
		return XDP_PASS;
	struct fulcrum_head *h = data;
	struct fulcrum_conn_value *v = fulcrum_match(h, (__u32)(end - data), &ip_len);
	if (!v) {
		count_total(1);
		return XDP_PASS;
	}
	__builtin_memcpy(h->src_mac, h->dst_mac, 6);
	__builtin_memcpy(h->dst_mac, v->dest_mac, 6);
	fulcrum_account(v, h, ip_len); // last: it may hand the entry back (delete it)
	return XDP_TX;
}

// The AF_XDP sockets, one per RX queue (index = queue id), filled by Linux/Bpf/XskRedirect.cs.
#define FULCRUM_XSK_MAX 64

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, FULCRUM_XSK_MAX);
	__type(key, __u32);
	__type(value, __u32);
} fulcrum_xsks SEC(".maps");

// The virtual services the AF_XDP driver claims (the same set ServiceClaimService keeps from the stack).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct fulcrum_claim_key);
	__type(value, __u8);
} fulcrum_claims SEC(".maps");

SEC("xdp")
int fulcrum_xsk(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct fulcrum_claim_key key = {};
	__u16 *ports;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return XDP_PASS;
		// A later fragment has no ports: the stack gets it (the C# path drops fragments anyway).
		if (ip->frag_off & bpf_htons(0x1fff))
			return XDP_PASS;
		ports = (void *)ip + ip->ihl * 4;
		key.family = 4;
		key.protocol = ip->protocol;
		__builtin_memcpy(key.addr, &ip->daddr, 4);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		ports = (void *)(ip6 + 1);
		key.family = 6;
		key.protocol = ip6->nexthdr;
		__builtin_memcpy(key.addr, &ip6->daddr, 16);
	} else {
		return XDP_PASS;
	}
	if (key.protocol != IPPROTO_TCP && key.protocol != IPPROTO_UDP)
		return XDP_PASS;
	if ((void *)(ports + 2) > end)
		return XDP_PASS;
	key.port = ports[1];
	if (!bpf_map_lookup_elem(&fulcrum_claims, &key))
		return XDP_PASS;
	// No socket on this queue (yet): XDP_PASS, and the claim rules at netdev ingress drop it.
	return bpf_redirect_map(&fulcrum_xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
