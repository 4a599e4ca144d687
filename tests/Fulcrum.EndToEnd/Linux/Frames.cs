using System.Buffers.Binary;
using System.Net;

namespace Fulcrum.EndToEnd.Linux;

/// <summary>A tiny local builder of Ethernet/IPv4/UDP frames with correct checksums, for the ring tests.</summary>
internal static class Frames
{
    public static byte[] Udp(ulong dstMac, ulong srcMac, IPAddress src, IPAddress dst, ushort srcPort, ushort dstPort, ReadOnlySpan<byte> payload)
    {
        int udpLength = 8 + payload.Length;
        var f = new byte[14 + 20 + udpLength];
        WriteMac(f.AsSpan(0), dstMac);
        WriteMac(f.AsSpan(6), srcMac);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + udpLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
        ip[8] = 64;
        ip[9] = 17;
        src.TryWriteBytes(ip[12..], out _);
        dst.TryWriteBytes(ip[16..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Fold(Sum(ip, 0)));

        Span<byte> udp = f.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(udp, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        payload.CopyTo(udp[8..]);
        uint pseudo = Sum(ip.Slice(12, 8), 0) + 17 + (uint)udpLength;
        ushort csum = Fold(Sum(udp, pseudo));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], csum == 0 ? (ushort)0xFFFF : csum);
        return f;
    }

    public static bool Contains(ReadOnlySpan<byte> frame, ReadOnlySpan<byte> marker) => frame.IndexOf(marker) >= 0;

    private static void WriteMac(Span<byte> d, ulong mac)
    {
        for (int i = 5; i >= 0; i--)
        {
            d[i] = (byte)mac;
            mac >>= 8;
        }
    }

    private static uint Sum(ReadOnlySpan<byte> data, uint sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (uint)data[i] << 8;
        }

        return sum;
    }

    private static ushort Fold(uint sum)
    {
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
