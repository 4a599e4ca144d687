using System.Numerics;

namespace Fulcrum.Balancing.Schedulers;

/// <summary>The kernel's hash functions the hashing schedulers use, bit for bit (x86-64 builds).</summary>
internal static class KernelHash
{
    /// <summary>include/linux/hash.h GOLDEN_RATIO_32.</summary>
    public const uint GoldenRatio32 = 0x61C88647;

    /// <summary>hash_32_generic: the high <paramref name="bits"/> bits of val * GOLDEN_RATIO_32.</summary>
    public static uint Hash32(uint val, int bits) => (val * GoldenRatio32) >> (32 - bits);

    /// <summary>
    /// lib/siphash.c hsiphash of one u32 on a 64-bit kernel, where HalfSipHash-1-3 is SipHash-1-3 with the
    /// two unsigned-long key words; the 4 input bytes are the value in little-endian order (x86), and the
    /// u64 result is truncated to u32.
    /// </summary>
    public static uint HSipHash(uint value, ulong k0, ulong k1) => (uint)SipHash(value, k0, k1, 1, 3);

    /// <summary>SipHash-c-d of a 4-byte message (the value's little-endian bytes): the reference construction.</summary>
    internal static ulong SipHash(uint value, ulong k0, ulong k1, int compressionRounds, int finalizationRounds)
    {
        ulong v0 = 0x736f6d6570736575UL ^ k0;
        ulong v1 = 0x646f72616e646f6dUL ^ k1;
        ulong v2 = 0x6c7967656e657261UL ^ k0;
        ulong v3 = 0x7465646279746573UL ^ k1;
        ulong b = (4UL << 56) | value;
        v3 ^= b;
        for (int i = 0; i < compressionRounds; i++)
            Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= b;
        v2 ^= 0xff;
        for (int i = 0; i < finalizationRounds; i++)
            Round(ref v0, ref v1, ref v2, ref v3);
        return (v0 ^ v1) ^ (v2 ^ v3);
    }

    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1; v1 = BitOperations.RotateLeft(v1, 13); v1 ^= v0; v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3; v3 = BitOperations.RotateLeft(v3, 16); v3 ^= v2;
        v0 += v3; v3 = BitOperations.RotateLeft(v3, 21); v3 ^= v0;
        v2 += v1; v1 = BitOperations.RotateLeft(v1, 17); v1 ^= v2; v2 = BitOperations.RotateLeft(v2, 32);
    }
}
