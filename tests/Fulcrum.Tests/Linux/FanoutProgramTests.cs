using System.Buffers.Binary;
using Fulcrum.Linux;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Tests.Linux;

/// <summary>
/// The classic BPF program of the source-address fanout, run by a small interpreter of the instructions it
/// uses (the kernel then takes the result modulo the group's members, as fanout_demux_bpf does).
/// </summary>
public class FanoutProgramTests
{
    [Fact]
    public void Program_SameClientAnyPortsAndDestination_SameMember()
    {
        var program = PacketRing.SourceHashProgram(32);
        uint a = Run(program, 0x0800, Ipv4("203.0.113.10", "198.51.100.100", 40000, 80));
        Assert.Equal(a, Run(program, 0x0800, Ipv4("203.0.113.10", "198.51.100.100", 51234, 80)));
        Assert.Equal(a, Run(program, 0x0800, Ipv4("203.0.113.10", "198.51.100.101", 1, 5353)));
    }

    [Fact]
    public void Program_NotIpv4_MemberZero()
    {
        Assert.Equal(0u, Run(PacketRing.SourceHashProgram(32), 0x0806, Ipv4("203.0.113.10", "198.51.100.100", 1, 2)));
        Assert.Equal(0u, Run(PacketRing.SourceHashProgram(32), 0x86DD, Ipv4("203.0.113.10", "198.51.100.100", 1, 2)));
    }

    [Fact]
    public void Program_Prefix24_OneNetworkOneMember()
    {
        var program = PacketRing.SourceHashProgram(24);
        uint a = Run(program, 0x0800, Ipv4("203.0.113.10", "198.51.100.100", 1, 80));
        for (int i = 0; i < 256; i++)
        {
            Assert.Equal(a, Run(program, 0x0800, Ipv4("203.0.113." + i, "198.51.100.100", 1, 80)));
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Program_ConsecutiveClients_SpreadEvenlyOverMembers(int members)
    {
        var program = PacketRing.SourceHashProgram(32);
        var counts = new int[members];
        for (int i = 0; i < 1024; i++)
        {
            var source = $"203.0.{113 + (i >> 8)}.{i & 0xFF}";
            counts[Run(program, 0x0800, Ipv4(source, "198.51.100.100", 1, 80)) % members]++;
        }

        int expected = 1024 / members;
        Assert.All(counts, c => Assert.InRange(c, expected * 3 / 4, expected * 5 / 4));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(33)]
    public void Program_PrefixOutOfRange_Throws(int prefix) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => PacketRing.SourceHashProgram(prefix));

    private static byte[] Ipv4(string source, string destination, ushort sourcePort, ushort destinationPort)
    {
        var p = new byte[28];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 28);
        p[9] = 17;
        System.Net.IPAddress.Parse(source).GetAddressBytes().CopyTo(p, 12);
        System.Net.IPAddress.Parse(destination).GetAddressBytes().CopyTo(p, 16);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), destinationPort);
        return p;
    }

    /// <summary>Runs the program on a packet whose network header is <paramref name="network"/>.</summary>
    private static uint Run(sock_filter[] program, ushort protocol, byte[] network)
    {
        uint a = 0;
        for (int pc = 0; pc < program.Length; pc++)
        {
            var i = program[pc];
            switch (i.code)
            {
                case Cbpf.BPF_LD | Cbpf.BPF_W | Cbpf.BPF_ABS when i.k == Cbpf.SKF_AD_PROTOCOL:
                    a = protocol;
                    break;
                case Cbpf.BPF_LD | Cbpf.BPF_W | Cbpf.BPF_ABS when (int)i.k <= Cbpf.SKF_NET_OFF + 0xFFFF && (int)i.k >= Cbpf.SKF_NET_OFF:
                    a = BinaryPrimitives.ReadUInt32BigEndian(network.AsSpan((int)i.k - Cbpf.SKF_NET_OFF));
                    break;
                case Cbpf.BPF_JMP | Cbpf.BPF_JEQ | Cbpf.BPF_K:
                    pc += a == i.k ? i.jt : i.jf;
                    break;
                case Cbpf.BPF_ALU | Cbpf.BPF_AND | Cbpf.BPF_K:
                    a &= i.k;
                    break;
                case Cbpf.BPF_ALU | Cbpf.BPF_MUL | Cbpf.BPF_K:
                    a *= i.k;
                    break;
                case Cbpf.BPF_ALU | Cbpf.BPF_RSH | Cbpf.BPF_K:
                    a >>= (int)i.k;
                    break;
                case Cbpf.BPF_RET | Cbpf.BPF_A:
                    return a;
                case Cbpf.BPF_RET | Cbpf.BPF_K:
                    return i.k;
                default:
                    throw new InvalidOperationException($"opcode 0x{i.code:x} at {pc} is not interpreted here");
            }
        }

        throw new InvalidOperationException("the program fell off its end (the kernel's checker refuses that)");
    }
}
