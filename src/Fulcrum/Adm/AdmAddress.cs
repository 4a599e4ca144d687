using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Fulcrum.Adm;

/// <summary>The libc address parsers ipvsadm relies on, with their exact acceptance rules.</summary>
internal static class AdmAddress
{
    /// <summary>
    /// glibc inet_aton: 1 to 4 parts, each a C number (0x hex, 0 octal, else decimal), the last part
    /// filling the remaining bytes; anything after a whitespace character is ignored.
    /// </summary>
    public static bool TryInetAton(string s, out uint hostOrder)
    {
        hostOrder = 0;
        Span<uint> parts = stackalloc uint[4];
        int n = 0;
        int i = 0;
        ulong val;
        while (true)
        {
            if (i >= s.Length || !char.IsAsciiDigit(s[i]))
                return false;
            int numBase = 10;
            if (s[i] == '0')
            {
                // strtoul(base 0) takes "0x" as a prefix only when a hex digit follows.
                if (i + 2 < s.Length && (s[i + 1] == 'x' || s[i + 1] == 'X') && char.IsAsciiHexDigit(s[i + 2]))
                {
                    numBase = 16;
                    i += 2;
                }
                else
                {
                    numBase = 8;
                }
            }

            val = 0;
            while (i < s.Length)
            {
                int d = DigitValue(s[i]);
                if (d < 0 || d >= numBase)
                    break;
                val = val * (ulong)numBase + (ulong)d;
                if (val > 0xffffffffUL)
                    return false;
                i++;
            }

            if (i < s.Length && s[i] == '.')
            {
                if (n > 2 || val > 0xff)
                    return false;
                parts[n++] = (uint)val;
                i++;
                continue;
            }
            break;
        }

        if (i < s.Length && !IsCSpace(s[i]))
            return false;

        uint v = (uint)val;
        switch (n)
        {
            case 1:
                if (v > 0xffffff)
                    return false;
                v |= parts[0] << 24;
                break;
            case 2:
                if (v > 0xffff)
                    return false;
                v |= (parts[0] << 24) | (parts[1] << 16);
                break;
            case 3:
                if (v > 0xff)
                    return false;
                v |= (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8);
                break;
        }
        hostOrder = v;
        return true;
    }

    /// <summary>inet_pton(AF_INET): exactly four decimal parts, no leading zeros.</summary>
    public static bool TryParseIPv4Strict(string s, out IPAddress address)
    {
        address = IPAddress.None;
        int partsSeen = 0;
        int i = 0;
        uint v = 0;
        while (partsSeen < 4)
        {
            int start = i;
            uint part = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i]) && i - start < 4)
            {
                part = part * 10 + (uint)(s[i] - '0');
                i++;
            }
            int len = i - start;
            if (len == 0 || part > 255 || (len > 1 && s[start] == '0'))
                return false;
            v = (v << 8) | part;
            partsSeen++;
            if (partsSeen < 4)
            {
                if (i >= s.Length || s[i] != '.')
                    return false;
                i++;
            }
        }
        if (i != s.Length)
            return false;
        address = FromHostOrder(v);
        return true;
    }

    /// <summary>inet_pton(AF_INET6): hex groups, '::', an optional trailing dotted quad; no scope, no brackets.</summary>
    public static bool TryParseIPv6(string s, out IPAddress address)
    {
        address = IPAddress.IPv6None;
        if (s.Length < 2 || !s.Contains(':'))
            return false;
        foreach (char c in s)
        {
            if (!char.IsAsciiHexDigit(c) && c != ':' && c != '.')
                return false;
        }
        if (!IPAddress.TryParse(s, out IPAddress? parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6)
            return false;
        address = parsed;
        return true;
    }

    public static IPAddress FromHostOrder(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return new IPAddress(b);
    }

    /// <summary>The address's first 32 bits in host order (libipvs compares ntohl(addr.ip)).</summary>
    public static uint Word(IPAddress a, int index)
    {
        Span<byte> b = stackalloc byte[16];
        b.Clear();
        a.TryWriteBytes(b, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(b[(index * 4)..]);
    }

    /// <summary>inet_ntoa of a host-order IPv4 value.</summary>
    public static string Dotted(uint v) =>
        string.Create(null, stackalloc char[16], $"{v >> 24}.{(v >> 16) & 0xff}.{(v >> 8) & 0xff}.{v & 0xff}");

    /// <summary>Prefix length → host-order mask.</summary>
    public static uint PrefixToMask(int prefix) =>
        prefix <= 0 ? 0u : prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);

    /// <summary>Host-order mask → prefix, or -1 when the mask is not contiguous.</summary>
    public static int MaskToPrefix(uint mask)
    {
        int prefix = System.Numerics.BitOperations.LeadingZeroCount(~mask);
        return PrefixToMask(prefix) == mask ? prefix : -1;
    }

    /// <summary>glibc atoi: optional blanks and sign, then decimal digits; 0 when none.</summary>
    public static long Atoi(string s)
    {
        int i = 0;
        while (i < s.Length && IsCSpace(s[i]))
            i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-'))
        {
            neg = s[i] == '-';
            i++;
        }
        long v = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i]) && v < 1_000_000_000_000)
        {
            v = v * 10 + (s[i] - '0');
            i++;
        }
        return neg ? -v : v;
    }

    public static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
