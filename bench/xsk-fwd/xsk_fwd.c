// SPDX-License-Identifier: GPL-2.0
// The reference peer for `fulcrum run --driver afxdp` (bench/lab-throughput.sh, scenario xsk-c): the least a
// C program must do to forward LVS-DR on an AF_XDP socket, so the ratio of the C# tier to it is what the
// language and Fulcrum's IPVS semantics cost. It loads the same XDP program as Fulcrum (fulcrum_xsk in
// fulcrum_dr.bpf.o, through libbpf), claims the given services, binds one AF_XDP socket to queue 0 and per
// frame: rewrites the destination MAC to one fixed real server and the source MAC to the interface's,
// completes a partial (CHECKSUM_PARTIAL) TCP/UDP checksum as Fulcrum does (AF_XDP loses the mark, and the
// lab's senders are local), and sends the frame back out from the same UMEM chunk. No connection table, no
// scheduling, no counters beyond a total: it is the ceiling, not a load balancer.
//
// Usage (root, in the director's namespace):
//   xsk_fwd IFACE fulcrum_dr.bpf.o REAL_SERVER_MAC native|generic PROTO:VIP:PORT...   (PROTO tcp or udp)
// Runs until SIGINT/SIGTERM, then detaches the program.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../src/Fulcrum/Linux/Bpf/fulcrum_dr.h"

#define FRAME_SIZE 2048
#define FRAMES 4096
#define RING 2048

struct ring {
	uint32_t *producer, *consumer;
	void *desc;
	uint32_t mask, cached, local;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void die(const char *what)
{
	fprintf(stderr, "xsk_fwd: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void map_ring(int fd, struct ring *r, const struct xdp_ring_offset *off, off_t pgoff, size_t entry)
{
	size_t len = off->desc + RING * entry;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
	if (m == MAP_FAILED)
		die("mmap ring");
	r->producer = (uint32_t *)(m + off->producer);
	r->consumer = (uint32_t *)(m + off->consumer);
	r->desc = m + off->desc;
	r->mask = RING - 1;
}

static inline uint32_t load_acquire(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store_release(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// RFC 1071 one's complement sum over big-endian 16-bit words.
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

// The same rule as Checksum.RepairPartialTransportChecksum: complete a pseudo-header-only sum, leave
// complete and corrupted ones alone.
static void repair_checksum(uint8_t *f, uint32_t len)
{
	uint16_t proto = (uint16_t)(f[12] << 8 | f[13]);
	uint32_t pseudo, l4off, l4len;
	uint8_t l4proto;
	if (proto == ETH_P_IP && len >= 34) {
		uint32_t ihl = (f[14] & 0xf) * 4u;
		uint32_t total = (uint32_t)(f[16] << 8 | f[17]);
		if ((f[20] & 0x1f) || f[21] || total < ihl || 14 + total > len)
			return;
		l4proto = f[23];
		l4off = 14 + ihl;
		l4len = total - ihl;
		pseudo = sum16(f + 26, 8, 0) + l4proto + l4len;
	} else if (proto == ETH_P_IPV6 && len >= 54) {
		l4proto = f[20];
		l4off = 54;
		l4len = (uint32_t)(f[18] << 8 | f[19]);
		if (54 + l4len > len)
			return;
		pseudo = sum16(f + 22, 32, 0) + l4proto + l4len;
	} else {
		return;
	}
	uint32_t field;
	if (l4proto == IPPROTO_TCP && l4len >= 20)
		field = l4off + 16;
	else if (l4proto == IPPROTO_UDP && l4len >= 8)
		field = l4off + 6;
	else
		return;
	uint16_t cur = (uint16_t)(f[field] << 8 | f[field + 1]);
	if ((cur == 0 && l4proto == IPPROTO_UDP) || cur != fold(pseudo))
		return;
	uint32_t s = sum16(f + l4off, l4len, pseudo);
	if (fold(s) == 0xffff)
		return;
	uint16_t v = (uint16_t)~fold(s + (uint16_t)~cur);
	if (v == 0 && l4proto == IPPROTO_UDP)
		v = 0xffff;
	f[field] = v >> 8;
	f[field + 1] = v & 0xff;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6 ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: xsk_fwd IFACE OBJ REAL_SERVER_MAC native|generic PROTO:VIP:PORT...\n");
		return 2;
	}
	const char *ifname = argv[1];
	uint8_t rs_mac[6], own_mac[6];
	if (parse_mac(argv[3], rs_mac) < 0) {
		fprintf(stderr, "xsk_fwd: bad MAC %s\n", argv[3]);
		return 2;
	}
	uint32_t xdp_flags = strcmp(argv[4], "native") == 0 ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		die("if_nametoindex");
	{
		struct ifreq ifr = {0};
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
		if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
			die("SIOCGIFHWADDR");
		memcpy(own_mac, ifr.ifr_hwaddr.sa_data, 6);
		close(s);
	}

	struct bpf_object *obj = bpf_object__open_file(argv[2], NULL);
	if (!obj || bpf_object__load(obj))
		die("loading the BPF object");
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "fulcrum_xsk"));
	int xsks = bpf_map__fd(bpf_object__find_map_by_name(obj, "fulcrum_xsks"));
	int claims = bpf_map__fd(bpf_object__find_map_by_name(obj, "fulcrum_claims"));
	for (int i = 5; i < argc; i++) {
		char proto[8], addr[64];
		unsigned port;
		struct fulcrum_claim_key key = {0};
		if (sscanf(argv[i], "%7[a-z]:%63[^:]:%u", proto, addr, &port) != 3 || inet_pton(AF_INET, addr, key.addr) != 1) {
			fprintf(stderr, "xsk_fwd: bad claim %s (PROTO:IPv4:PORT)\n", argv[i]);
			return 2;
		}
		key.family = 4;
		key.protocol = strcmp(proto, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
		key.port = htons((uint16_t)port);
		uint8_t one = 1;
		if (bpf_map_update_elem(claims, &key, &one, BPF_ANY))
			die("claim");
	}

	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket(AF_XDP)");
	uint8_t *umem = mmap(NULL, (size_t)FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (umem == MAP_FAILED)
		die("mmap UMEM");
	struct xdp_umem_reg reg = { .addr = (uint64_t)(uintptr_t)umem, .len = (uint64_t)FRAMES * FRAME_SIZE, .chunk_size = FRAME_SIZE };
	int ring = RING, sndbuf = RING * 4096;
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &ring, sizeof(ring)) ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring, sizeof(ring)) ||
	    setsockopt(fd, SOL_XDP, XDP_RX_RING, &ring, sizeof(ring)) ||
	    setsockopt(fd, SOL_XDP, XDP_TX_RING, &ring, sizeof(ring)))
		die("setsockopt(SOL_XDP)");
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	struct xdp_mmap_offsets off;
	socklen_t optlen = sizeof(off);
	if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &optlen))
		die("XDP_MMAP_OFFSETS");
	struct ring rx = {0}, tx = {0}, fq = {0}, cq = {0};
	map_ring(fd, &rx, &off.rx, XDP_PGOFF_RX_RING, sizeof(struct xdp_desc));
	map_ring(fd, &tx, &off.tx, XDP_PGOFF_TX_RING, sizeof(struct xdp_desc));
	map_ring(fd, &fq, &off.fr, XDP_UMEM_PGOFF_FILL_RING, sizeof(uint64_t));
	map_ring(fd, &cq, &off.cr, XDP_UMEM_PGOFF_COMPLETION_RING, sizeof(uint64_t));

	// Free stack: frames not in any ring. The fill ring gets RING of them now.
	static uint64_t free_frames[FRAMES];
	uint32_t nfree = 0;
	for (int i = FRAMES - 1; i >= 0; i--)
		free_frames[nfree++] = (uint64_t)i * FRAME_SIZE;
	for (uint32_t i = 0; i < RING; i++)
		((uint64_t *)fq.desc)[(fq.local + i) & fq.mask] = free_frames[--nfree];
	fq.local += RING;
	store_release(fq.producer, fq.local);

	struct sockaddr_xdp sxdp = { .sxdp_family = AF_XDP, .sxdp_ifindex = (uint32_t)ifindex, .sxdp_queue_id = 0 };
	for (int tries = 0; bind(fd, (struct sockaddr *)&sxdp, sizeof(sxdp)); tries++) {
		if (errno != EBUSY || tries > 100)
			die("bind(AF_XDP)");
		usleep(20000);
	}
	uint32_t q0 = 0;
	if (bpf_map_update_elem(xsks, &q0, &fd, BPF_ANY))
		die("fulcrum_xsks");
	if (bpf_xdp_attach(ifindex, prog, xdp_flags, NULL))
		die("bpf_xdp_attach");

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "xsk_fwd: forwarding on %s queue 0 (%s XDP) to %s\n", ifname, argv[4], argv[3]);
	unsigned long long forwarded = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	while (!stop) {
		uint32_t ready = load_acquire(rx.producer) - rx.local;
		if (ready == 0) {
			poll(&pfd, 1, 100);
			continue;
		}
		uint32_t txfree = RING - (tx.local - load_acquire(tx.consumer));
		uint32_t n = ready < txfree ? ready : txfree;
		for (uint32_t i = 0; i < n; i++) {
			struct xdp_desc *d = &((struct xdp_desc *)rx.desc)[(rx.local + i) & rx.mask];
			uint8_t *f = umem + d->addr;
			repair_checksum(f, d->len);
			memcpy(f, rs_mac, 6);
			memcpy(f + 6, own_mac, 6);
			struct xdp_desc *t = &((struct xdp_desc *)tx.desc)[(tx.local + i) & tx.mask];
			t->addr = d->addr;
			t->len = d->len;
			t->options = 0;
		}
		rx.local += n;
		store_release(rx.consumer, rx.local);
		tx.local += n;
		store_release(tx.producer, tx.local);
		forwarded += n;
		// Copy mode sends 32 frames per kick (TX_BATCH_SIZE): kick while the kernel makes progress.
		for (uint32_t left = tx.local - load_acquire(tx.consumer), prev = 0; left && left != prev;
		     prev = left, left = tx.local - load_acquire(tx.consumer))
			sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
		// Completed frames go straight back to the fill ring.
		uint32_t done = load_acquire(cq.producer) - cq.local;
		for (uint32_t i = 0; i < done; i++)
			free_frames[nfree++] = ((uint64_t *)cq.desc)[(cq.local + i) & cq.mask] & ~(uint64_t)(FRAME_SIZE - 1);
		cq.local += done;
		store_release(cq.consumer, cq.local);
		uint32_t fqfree = RING - (fq.local - load_acquire(fq.consumer));
		uint32_t m = nfree < fqfree ? nfree : fqfree;
		for (uint32_t i = 0; i < m; i++)
			((uint64_t *)fq.desc)[(fq.local + i) & fq.mask] = free_frames[--nfree];
		fq.local += m;
		store_release(fq.producer, fq.local);
	}
	bpf_xdp_detach(ifindex, xdp_flags, NULL);
	fprintf(stderr, "xsk_fwd: %llu frames forwarded\n", forwarded);
	close(fd);
	bpf_object__close(obj);
	return 0;
}
