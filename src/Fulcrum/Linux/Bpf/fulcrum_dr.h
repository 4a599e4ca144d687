// SPDX-License-Identifier: GPL-2.0
// The maps' key and value layouts, shared by fulcrum_dr.bpf.c and the C# mirror in
// Linux/Bpf/KernelMaps.cs (tests/Fulcrum.Tests/Linux/Bpf/BpfLayoutTests compiles this header with cc
// and compares every offset).
#ifndef FULCRUM_DR_H
#define FULCRUM_DR_H
#include <linux/types.h>

// Connection key: the client half of an IPVS connection (ip_vs_conn_in_get's lookup), network order.
struct fulcrum_conn_key {
	__u8 protocol;
	__u8 pad[3];
	__u32 client_addr;
	__u32 virtual_addr;
	__u16 client_port;
	__u16 virtual_port;
};

// Value: written whole by C# (dest_mac, state; counters 0). The program adds to the counters atomically
// (a flow's frames may arrive on any CPU) and moves state along the INPUT-ONLY rows of IPVS's TCP state table.
struct fulcrum_conn_value {
	__u64 packets;      // frames forwarded here since the entry was written
	__u64 bytes;        // IP total length, as ip_vs_in_stats counts skb->len at the IP layer
	__u64 last_seen_ns; // bpf_ktime_get_ns (CLOCK_MONOTONIC) of the last forwarded frame
	__u8 dest_mac[6];
	__u8 state;         // TCP: IP_VS_TCP_S_* (the C# IpvsTcpState); UDP: 0
	__u8 pad1;
	__u32 dest_id;      // the real server's index in fulcrum_dest_conns (0: none), whose counts the program moves
};

// A real server's ActiveConn and InActConn as ip_vs_dest keeps them (activeconns, inactconns), index
// RealServer.KernelId: the least-connection picks read them. Shared by the program and every C# worker (an
// mmapped array, atomic adds on both sides): whoever moves a connection between the two counts first, the
// program on the segments it forwards or the C# tier on the rest, adds the move here; a fold of the program's
// moves into the C# table does not add it again.
struct fulcrum_dest_conns {
	__s32 active;
	__s32 inactive;
};

#define FULCRUM_DESTS_MAX (1 << 20) // entries of fulcrum_dest_conns: real server ids 1..2^20-1 (they wrap)

// Per-interface settings, written by C# after load (index 0).
struct fulcrum_config {
	__u8 own_mac[6];
	__u16 pad;
	__u32 ifindex;
	// Event rings: 0 = none (the C# sweep finds closing connections itself); else one ring per data-plane
	// worker in fulcrum_events, and a connection's worker is the one its frames reach: the AF_PACKET fanout
	// program's hash of the client address masked with fanout_mask (PacketRing.SourceHashProgram).
	__u32 workers;
	__u32 fanout_mask;
	// The daemon's lease (bpf_ktime_get_ns): past it the program schedules and reuses nothing, so a director that
	// died (SIGKILL leaves the program attached) stops taking new connections it will never know about.
	__u64 alive_until_ns;
};

// What the program tells a worker (fulcrum_event.type).
#define FULCRUM_EVENT_HANDED_BACK 0 // a FIN moved a TCP connection out of SYN_RECV/ESTABLISHED: its counts and
				    // state here; the entry stays as a marker (its segments go up, a SYN may reuse it)
#define FULCRUM_EVENT_SCHEDULED 1   // the program scheduled a new TCP connection (its SYN) on dest_addr:dest_port
				    // and holds it in SYN_RECV: the worker adds it to its connection table
#define FULCRUM_EVENT_REUSED 2      // a SYN reused a closing connection's entry (FIN_WAIT, CLOSE_WAIT, LAST_ACK) in
				    // place, as IPVS does: SYN_RECV on the same real server, held by the kernel again

// One record of a worker's event ring.
struct fulcrum_event {
	struct fulcrum_conn_key key;
	__u64 packets;
	__u64 bytes;
	__u64 last_seen_ns;
	__u32 dest_addr; // SCHEDULED: the real server, network order
	__u16 dest_port;
	__u8 state;
	__u8 type;
};

// A virtual service whose new TCP connections the program schedules itself (rr, wrr and sh, written by C#,
// Director/KernelScheduling.cs): its current slot table and how a SYN picks a slot. Network order.
struct fulcrum_service_key {
	__u8 protocol;
	__u8 pad;
	__u16 port;
	__u32 addr;
};

#define FULCRUM_PICK_CURSOR 0  // rr, wrr: slot = cursor++ % count (the scheduler's sequence)
#define FULCRUM_PICK_SOURCE 1  // sh: slot = hash_32(client address, 8) (ip_vs_sh's 256 buckets)
#define FULCRUM_PICK_SOURCE_PORT 2 // sh with sh-port: hash_32(client address + client port, 8)
#define FULCRUM_PICK_MAGLEV 7      // mh: slot = hsiphash(client address, key) % count (ip_vs_mh's lookup table)
#define FULCRUM_PICK_MAGLEV_PORT 8 // mh with mh-port: hsiphash(client address + client port, key) % count
#define FULCRUM_MH_KEY 2654435761ULL // ip_vs_mh's hash1 key (generate_hash_secret: both words the same constant)
// The least-connection family over slots 0..count-1 = the service's real servers in list order, each with its
// weight and fulcrum_dest_conns index (ip_vs_lc.c, ip_vs_wlc.c, ip_vs_sed.c, ip_vs_nq.c):
#define FULCRUM_PICK_LC 3      // least active * 256 + inactive
#define FULCRUM_PICK_WLC 4     // least (active * 256 + inactive) / weight
#define FULCRUM_PICK_SED 5     // least (active + 1) / weight
#define FULCRUM_PICK_NQ 6      // the first idle one (no active), else as sed
#define FULCRUM_LEAST_MAX 64   // real servers a least-connection service may have to be published

struct fulcrum_service {
	__u32 table; // the generation of its slots in fulcrum_slots
	__u32 count; // slots 0..count-1
	__u64 cursor; // FULCRUM_PICK_CURSOR: atomic
	__u32 pick;   // FULCRUM_PICK_*
	__u32 pad;
};

// Slot i of a table: the real server the i-th pick of the scheduler's sequence (or bucket i) goes to; a slot
// with a zero MAC is one the kernel may not decide (an sh bucket whose real server is unusable: C# falls back or drops).
struct fulcrum_slot_key {
	__u32 table;
	__u32 index;
};

struct fulcrum_slot {
	__u8 dest_mac[6];
	__u16 dest_port; // network order
	__u32 dest_addr; // network order
	__u32 dest_id;   // index in fulcrum_dest_conns (the connection's entry gets it)
	__s32 weight;    // least-connection picks
};

// A claimed virtual service for fulcrum_xsk (AF_XDP driver): family 4 or 6, protocol, destination port
// (network order) and address (IPv4 in the first 4 bytes, the rest 0). Claimed frames go up the
// AF_XDP socket of their RX queue; everything else (ARP, VRRP, health-check replies) to the stack.
struct fulcrum_claim_key {
	__u8 family;
	__u8 protocol;
	__u16 port;
	__u8 addr[16];
};

#endif
