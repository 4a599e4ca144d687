// SPDX-License-Identifier: GPL-2.0
// Fulcrum's kernel tier: forwards packets of LVS-DR connections the C# data plane has already
// scheduled (TCP from its SYN, UDP after its first datagram), from a connection map the C# side fills
// (Linux/Bpf/KernelTier.cs), and moves a TCP entry's state along the INPUT-ONLY rows of IPVS's table
// (ip_vs_proto_tcp.c) for the segments it forwards: SYNs that stay in or reuse, ACKs and FINs. A FIN out of
// SYN_RECV/ESTABLISHED hands the connection back to its worker (an event) and leaves the entry as a marker
// whose later segments go up. For the virtual services C# publishes in fulcrum_services (rr and wrr) it also
// schedules a new connection's SYN itself, from a slot table that is the scheduler's sequence, and tells the
// owning worker through its event ring. RSTs, SYNs of other services and of connections in ESTABLISHED,
// TIME_WAIT or CLOSE go up to the C# path (AF_PACKET), which reads the entry's state first and runs those
// rows itself, as do UDP's new flows, fragments, IP options, VLAN tags and non-IPv4.
// Linux/Bpf/README.md has the whole table.
//
// Three entry points share one decision (fulcrum_decide), so they can never disagree:
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
// connections this program scheduled, handed back or reused (fulcrum_event). Submitted without a wake-up; the
// worker drains its ring after each poll and before each batch of frames.
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

// The virtual services whose SYNs are scheduled here, and their slot tables (see fulcrum_dr.h).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct fulcrum_service_key);
	__type(value, struct fulcrum_service);
} fulcrum_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct fulcrum_slot_key);
	__type(value, struct fulcrum_slot);
} fulcrum_slots SEC(".maps");

// Every real server's ActiveConn/InActConn (struct fulcrum_dest_conns in fulcrum_dr.h), mmapped by C#.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, FULCRUM_DESTS_MAX);
	__type(key, __u32);
	__type(value, struct fulcrum_dest_conns);
} fulcrum_dest_conns SEC(".maps");

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

// tcp_state_active_table: which states count in ActiveConn (the pre-established ones too, as in Linux >= 4.x).
static __always_inline int fulcrum_active(__u32 state)
{
	return state == sES || state == sSS || state == sSR || state == sSA;
}

// A connection moved between ActiveConn and InActConn of real server dest_id (+1/-1 each), or a new one joined.
static __always_inline void fulcrum_move_counts(__u32 dest_id, int active, int inactive)
{
	struct fulcrum_dest_conns *c = bpf_map_lookup_elem(&fulcrum_dest_conns, &dest_id);
	if (!c || dest_id == 0)
		return;
	if (active)
		__sync_fetch_and_add(&c->active, active);
	if (inactive)
		__sync_fetch_and_add(&c->inactive, inactive);
}

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

// RFC 1071 over the option-less IPv4 header: a frame whose sum does not check out, or whose total length
// claims more than the frame holds, goes up to C#, which counts it (DropReason BadChecksum, BadLength) as the
// kernel's ip_rcv would drop it before IPVS.
static __always_inline int ipv4_header_ok(const struct fulcrum_head *h, __u32 frame_len)
{
	const __u8 *b = (const __u8 *)h + ETH_HLEN_;
	__u32 sum = 0;
#pragma unroll
	for (int i = 0; i < 20; i += 2)
		sum += ((__u32)b[i] << 8) | b[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	__u32 tot_len = ((__u32)b[2] << 8) | b[3];
	return sum == 0xffff && tot_len + ETH_HLEN_ <= frame_len && tot_len >= 20 + 8;
}

// One 32-bit load the compiler may not split or repeat (the counts change under us on other CPUs).
#define READ_ONCE_S32(x) (*(volatile __s32 *)&(x))

static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

enum { FULCRUM_UP, FULCRUM_FORWARD, FULCRUM_SCHEDULE };

#define FULCRUM_ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define FULCRUM_SIPROUND                                                                                       \
	do {                                                                                                   \
		v0 += v1; v1 = FULCRUM_ROTL64(v1, 13); v1 ^= v0; v0 = FULCRUM_ROTL64(v0, 32);                 \
		v2 += v3; v3 = FULCRUM_ROTL64(v3, 16); v3 ^= v2;                                               \
		v0 += v3; v3 = FULCRUM_ROTL64(v3, 21); v3 ^= v0;                                               \
		v2 += v1; v1 = FULCRUM_ROTL64(v1, 17); v1 ^= v2; v2 = FULCRUM_ROTL64(v2, 32);                 \
	} while (0)

// hsiphash of one u32 on a 64-bit kernel (SipHash-1-3 over its 4 little-endian bytes, both key words equal), as
// ip_vs_mh_hashkey calls it; the C# MaglevTable.HashKey is the same function.
static __always_inline __u32 fulcrum_hsiphash(__u32 value, __u64 key)
{
	__u64 v0 = 0x736f6d6570736575ULL ^ key, v1 = 0x646f72616e646f6dULL ^ key;
	__u64 v2 = 0x6c7967656e657261ULL ^ key, v3 = 0x7465646279746573ULL ^ key;
	__u64 b = (4ULL << 56) | value;
	v3 ^= b;
	FULCRUM_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	FULCRUM_SIPROUND;
	FULCRUM_SIPROUND;
	FULCRUM_SIPROUND;
	return (__u32)((v0 ^ v1) ^ (v2 ^ v3));
}

// The slot a hashed pick gives the client: ip_vs_sh_hashkey for IPv4 (hash_32(ntohs(port) + ntohl(addr), 8), the
// port only under sh-port) or ip_vs_mh_hashkey's first probe (hsiphash(ntohs(port) + ntohl(addr)) % M, the port
// only under mh-port); NULL when the slot is missing or its real server unusable (zero MAC: C# falls back or drops).
static __always_inline struct fulcrum_slot *fulcrum_hashed_slot(const struct fulcrum_head *h, const struct fulcrum_service *svc)
{
	__u32 value = bpf_ntohl(h->ip.saddr);
	__u32 index;
	if (svc->pick == FULCRUM_PICK_SOURCE_PORT || svc->pick == FULCRUM_PICK_MAGLEV_PORT)
		value += bpf_ntohs(h->sport);
	if (svc->pick == FULCRUM_PICK_MAGLEV || svc->pick == FULCRUM_PICK_MAGLEV_PORT) {
		__u32 count = svc->count;
		if (count == 0)
			return NULL;
		index = fulcrum_hsiphash(value, FULCRUM_MH_KEY) % count;
	} else {
		index = (value * 0x61C88647u) >> 24;
	}
	struct fulcrum_slot_key slot_key = { .table = svc->table, .index = index };
	struct fulcrum_slot *slot = bpf_map_lookup_elem(&fulcrum_slots, &slot_key);
	if (!slot || !(slot->dest_mac[0] | slot->dest_mac[1] | slot->dest_mac[2] | slot->dest_mac[3] |
		       slot->dest_mac[4] | slot->dest_mac[5]))
		return NULL;
	return slot;
}

// The one decision tc, XDP and the socket filter share. FORWARD: *v is the frame's connection. SCHEDULE: a
// pure SYN of a new connection to a service in fulcrum_services (*svc), given that event rings exist (the
// worker must learn of it). UP: everything else, for the C# tier.
static __always_inline int fulcrum_decide(const struct fulcrum_head *h, __u32 len, __u32 *ip_len,
					  struct fulcrum_conn_key *key, struct fulcrum_config **cfgp,
					  struct fulcrum_conn_value **v, struct fulcrum_service **svc,
					  struct fulcrum_slot **slot)
{
	if (len < sizeof(struct fulcrum_head) || h->proto != bpf_htons(ETH_P_IP))
		return FULCRUM_UP;
	if (h->ip.version != 4 || h->ip.ihl != 5 || !ipv4_header_ok(h, len))
		return FULCRUM_UP;
	// Fragments go up: only the first has ports, and IPVS handles them in C#.
	if (h->ip.frag_off & bpf_htons(0x3fff))
		return FULCRUM_UP;
	__u8 flags = 0;
	if (h->ip.protocol == IPPROTO_TCP) {
		flags = h->l4[TCP_FLAGS_OFF - 4];
		if (flags & TCP_RST)
			return FULCRUM_UP;
	} else if (h->ip.protocol != IPPROTO_UDP) {
		return FULCRUM_UP;
	}

	__u32 zero = 0;
	struct fulcrum_config *cfg = bpf_map_lookup_elem(&fulcrum_config, &zero);
	if (!cfg)
		return FULCRUM_UP;
	*cfgp = cfg;
	// Only frames sent to this director (the C# path's rule): a switch flooding a peer's MAC must not
	// make a BACKUP forward the MASTER's traffic.
	if (!mac_equal(h->dst_mac, cfg->own_mac))
		return FULCRUM_UP;

	key->protocol = h->ip.protocol;
	key->client_addr = h->ip.saddr;
	key->virtual_addr = h->ip.daddr;
	key->client_port = h->sport;
	key->virtual_port = h->dport;
	*ip_len = bpf_ntohs(h->ip.tot_len);
	*v = bpf_map_lookup_elem(&fulcrum_conns, key);
	__u8 state = *v ? (*v)->state : sNO;
	if (!(flags & TCP_SYN)) {
		// Held in SYN_RECV or ESTABLISHED (UDP: 0); a closing connection's entry is a marker: its
		// segments go up, C# runs the rest of it.
		if (*v && (h->ip.protocol == IPPROTO_UDP || state == sSR || state == sES))
			return FULCRUM_FORWARD;
		return FULCRUM_UP;
	}

	// A SYN. In SYN_RECV it stays there on the same real server (the syn row): forward it, a retransmission.
	// A closing connection in FIN_WAIT, CLOSE_WAIT or LAST_ACK is reused in place, as ip_vs_in does with
	// conn_reuse_mode 1 (is_new_conn_expected is true only in TIME_WAIT and CLOSE): SYN_RECV on the same real
	// server, and the worker is told. TIME_WAIT and CLOSE (expire and reschedule) and ESTABLISHED go up.
	if (flags & (TCP_ACK | TCP_FIN))
		return FULCRUM_UP;
	// Reusing a marker or scheduling needs a live daemon to tell (its event ring and its lease).
	int told = cfg->workers != 0 && bpf_ktime_get_ns() < cfg->alive_until_ns;
	if (*v) {
		if (state == sSR)
			return FULCRUM_FORWARD;
		if ((state == sFW || state == sCW || state == sLA) && told)
			return FULCRUM_FORWARD;
		return FULCRUM_UP;
	}
	if (!told)
		return FULCRUM_UP;
	struct fulcrum_service_key sk = { .protocol = IPPROTO_TCP, .port = h->dport, .addr = h->ip.daddr };
	*svc = bpf_map_lookup_elem(&fulcrum_services, &sk);
	if (!*svc || (*svc)->count == 0)
		return FULCRUM_UP;
	// A hashed pick is known here already: a bucket the kernel may not decide goes up (the socket filter must
	// agree with tc, so the decision cannot wait for fulcrum_schedule).
	__u32 pick = (*svc)->pick;
	if (pick == FULCRUM_PICK_SOURCE || pick == FULCRUM_PICK_SOURCE_PORT || pick == FULCRUM_PICK_MAGLEV ||
	    pick == FULCRUM_PICK_MAGLEV_PORT) {
		*slot = fulcrum_hashed_slot(h, *svc);
		if (!*slot)
			return FULCRUM_UP;
	}
	return FULCRUM_SCHEDULE;
}

// The worker whose connection table holds the client's connections: the AF_PACKET fanout program's hash of
// the client address (32-bit, host order) masked with fanout_mask, then fanout_demux_bpf's "% members".
static __always_inline void *fulcrum_worker_ring(const struct fulcrum_head *h, const struct fulcrum_config *cfg)
{
	__u32 worker = 0;
	if (cfg->workers == 0)
		return NULL;
	if (cfg->workers > 1) {
		__u32 a = (bpf_ntohl(h->ip.saddr) & cfg->fanout_mask) * 0x9E3779B1u;
		worker = (a >> 16) % cfg->workers;
	}
	return bpf_map_lookup_elem(&fulcrum_events, &worker);
}

// The least-connection family's pick (ip_vs_lc/wlc/sed/nq_schedule): the real servers in list order, skipping
// weight 0; a later one wins only when strictly less loaded (overhead * the winner's weight compared with the
// winner's overhead * its weight, in 64 bits as the kernel does), so ties go to the earlier one. NULL: none usable.
static __always_inline struct fulcrum_slot *fulcrum_least_slot(const struct fulcrum_service *svc)
{
	struct fulcrum_slot *least = NULL;
	__s64 loh = 0;
	__u32 count = svc->count;
	__u32 pick = svc->pick;
	for (__u32 i = 0; i < FULCRUM_LEAST_MAX; i++) {
		if (i >= count)
			break;
		struct fulcrum_slot_key slot_key = { .table = svc->table, .index = i };
		struct fulcrum_slot *slot = bpf_map_lookup_elem(&fulcrum_slots, &slot_key);
		if (!slot)
			return NULL; // a table being replaced: the SYN goes up
		__u32 id = slot->dest_id;
		struct fulcrum_dest_conns *c = bpf_map_lookup_elem(&fulcrum_dest_conns, &id);
		if (!c)
			return NULL;
		__s64 active = READ_ONCE_S32(c->active);
		__s64 doh = pick == FULCRUM_PICK_SED || pick == FULCRUM_PICK_NQ
				    ? active + 1
				    : (active << 8) + READ_ONCE_S32(c->inactive);
		if (slot->weight <= 0) {
			// ip_vs_wlc skips weight 0 only while looking for its first candidate; later ones cannot win
			// (loh * 0 > doh * w is false for doh >= 0) and lc skips them too, so skipping is the same.
			continue;
		}
		if (pick == FULCRUM_PICK_NQ && active == 0)
			return slot;
		if (!least) {
			least = slot;
			loh = doh;
			continue;
		}
		if (pick == FULCRUM_PICK_LC ? doh < loh : loh * slot->weight > doh * least->weight) {
			least = slot;
			loh = doh;
		}
	}
	return least;
}

// ip_vs_schedule for a published service: the hashed bucket fulcrum_decide found (sh), the next slot of its
// sequence (rr, wrr: a shared cursor, as the kernel's schedulers share theirs under a lock) or the least loaded
// real server (lc, wlc, sed, nq); an entry in SYN_RECV, counted active, and a SCHEDULED event for the owning
// worker. NULL (the SYN goes up) when the ring or the map is full, or the slot vanished under a table update.
static __always_inline struct fulcrum_conn_value *fulcrum_schedule(const struct fulcrum_head *h,
								   const struct fulcrum_conn_key *key,
								   const struct fulcrum_config *cfg,
								   struct fulcrum_service *svc,
								   struct fulcrum_slot *slot)
{
	if (!slot && svc->pick >= FULCRUM_PICK_LC && svc->pick <= FULCRUM_PICK_NQ) {
		slot = fulcrum_least_slot(svc);
		if (!slot)
			return NULL;
	} else if (!slot) {
		__u32 count = svc->count;
		if (count == 0)
			return NULL;
		__u64 cursor = __sync_fetch_and_add(&svc->cursor, 1);
		struct fulcrum_slot_key slot_key = { .table = svc->table, .index = (__u32)(cursor % count) };
		slot = bpf_map_lookup_elem(&fulcrum_slots, &slot_key);
		if (!slot)
			return NULL;
	}
	void *ring = fulcrum_worker_ring(h, cfg);
	if (!ring)
		return NULL;
	struct fulcrum_event *e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
	if (!e)
		return NULL;
	struct fulcrum_conn_value value = { .state = sSR, .dest_id = slot->dest_id };
	__builtin_memcpy(value.dest_mac, slot->dest_mac, 6);
	if (bpf_map_update_elem(&fulcrum_conns, key, &value, BPF_NOEXIST) != 0) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return NULL;
	}
	// ip_vs_bind_dest then set_tcp_state(SYN_RECV): one more active connection.
	fulcrum_move_counts(slot->dest_id, 1, 0);
	e->key = *key;
	e->packets = 0;
	e->bytes = 0;
	e->last_seen_ns = bpf_ktime_get_ns();
	e->dest_addr = slot->dest_addr;
	e->dest_port = slot->dest_port;
	e->state = sSR;
	e->type = FULCRUM_EVENT_SCHEDULED;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return bpf_map_lookup_elem(&fulcrum_conns, key);
}

// What tc and XDP forward: the connection's entry (found, or just scheduled), or NULL to send the frame up.
static __always_inline struct fulcrum_conn_value *fulcrum_match(const struct fulcrum_head *h, __u32 len, __u32 *ip_len)
{
	struct fulcrum_conn_key key = {};
	struct fulcrum_config *cfg = NULL;
	struct fulcrum_conn_value *v = NULL;
	struct fulcrum_service *svc = NULL;
	struct fulcrum_slot *slot = NULL;
	int what = fulcrum_decide(h, len, ip_len, &key, &cfg, &v, &svc, &slot);
	if (what == FULCRUM_FORWARD)
		return v;
	if (what == FULCRUM_SCHEDULE && cfg && svc)
		return fulcrum_schedule(h, &key, cfg, svc, slot);
	return NULL;
}

// Tells the connection's worker what a segment did to it (HANDED_BACK, REUSED): counts so far and the new state.
// The entry stays: a handed-back one is a marker C# removes when the connection expires. Without a ring (none
// configured, or full) the C# sweep reads the entry's state instead.
static __always_inline void fulcrum_tell(const struct fulcrum_head *h, const struct fulcrum_conn_value *v,
					 const struct fulcrum_config *cfg, __u8 type)
{
	void *ring = fulcrum_worker_ring(h, cfg);
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
	e->dest_addr = 0;
	e->dest_port = 0;
	e->state = v->state;
	e->type = type;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

// What a forwarded frame does to its entry: ip_vs_in_stats and, for TCP, set_tcp_state (tcp_state_idx: the
// syn row for a SYN, else the fin row for a FIN, else the ack row for an ACK; a segment with none moves
// nothing). fulcrum_decide only forwards SYNs that stay in SYN_RECV or reuse a closing entry, and other
// segments only in SYN_RECV or ESTABLISHED.
static __always_inline void fulcrum_account(struct fulcrum_conn_value *v, const struct fulcrum_head *h, __u32 ip_len)
{
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, ip_len);
	v->last_seen_ns = bpf_ktime_get_ns();
	if (h->ip.protocol == IPPROTO_TCP) {
		__u8 flags = h->l4[TCP_FLAGS_OFF - 4];
		__u32 state = v->state;
		if (state < sLAST) {
			__u8 next = state;
			if (flags & TCP_SYN)
				next = sSR;
			else if (flags & TCP_FIN)
				next = fulcrum_fin_row[state];
			else if (flags & TCP_ACK)
				next = fulcrum_ack_row[state];
			if (next != state) {
				v->state = next;
				int was = fulcrum_active(state), is = fulcrum_active(next);
				if (was != is)
					fulcrum_move_counts(v->dest_id, is - was, was - is);
				__u32 zero = 0;
				struct fulcrum_config *cfg = bpf_map_lookup_elem(&fulcrum_config, &zero);
				if (cfg && (flags & TCP_SYN))
					fulcrum_tell(h, v, cfg, FULCRUM_EVENT_REUSED);
				else if (cfg && next != sSR && next != sES)
					fulcrum_tell(h, v, cfg, FULCRUM_EVENT_HANDED_BACK);
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
	fulcrum_account(v, &h, ip_len);
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
	// Ours to forward (or schedule) in tc: the ring must not see it. Frames the host sends out
	// (PACKET_OUTGOING) are never forwarded by tc ingress, so they stay visible. No side effects here: tc
	// repeats the decision and acts on it (if its scheduling then fails, a full map or ring, the SYN is lost
	// and the client retransmits it).
	if (skb->pkt_type == 4 /* PACKET_OUTGOING */)
		return skb->len;
	struct fulcrum_conn_key key = {};
	struct fulcrum_config *cfg = NULL;
	struct fulcrum_conn_value *v = NULL;
	struct fulcrum_service *svc = NULL;
	struct fulcrum_slot *slot = NULL;
	if (fulcrum_decide(&h, skb->len, &ip_len, &key, &cfg, &v, &svc, &slot) != FULCRUM_UP)
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
	fulcrum_account(v, h, ip_len);
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
