// SPDX-License-Identifier: GPL-2.0
// For the far end of a veth whose near end runs the kernel tier in native XDP (`--driver xdp`): veth
// delivers an XDP_TX frame into its peer's XDP receive ring (veth_xdp_xmit), which exists only while the
// peer runs an XDP program of its own; without one every XDP_TX frame is counted as an xdp_tx_error and
// dropped. This program lets every frame through, so the peer's stack (a bridge port, say) sees what the
// director sent. The lab attaches it to the switch's ports (src/Fulcrum/Lab/LabCluster.cs); a NIC needs nothing.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int fulcrum_peer(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
