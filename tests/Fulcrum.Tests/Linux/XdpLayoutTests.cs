using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fulcrum.Linux.Bpf;
using Fulcrum.Linux.Interop;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Linux;

/// <summary>The AF_XDP ABI in Linux/Interop/Xdp.cs and the claim key of fulcrum_dr.h against C (linux/if_xdp.h), compiled with cc.</summary>
public class XdpLayoutTests
{
    private const string Program = """
        #include <stdio.h>
        #include <stddef.h>
        #include <sys/socket.h>
        #include <sys/mman.h>
        #include <linux/if_xdp.h>
        #include "fulcrum_dr.h"
        #define S(t) printf("%s %zu\n", #t, sizeof(struct t));
        #define O(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(struct t, f));
        #define K(k) printf("%s %lld\n", #k, (long long)(k));
        int main(void)
        {
            S(sockaddr_xdp) O(sockaddr_xdp, sxdp_family) O(sockaddr_xdp, sxdp_flags) O(sockaddr_xdp, sxdp_ifindex)
            O(sockaddr_xdp, sxdp_queue_id) O(sockaddr_xdp, sxdp_shared_umem_fd)
            S(xdp_ring_offset) O(xdp_ring_offset, producer) O(xdp_ring_offset, consumer) O(xdp_ring_offset, desc) O(xdp_ring_offset, flags)
            S(xdp_mmap_offsets) O(xdp_mmap_offsets, rx) O(xdp_mmap_offsets, tx) O(xdp_mmap_offsets, fr) O(xdp_mmap_offsets, cr)
            S(xdp_umem_reg) O(xdp_umem_reg, addr) O(xdp_umem_reg, len) O(xdp_umem_reg, chunk_size) O(xdp_umem_reg, headroom) O(xdp_umem_reg, flags)
            S(xdp_desc) O(xdp_desc, addr) O(xdp_desc, len) O(xdp_desc, options)
            S(xdp_statistics) O(xdp_statistics, rx_dropped) O(xdp_statistics, rx_ring_full) O(xdp_statistics, rx_fill_ring_empty_descs)
            S(xdp_options)
            S(fulcrum_claim_key) O(fulcrum_claim_key, family) O(fulcrum_claim_key, protocol) O(fulcrum_claim_key, port) O(fulcrum_claim_key, addr)
            K(AF_XDP) K(SOL_XDP) K(XDP_ZEROCOPY) K(XDP_COPY) K(XDP_MMAP_OFFSETS) K(XDP_RX_RING) K(XDP_TX_RING) K(XDP_UMEM_REG)
            K(XDP_UMEM_FILL_RING) K(XDP_UMEM_COMPLETION_RING) K(XDP_STATISTICS) K(XDP_OPTIONS) K(XDP_OPTIONS_ZEROCOPY)
            K(XDP_PGOFF_TX_RING) K(XDP_UMEM_PGOFF_FILL_RING) K(XDP_UMEM_PGOFF_COMPLETION_RING) K(MAP_POPULATE) K(MAP_ANONYMOUS)
            return 0;
        }
        """;

    private static readonly Lazy<Dictionary<string, long>> C = new(CompileAndRun);

    public static TheoryData<string, long> Layouts() => new()
    {
        { "sockaddr_xdp", Unsafe.SizeOf<sockaddr_xdp>() },
        { "sockaddr_xdp.sxdp_family", Off<sockaddr_xdp>(nameof(sockaddr_xdp.sxdp_family)) },
        { "sockaddr_xdp.sxdp_flags", Off<sockaddr_xdp>(nameof(sockaddr_xdp.sxdp_flags)) },
        { "sockaddr_xdp.sxdp_ifindex", Off<sockaddr_xdp>(nameof(sockaddr_xdp.sxdp_ifindex)) },
        { "sockaddr_xdp.sxdp_queue_id", Off<sockaddr_xdp>(nameof(sockaddr_xdp.sxdp_queue_id)) },
        { "sockaddr_xdp.sxdp_shared_umem_fd", Off<sockaddr_xdp>(nameof(sockaddr_xdp.sxdp_shared_umem_fd)) },
        { "xdp_ring_offset", Unsafe.SizeOf<xdp_ring_offset>() },
        { "xdp_ring_offset.producer", Off<xdp_ring_offset>(nameof(xdp_ring_offset.producer)) },
        { "xdp_ring_offset.consumer", Off<xdp_ring_offset>(nameof(xdp_ring_offset.consumer)) },
        { "xdp_ring_offset.desc", Off<xdp_ring_offset>(nameof(xdp_ring_offset.desc)) },
        { "xdp_ring_offset.flags", Off<xdp_ring_offset>(nameof(xdp_ring_offset.flags)) },
        { "xdp_mmap_offsets", Unsafe.SizeOf<xdp_mmap_offsets>() },
        { "xdp_mmap_offsets.rx", Off<xdp_mmap_offsets>(nameof(xdp_mmap_offsets.rx)) },
        { "xdp_mmap_offsets.tx", Off<xdp_mmap_offsets>(nameof(xdp_mmap_offsets.tx)) },
        { "xdp_mmap_offsets.fr", Off<xdp_mmap_offsets>(nameof(xdp_mmap_offsets.fr)) },
        { "xdp_mmap_offsets.cr", Off<xdp_mmap_offsets>(nameof(xdp_mmap_offsets.cr)) },
        { "xdp_umem_reg", Unsafe.SizeOf<xdp_umem_reg>() },
        { "xdp_umem_reg.addr", Off<xdp_umem_reg>(nameof(xdp_umem_reg.addr)) },
        { "xdp_umem_reg.len", Off<xdp_umem_reg>(nameof(xdp_umem_reg.len)) },
        { "xdp_umem_reg.chunk_size", Off<xdp_umem_reg>(nameof(xdp_umem_reg.chunk_size)) },
        { "xdp_umem_reg.headroom", Off<xdp_umem_reg>(nameof(xdp_umem_reg.headroom)) },
        { "xdp_umem_reg.flags", Off<xdp_umem_reg>(nameof(xdp_umem_reg.flags)) },
        { "xdp_desc", Unsafe.SizeOf<xdp_desc>() },
        { "xdp_desc.addr", Off<xdp_desc>(nameof(xdp_desc.addr)) },
        { "xdp_desc.len", Off<xdp_desc>(nameof(xdp_desc.len)) },
        { "xdp_desc.options", Off<xdp_desc>(nameof(xdp_desc.options)) },
        { "xdp_statistics", Unsafe.SizeOf<xdp_statistics>() },
        { "xdp_statistics.rx_dropped", Off<xdp_statistics>(nameof(xdp_statistics.rx_dropped)) },
        { "xdp_statistics.rx_ring_full", Off<xdp_statistics>(nameof(xdp_statistics.rx_ring_full)) },
        { "xdp_statistics.rx_fill_ring_empty_descs", Off<xdp_statistics>(nameof(xdp_statistics.rx_fill_ring_empty_descs)) },
        { "xdp_options", Unsafe.SizeOf<xdp_options>() },
        { "fulcrum_claim_key", Unsafe.SizeOf<fulcrum_claim_key>() },
        { "fulcrum_claim_key.family", Off<fulcrum_claim_key>(nameof(fulcrum_claim_key.family)) },
        { "fulcrum_claim_key.protocol", Off<fulcrum_claim_key>(nameof(fulcrum_claim_key.protocol)) },
        { "fulcrum_claim_key.port", Off<fulcrum_claim_key>(nameof(fulcrum_claim_key.port)) },
        { "fulcrum_claim_key.addr", Off<fulcrum_claim_key>(nameof(fulcrum_claim_key.addr)) },
        { "AF_XDP", Xdp.AF_XDP },
        { "SOL_XDP", Xdp.SOL_XDP },
        { "XDP_ZEROCOPY", Xdp.XDP_ZEROCOPY },
        { "XDP_COPY", Xdp.XDP_COPY },
        { "XDP_MMAP_OFFSETS", Xdp.XDP_MMAP_OFFSETS },
        { "XDP_RX_RING", Xdp.XDP_RX_RING },
        { "XDP_TX_RING", Xdp.XDP_TX_RING },
        { "XDP_UMEM_REG", Xdp.XDP_UMEM_REG },
        { "XDP_UMEM_FILL_RING", Xdp.XDP_UMEM_FILL_RING },
        { "XDP_UMEM_COMPLETION_RING", Xdp.XDP_UMEM_COMPLETION_RING },
        { "XDP_STATISTICS", Xdp.XDP_STATISTICS },
        { "XDP_OPTIONS", Xdp.XDP_OPTIONS },
        { "XDP_OPTIONS_ZEROCOPY", Xdp.XDP_OPTIONS_ZEROCOPY },
        { "XDP_PGOFF_TX_RING", Xdp.XDP_PGOFF_TX_RING },
        { "XDP_UMEM_PGOFF_FILL_RING", Xdp.XDP_UMEM_PGOFF_FILL_RING },
        { "XDP_UMEM_PGOFF_COMPLETION_RING", Xdp.XDP_UMEM_PGOFF_COMPLETION_RING },
        { "MAP_POPULATE", Xdp.MAP_POPULATE },
        { "MAP_ANONYMOUS", Xdp.MAP_ANONYMOUS },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Layout_MatchesCHeader(string what, long csharp)
    {
        Assert.True(C.Value.TryGetValue(what, out long c), $"the C program printed no {what}");
        Assert.Equal(c, csharp);
    }

    [Fact]
    public void Layout_EveryCValueIsChecked()
    {
        var checkedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (object[] row in Layouts())
            checkedNames.Add((string)row[0]);
        Assert.DoesNotContain(C.Value.Keys, k => !checkedNames.Contains(k));
    }

    [Fact]
    public void ClaimKey_Ipv4_FamilyProtocolPortInNetworkOrderAddressFirst()
    {
        var key = XskRedirect.ClaimKey(6, IPAddress.Parse("198.51.100.100"), 80);
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<fulcrum_claim_key>(in key)).ToArray();
        Assert.Equal(new byte[] { 4, 6, 0, 80, 198, 51, 100, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, bytes);
    }

    [Fact]
    public void ClaimKey_Ipv6_SixteenAddressBytes()
    {
        var key = XskRedirect.ClaimKey(17, IPAddress.Parse("2001:db8:100::100"), 5353);
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<fulcrum_claim_key>(in key)).ToArray();
        Assert.Equal(new byte[] { 6, 17, 0x14, 0xE9, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0 }, bytes);
    }

    private static int Off<T>(string field)
        where T : struct => (int)Marshal.OffsetOf<T>(field);

    private static string HeaderDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "src", "Fulcrum", "Linux", "Bpf");
            if (File.Exists(Path.Combine(candidate, "fulcrum_dr.h")))
                return candidate;
        }

        throw new InvalidOperationException("src/Fulcrum/Linux/Bpf/fulcrum_dr.h not found above " + AppContext.BaseDirectory);
    }

    // 64-bit values: the mmap page offsets do not fit an int.
    private static Dictionary<string, long> CompileAndRun() => CLayoutProbe.RunLong(Program, "-I", HeaderDirectory());
}
