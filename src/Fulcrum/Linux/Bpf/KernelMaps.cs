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
    public uint dest_id;
}

/// <summary>fulcrum_dr.h struct fulcrum_dest_conns: a real server's ActiveConn and InActConn, shared with the program.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fulcrum_dest_conns
{
    public int active;
    public int inactive;
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
    public ulong alive_until_ns;
}

/// <summary>fulcrum_dr.h struct fulcrum_event: a connection the program handed back (final counts and state) or scheduled.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fulcrum_event
{
    public const byte HandedBack = 0;
    public const byte Scheduled = 1;

    public fulcrum_conn_key key;
    public ulong packets;
    public ulong bytes;
    public ulong last_seen_ns;
    public uint dest_addr;
    public ushort dest_port;
    public byte state;
    public byte type;
}

/// <summary>fulcrum_dr.h struct fulcrum_service_key: a virtual service the program schedules (network order).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fulcrum_service_key
{
    public byte protocol;
    public byte pad;
    public ushort port;
    public uint addr;
}

/// <summary>fulcrum_dr.h struct fulcrum_service: its slot table's generation and size, and the shared cursor.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fulcrum_service
{
    public uint table;
    public uint count;
    public ulong cursor;
    public uint pick;
    public uint pad;
}

/// <summary>fulcrum_dr.h struct fulcrum_slot_key.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fulcrum_slot_key
{
    public uint table;
    public uint index;
}

/// <summary>fulcrum_dr.h struct fulcrum_slot: one pick of the sequence (address and port in network order).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fulcrum_slot
{
    public fixed byte dest_mac[6];
    public ushort dest_port;
    public uint dest_addr;
    public uint dest_id;
    public int weight;
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
