namespace Fulcrum.Linux.Bpf;

/// <summary>Where the kernel tier's program runs on the director's interface.</summary>
public enum KernelAttach
{
    /// <summary>cls_bpf direct-action on tc ingress, bpf_redirect out of the same interface; skb metadata (CHECKSUM_PARTIAL) survives.</summary>
    Tc,
    /// <summary>XDP in the driver (XDP_FLAGS_DRV_MODE), XDP_TX. Needs frames with complete checksums (a real wire).</summary>
    XdpNative,
    /// <summary>XDP on the skb (XDP_FLAGS_SKB_MODE), XDP_TX: works on any interface.</summary>
    XdpGeneric,
}

/// <summary>`fulcrum run --driver`: which tiers forward, and where the kernel tier attaches.</summary>
public static class KernelDriver
{
    /// <summary>The driver names `--driver` takes: those that involve the kernel tier, and afxdp and afpacket (C# only).</summary>
    public static readonly string[] Names = ["auto", "tc", "xdp", "xdp-generic", "afxdp", "afpacket"];

    /// <summary>
    /// The attach point for <paramref name="driver"/> on <paramref name="interface"/>, or null for the C#
    /// tier alone; <paramref name="why"/> says why, for the log. auto: a real NIC (one with a device behind
    /// /sys/class/net/IF/device) gets native XDP, the fastest hook where the driver runs it; a virtual
    /// interface (veth, bridge) gets generic XDP: measured on veth (docs/performance.md, 7 interleaved runs) it
    /// beat tc on keep-alive, one connection per request and small UDP (tc pays the AF_PACKET socket filter
    /// repeating its decision for every frame, as taps run before tc ingress), and it keeps the skb, so
    /// CHECKSUM_PARTIAL survives; native XDP on veth pays an skb→xdp conversion, needs an XDP program on the
    /// peer for XDP_TX and loses CHECKSUM_PARTIAL (local senders' frames would reach the real server with bad sums);
    /// measured on a veth wire made fit for it, it was not faster than generic XDP (docs/performance.md).
    /// </summary>
    public static KernelAttach? Choose(string driver, string @interface, out string why)
    {
        switch (driver)
        {
            case "afpacket":
                why = "--driver afpacket: every packet through the C# tier";
                return null;
            case "afxdp":
                why = "--driver afxdp: every packet through the C# tier on AF_XDP sockets (XDP redirect), no kernel tier";
                return null;
            case "tc":
                why = "--driver tc";
                return KernelAttach.Tc;
            case "xdp":
                why = "--driver xdp (native)";
                return KernelAttach.XdpNative;
            case "xdp-generic":
                why = "--driver xdp-generic";
                return KernelAttach.XdpGeneric;
            case "auto":
                if (!IsVirtual(@interface))
                {
                    why = "auto: a physical NIC, native XDP (falls back to tc if the driver refuses)";
                    return KernelAttach.XdpNative;
                }

                why = "auto: a virtual interface (veth/bridge): generic XDP keeps CHECKSUM_PARTIAL and measured fastest on veth (falls back to tc if refused)";
                return KernelAttach.XdpGeneric;
            default:
                throw new ArgumentException($"unknown driver '{driver}' (one of {string.Join(", ", Names)})", nameof(driver));
        }
    }

    /// <summary>True for an interface with no device behind it (veth, bridge, tun): /sys/class/net/IF/device is absent.</summary>
    public static bool IsVirtual(string @interface) => !Directory.Exists($"/sys/class/net/{@interface}/device");
}
