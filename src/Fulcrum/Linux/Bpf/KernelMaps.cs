using System.Runtime.InteropServices;

// The maps' structs keep their C names (fulcrum_dr.h), as kernel structs do in Linux/Interop.
#pragma warning disable CS8981

namespace Fulcrum.Linux.Bpf;

/// <summary>fulcrum_dr.h struct fulcrum_conn_key: addresses and ports in network order.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fulcrum_conn_key
{
    public byte protocol;
    public fixed byte pad[3];
    public uint client_addr;
    public uint virtual_addr;
    public ushort client_port;
    public ushort virtual_port;
}

/// <summary>fulcrum_dr.h struct fulcrum_conn_value: a connection's entry (one for all CPUs).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fulcrum_conn_value
{
    public ulong packets;
    public ulong bytes;
    public ulong last_seen_ns;
    public fixed byte dest_mac[6];
    public byte state;
    public byte pad1;
    public uint pad;
}

/// <summary>fulcrum_dr.h struct fulcrum_config: the single entry of the config array.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fulcrum_config
{
    public fixed byte own_mac[6];
    public ushort pad;
    public uint ifindex;
    public uint workers;
    public uint fanout_mask;
}

/// <summary>fulcrum_dr.h struct fulcrum_event: a TCP connection the program handed back, with its final counts and state.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fulcrum_event
{
    public fulcrum_conn_key key;
    public ulong packets;
    public ulong bytes;
    public ulong last_seen_ns;
    public byte state;
    public fixed byte pad[7];
}

/// <summary>fulcrum_dr.h struct fulcrum_claim_key: a virtual service fulcrum_xsk redirects to the AF_XDP sockets.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fulcrum_claim_key
{
    public byte family;
    public byte protocol;
    public ushort port;
    public fixed byte addr[16];
}
