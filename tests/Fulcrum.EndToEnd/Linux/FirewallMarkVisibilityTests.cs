using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Linux;

/// <summary>
/// Why Fulcrum classifies fwmark traffic itself (Balancing/README.md, "Firewall marks"): on this kernel an
/// AF_PACKET socket sees a frame before netfilter marks it. __netif_receive_skb_core hands the skb to the
/// ptype_all taps first, then runs tc and nftables' netdev ingress, and only ip_rcv reaches prerouting; the
/// ring's frame header (tpacket3_hdr) and PACKET_AUXDATA carry no mark either. A classic BPF filter on the
/// socket reads skb->mark at tap time (SKF_AD_MARK), which shows what the data plane could ever know.
/// </summary>
public sealed partial class FirewallMarkVisibilityTests
{
    private const int Port = 40020;
    private const int Mark = 7;

    [Fact]
    public void MarkSetAtIngressAndPrerouting_StackSeesIt_PacketSocketDoesNot()
    {
        using var ns = new TwoNamespaces("fw");
        NftIn(ns.A, $$"""
            table netdev fwprobe {
                chain ingress {
                    type filter hook ingress device "{{TwoNamespaces.Interface}}" priority -500; policy accept;
                    udp dport {{Port}} meta mark set {{Mark}}
                }
            }
            table ip fwprobe {
                chain pre {
                    type filter hook prerouting priority mangle; policy accept;
                    udp dport {{Port}} meta mark set {{Mark}}
                }
                chain in {
                    type filter hook input priority filter; policy accept;
                    udp dport {{Port}} meta mark {{Mark}} counter
                }
            }
            """);

        using var marked = NetworkNamespace.RunIn(ns.A, () => PacketSocket(markIs: Mark));
        using var unmarked = NetworkNamespace.RunIn(ns.A, () => PacketSocket(markIs: 0));
        using var receiver = NetworkNamespace.RunIn(ns.A, () => PacketRingTests.BoundUdp(TwoNamespaces.AddressA, Port));
        receiver.ReceiveTimeout = 5000;

        byte[] marker = PacketRingTests.Marker();
        NetworkNamespace.RunIn(ns.B, () => PacketRingTests.SendUdp(TwoNamespaces.AddressA, Port, marker));

        // The stack received it, with the mark: the input chain's "meta mark 7" counter counted it.
        Assert.Equal(marker.Length, receiver.Receive(new byte[64]));
        Assert.Equal(1, InputCounter(ns.A));

        // The tap saw the frame with mark 0, and never with mark 7.
        Assert.True(SawMarker(unmarked, marker, TimeSpan.FromSeconds(2)), "the packet socket filtering mark == 0 missed the frame");
        Assert.False(SawMarker(marked, marker, TimeSpan.FromMilliseconds(500)), "a packet socket saw the nftables mark");
    }

    private static void NftIn(string ns, string script)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "netns", "exec", ns, "nft", "-f", "-" })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.Write(script);
        p.StandardInput.Close();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, "nft -f failed: " + err);
    }

    private static int InputCounter(string ns)
    {
        string chain = TwoNamespaces.Run("ip", "netns", "exec", ns, "nft", "list", "chain", "ip", "fwprobe", "in");
        var m = CounterPackets().Match(chain);
        Assert.True(m.Success, chain);
        return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// An AF_PACKET socket (ETH_P_ALL) whose classic BPF filter keeps only frames whose skb->mark is
    /// <paramref name="markIs"/> when the tap runs: ld [SKF_AD_OFF + SKF_AD_MARK]; jeq #markIs; ret #65535; ret #0.
    /// </summary>
    private static Socket PacketSocket(int markIs)
    {
        const int SolSocket = 1, SoAttachFilter = 26;
        const uint SkfAdMark = 0xFFFFF000 + 20;
        var socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness((ushort)0x0003));
        // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } x 4
        Span<byte> program = stackalloc byte[32];
        Instruction(program[0..], 0x20, 0, 0, SkfAdMark);        // ld mark
        Instruction(program[8..], 0x15, 0, 1, (uint)markIs);     // jeq #markIs, accept, drop
        Instruction(program[16..], 0x06, 0, 0, 0xFFFF);          // ret #65535
        Instruction(program[24..], 0x06, 0, 0, 0);               // ret #0
        nint filter = Marshal.AllocHGlobal(program.Length);
        try
        {
            Marshal.Copy(program.ToArray(), 0, filter, program.Length);
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: the kernel copies the program.
            Span<byte> fprog = stackalloc byte[16];
            fprog.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(fprog, 4);
            BinaryPrimitives.WriteInt64LittleEndian(fprog[8..], filter);
            socket.SetRawSocketOption(SolSocket, SoAttachFilter, fprog);
        }
        finally
        {
            Marshal.FreeHGlobal(filter);
        }

        return socket;
    }

    private static void Instruction(Span<byte> at, ushort code, byte jt, byte jf, uint k)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(at, code);
        at[2] = jt;
        at[3] = jf;
        BinaryPrimitives.WriteUInt32LittleEndian(at[4..], k);
    }

    private static bool SawMarker(Socket socket, byte[] marker, TimeSpan patience)
    {
        var buffer = new byte[2048];
        var deadline = DateTime.UtcNow + patience;
        while (DateTime.UtcNow < deadline)
        {
            if (!socket.Poll(TimeSpan.FromMilliseconds(50), SelectMode.SelectRead))
            {
                continue;
            }

            int n = socket.Receive(buffer);
            if (buffer.AsSpan(0, n).IndexOf(marker) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"counter packets (\d+)")]
    private static partial Regex CounterPackets();
}
