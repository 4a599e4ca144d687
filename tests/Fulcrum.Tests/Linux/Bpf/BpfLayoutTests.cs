using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fulcrum.Linux.Bpf;
using Fulcrum.Linux.Interop;
using Fulcrum.Tests.TestSupport;

namespace Fulcrum.Tests.Linux.Bpf;

/// <summary>
/// The kernel tier's structs against C: the maps' key/value (src/Fulcrum/Linux/Bpf/fulcrum_dr.h, which the
/// BPF program compiles with) and libbpf's and the kernel's (bpf/libbpf.h, linux/bpf.h), compiled with cc.
/// </summary>
public class BpfLayoutTests
{
    private static readonly Lazy<Dictionary<string, int>> C = new(CompileAndRun);

    public static TheoryData<string, int> Layouts() => new()
    {
        { "fulcrum_conn_key", Unsafe.SizeOf<fulcrum_conn_key>() },
        { "fulcrum_conn_key.protocol", Off<fulcrum_conn_key>(nameof(fulcrum_conn_key.protocol)) },
        { "fulcrum_conn_key.client_addr", Off<fulcrum_conn_key>(nameof(fulcrum_conn_key.client_addr)) },
        { "fulcrum_conn_key.virtual_addr", Off<fulcrum_conn_key>(nameof(fulcrum_conn_key.virtual_addr)) },
        { "fulcrum_conn_key.client_port", Off<fulcrum_conn_key>(nameof(fulcrum_conn_key.client_port)) },
        { "fulcrum_conn_key.virtual_port", Off<fulcrum_conn_key>(nameof(fulcrum_conn_key.virtual_port)) },
        { "fulcrum_conn_value", Unsafe.SizeOf<fulcrum_conn_value>() },
        { "fulcrum_conn_value.packets", Off<fulcrum_conn_value>(nameof(fulcrum_conn_value.packets)) },
        { "fulcrum_conn_value.bytes", Off<fulcrum_conn_value>(nameof(fulcrum_conn_value.bytes)) },
        { "fulcrum_conn_value.last_seen_ns", Off<fulcrum_conn_value>(nameof(fulcrum_conn_value.last_seen_ns)) },
        { "fulcrum_conn_value.dest_mac", Off<fulcrum_conn_value>(nameof(fulcrum_conn_value.dest_mac)) },
        { "fulcrum_conn_value.state", Off<fulcrum_conn_value>(nameof(fulcrum_conn_value.state)) },
        { "fulcrum_conn_value.dest_id", Off<fulcrum_conn_value>(nameof(fulcrum_conn_value.dest_id)) },
        { "fulcrum_config", Unsafe.SizeOf<fulcrum_config>() },
        { "fulcrum_config.own_mac", Off<fulcrum_config>(nameof(fulcrum_config.own_mac)) },
        { "fulcrum_config.ifindex", Off<fulcrum_config>(nameof(fulcrum_config.ifindex)) },
        { "fulcrum_config.workers", Off<fulcrum_config>(nameof(fulcrum_config.workers)) },
        { "fulcrum_config.fanout_mask", Off<fulcrum_config>(nameof(fulcrum_config.fanout_mask)) },
        { "fulcrum_config.alive_until_ns", Off<fulcrum_config>(nameof(fulcrum_config.alive_until_ns)) },
        { "fulcrum_event", Unsafe.SizeOf<fulcrum_event>() },
        { "fulcrum_event.key", Off<fulcrum_event>(nameof(fulcrum_event.key)) },
        { "fulcrum_event.packets", Off<fulcrum_event>(nameof(fulcrum_event.packets)) },
        { "fulcrum_event.bytes", Off<fulcrum_event>(nameof(fulcrum_event.bytes)) },
        { "fulcrum_event.last_seen_ns", Off<fulcrum_event>(nameof(fulcrum_event.last_seen_ns)) },
        { "fulcrum_event.state", Off<fulcrum_event>(nameof(fulcrum_event.state)) },
        { "fulcrum_event.dest_addr", Off<fulcrum_event>(nameof(fulcrum_event.dest_addr)) },
        { "fulcrum_event.dest_port", Off<fulcrum_event>(nameof(fulcrum_event.dest_port)) },
        { "fulcrum_event.type", Off<fulcrum_event>(nameof(fulcrum_event.type)) },
        { "FULCRUM_EVENT_HANDED_BACK", fulcrum_event.HandedBack },
        { "FULCRUM_EVENT_SCHEDULED", fulcrum_event.Scheduled },
        { "fulcrum_service_key", Unsafe.SizeOf<fulcrum_service_key>() },
        { "fulcrum_service_key.protocol", Off<fulcrum_service_key>(nameof(fulcrum_service_key.protocol)) },
        { "fulcrum_service_key.port", Off<fulcrum_service_key>(nameof(fulcrum_service_key.port)) },
        { "fulcrum_service_key.addr", Off<fulcrum_service_key>(nameof(fulcrum_service_key.addr)) },
        { "fulcrum_service", Unsafe.SizeOf<fulcrum_service>() },
        { "fulcrum_service.table", Off<fulcrum_service>(nameof(fulcrum_service.table)) },
        { "fulcrum_service.count", Off<fulcrum_service>(nameof(fulcrum_service.count)) },
        { "fulcrum_service.cursor", Off<fulcrum_service>(nameof(fulcrum_service.cursor)) },
        { "fulcrum_service.pick", Off<fulcrum_service>(nameof(fulcrum_service.pick)) },
        { "FULCRUM_PICK_CURSOR", (int)KernelPick.Cursor },
        { "FULCRUM_PICK_SOURCE", (int)KernelPick.SourceHash },
        { "FULCRUM_PICK_SOURCE_PORT", (int)KernelPick.SourceAndPortHash },
        { "FULCRUM_PICK_LC", (int)KernelPick.LeastConnection },
        { "FULCRUM_PICK_WLC", (int)KernelPick.WeightedLeastConnection },
        { "FULCRUM_PICK_SED", (int)KernelPick.ShortestExpectedDelay },
        { "FULCRUM_PICK_NQ", (int)KernelPick.NeverQueue },
        { "FULCRUM_LEAST_MAX", KernelTier.LeastMax },
        { "FULCRUM_PICK_MAGLEV", (int)KernelPick.Maglev },
        { "FULCRUM_PICK_MAGLEV_PORT", (int)KernelPick.MaglevAndPort },
        { "FULCRUM_MH_KEY", unchecked((int)Fulcrum.Balancing.Schedulers.MaglevTable.Hash1Key) },
        { "FULCRUM_DESTS_MAX", KernelTier.DestsMax },
        { "fulcrum_dest_conns", Unsafe.SizeOf<fulcrum_dest_conns>() },
        { "fulcrum_dest_conns.active", Off<fulcrum_dest_conns>(nameof(fulcrum_dest_conns.active)) },
        { "fulcrum_dest_conns.inactive", Off<fulcrum_dest_conns>(nameof(fulcrum_dest_conns.inactive)) },
        { "fulcrum_slot_key", Unsafe.SizeOf<fulcrum_slot_key>() },
        { "fulcrum_slot_key.index", Off<fulcrum_slot_key>(nameof(fulcrum_slot_key.index)) },
        { "fulcrum_slot", Unsafe.SizeOf<fulcrum_slot>() },
        { "fulcrum_slot.dest_port", Off<fulcrum_slot>(nameof(fulcrum_slot.dest_port)) },
        { "fulcrum_slot.dest_addr", Off<fulcrum_slot>(nameof(fulcrum_slot.dest_addr)) },
        { "fulcrum_slot.dest_id", Off<fulcrum_slot>(nameof(fulcrum_slot.dest_id)) },
        { "fulcrum_slot.weight", Off<fulcrum_slot>(nameof(fulcrum_slot.weight)) },
        { "bpf_tc_hook", Unsafe.SizeOf<bpf_tc_hook>() },
        { "bpf_tc_hook.ifindex", Off<bpf_tc_hook>(nameof(bpf_tc_hook.ifindex)) },
        { "bpf_tc_hook.attach_point", Off<bpf_tc_hook>(nameof(bpf_tc_hook.attach_point)) },
        { "bpf_tc_hook.parent", Off<bpf_tc_hook>(nameof(bpf_tc_hook.parent)) },
        { "bpf_tc_opts", Unsafe.SizeOf<bpf_tc_opts>() },
        { "bpf_tc_opts.prog_fd", Off<bpf_tc_opts>(nameof(bpf_tc_opts.prog_fd)) },
        { "bpf_tc_opts.flags", Off<bpf_tc_opts>(nameof(bpf_tc_opts.flags)) },
        { "bpf_tc_opts.prog_id", Off<bpf_tc_opts>(nameof(bpf_tc_opts.prog_id)) },
        { "bpf_tc_opts.handle", Off<bpf_tc_opts>(nameof(bpf_tc_opts.handle)) },
        { "bpf_tc_opts.priority", Off<bpf_tc_opts>(nameof(bpf_tc_opts.priority)) },
        { "bpf_prog_info.id", Off<bpf_prog_info>(nameof(bpf_prog_info.id)) },
        { "bpf_prog_info.load_time", Off<bpf_prog_info>(nameof(bpf_prog_info.load_time)) },
        { "bpf_prog_info.map_ids", Off<bpf_prog_info>(nameof(bpf_prog_info.map_ids)) },
        { "bpf_prog_info.name", Off<bpf_prog_info>(nameof(bpf_prog_info.name)) },
        { "BPF_TC_INGRESS", Libbpf.BPF_TC_INGRESS },
        { "BPF_MAP_TYPE_RINGBUF", Libbpf.BPF_MAP_TYPE_RINGBUF },
        { "BPF_TC_EGRESS", Libbpf.BPF_TC_EGRESS },
        { "BPF_TC_F_REPLACE", (int)Libbpf.BPF_TC_F_REPLACE },
        { "XDP_FLAGS_SKB_MODE", (int)Libbpf.XDP_FLAGS_SKB_MODE },
        { "XDP_FLAGS_DRV_MODE", (int)Libbpf.XDP_FLAGS_DRV_MODE },
        { "SO_ATTACH_BPF", Libbpf.SO_ATTACH_BPF },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Layout_MatchesCHeader(string what, int csharp)
    {
        Assert.True(C.Value.TryGetValue(what, out int c), $"the C program printed no {what}");
        Assert.Equal(c, csharp);
    }

    [Fact]
    public void Key_IsNetworkOrder_AsTheProgramReadsItFromTheFrame()
    {
        var key = KernelTier.Key(17, 0xCB00710A, 40000, 0xC6336464, 53);
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<fulcrum_conn_key>(in key)).ToArray();
        Assert.Equal(new byte[] { 17, 0, 0, 0, 203, 0, 113, 10, 198, 51, 100, 100, 0x9C, 0x40, 0, 53 }, bytes);
    }

    [Theory]
    [InlineData("tc", KernelAttach.Tc)]
    [InlineData("xdp", KernelAttach.XdpNative)]
    [InlineData("xdp-generic", KernelAttach.XdpGeneric)]
    public void Choose_ExplicitDriver_ThatAttach(string driver, KernelAttach expected)
    {
        Assert.Equal(expected, KernelDriver.Choose(driver, "eth0", out _));
    }

    [Fact]
    public void Choose_AfPacket_NoKernelTier()
    {
        Assert.Null(KernelDriver.Choose("afpacket", "eth0", out string why));
        Assert.Contains("afpacket", why, StringComparison.Ordinal);
    }

    [Fact]
    public void Choose_AutoOnAVirtualInterface_GenericXdp()
    {
        // lo has no device behind it, as veth has none.
        Assert.Equal(KernelAttach.XdpGeneric, KernelDriver.Choose("auto", "lo", out string why));
        Assert.Contains("virtual", why, StringComparison.Ordinal);
    }

    [Fact]
    public void Choose_Unknown_Throws()
    {
        Assert.Throws<ArgumentException>(() => KernelDriver.Choose("dpdk", "eth0", out _));
    }

    [Fact]
    public void ObjectFile_ShipsNextToTheBinaries()
    {
        Assert.True(File.Exists(KernelTier.DefaultObjectPath), KernelTier.DefaultObjectPath);
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

    private static Dictionary<string, int> CompileAndRun()
    {
        const string Program = """
            #include <stdio.h>
            #include <stddef.h>
            #include <linux/bpf.h>
            #include <linux/if_link.h>
            #include <bpf/libbpf.h>
            #include "fulcrum_dr.h"
            #define S(t) printf("%s %zu\n", #t, sizeof(struct t));
            #define O(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(struct t, f));
            #define K(k) printf("%s %d\n", #k, (int)(k));
            int main(void)
            {
                S(fulcrum_conn_key) O(fulcrum_conn_key, protocol) O(fulcrum_conn_key, client_addr)
                O(fulcrum_conn_key, virtual_addr) O(fulcrum_conn_key, client_port) O(fulcrum_conn_key, virtual_port)
                S(fulcrum_conn_value) O(fulcrum_conn_value, packets) O(fulcrum_conn_value, bytes)
                O(fulcrum_conn_value, last_seen_ns) O(fulcrum_conn_value, dest_mac) O(fulcrum_conn_value, state)
                O(fulcrum_conn_value, dest_id) S(fulcrum_dest_conns) O(fulcrum_dest_conns, active) O(fulcrum_dest_conns, inactive)
                S(fulcrum_config) O(fulcrum_config, own_mac) O(fulcrum_config, ifindex) O(fulcrum_config, workers)
                O(fulcrum_config, fanout_mask) O(fulcrum_config, alive_until_ns)
                S(fulcrum_event) O(fulcrum_event, key) O(fulcrum_event, packets) O(fulcrum_event, bytes)
                O(fulcrum_event, last_seen_ns) O(fulcrum_event, state) O(fulcrum_event, dest_addr)
                O(fulcrum_event, dest_port) O(fulcrum_event, type) K(FULCRUM_EVENT_HANDED_BACK) K(FULCRUM_EVENT_SCHEDULED)
                S(fulcrum_service_key) O(fulcrum_service_key, protocol) O(fulcrum_service_key, port) O(fulcrum_service_key, addr)
                S(fulcrum_service) O(fulcrum_service, table) O(fulcrum_service, count) O(fulcrum_service, cursor) O(fulcrum_service, pick)
                K(FULCRUM_PICK_CURSOR) K(FULCRUM_PICK_SOURCE) K(FULCRUM_PICK_SOURCE_PORT)
                K(FULCRUM_PICK_LC) K(FULCRUM_PICK_WLC) K(FULCRUM_PICK_SED) K(FULCRUM_PICK_NQ) K(FULCRUM_LEAST_MAX) K(FULCRUM_DESTS_MAX)
                K(FULCRUM_PICK_MAGLEV) K(FULCRUM_PICK_MAGLEV_PORT) K(FULCRUM_MH_KEY)
                S(fulcrum_slot_key) O(fulcrum_slot_key, index)
                S(fulcrum_slot) O(fulcrum_slot, dest_port) O(fulcrum_slot, dest_addr) O(fulcrum_slot, dest_id) O(fulcrum_slot, weight)
                K(BPF_MAP_TYPE_RINGBUF)
                S(bpf_tc_hook) O(bpf_tc_hook, ifindex) O(bpf_tc_hook, attach_point) O(bpf_tc_hook, parent)
                S(bpf_tc_opts) O(bpf_tc_opts, prog_fd) O(bpf_tc_opts, flags) O(bpf_tc_opts, prog_id)
                O(bpf_tc_opts, handle) O(bpf_tc_opts, priority)
                O(bpf_prog_info, id) O(bpf_prog_info, load_time) O(bpf_prog_info, map_ids) O(bpf_prog_info, name)
                K(BPF_TC_INGRESS) K(BPF_TC_EGRESS) K(BPF_TC_F_REPLACE) K(XDP_FLAGS_SKB_MODE) K(XDP_FLAGS_DRV_MODE)
                K(SO_ATTACH_BPF)
                return 0;
            }
            """;
        return CLayoutProbe.Run(Program.Replace("#include <stddef.h>", "#include <stddef.h>\n#include <sys/socket.h>", StringComparison.Ordinal), "-I", HeaderDirectory());
    }
}
