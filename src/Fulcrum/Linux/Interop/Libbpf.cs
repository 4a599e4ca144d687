using System.Runtime.InteropServices;

// Kernel and libbpf structs keep their C names (see Libc.cs).
#pragma warning disable CS8981

namespace Fulcrum.Linux.Interop;

/// <summary>
/// The libbpf 1.x calls of the kernel tier (Debian's libbpf.so.1, package libbpf1; headers in libbpf-dev).
/// libbpf returns a negative errno (and sets errno) on failure; pointer-returning calls return null.
/// Object and program pointers stay in this folder; <c>Linux/Bpf</c> wraps them.
/// </summary>
internal static unsafe partial class Libbpf
{
    private const string Library = "libbpf.so.1";

    // include/uapi/linux/if_link.h
    internal const uint XDP_FLAGS_UPDATE_IF_NOEXIST = 1;
    internal const uint XDP_FLAGS_SKB_MODE = 2;
    internal const uint XDP_FLAGS_DRV_MODE = 4;

    // libbpf.h: enum bpf_tc_attach_point, enum bpf_tc_flags
    internal const int BPF_TC_INGRESS = 1;
    internal const int BPF_TC_EGRESS = 2;
    internal const uint BPF_TC_F_REPLACE = 1;

    // include/uapi/linux/bpf.h: BPF_ANY for map updates; SO_ATTACH_BPF in asm-generic/socket.h
    internal const ulong BPF_ANY = 0;
    internal const int SO_ATTACH_BPF = 50;

    // include/uapi/linux/bpf.h: enum bpf_map_type
    internal const int BPF_MAP_TYPE_RINGBUF = 27;

    /// <summary>libbpf_set_print: replaces libbpf's stderr printer (null silences it); returns the old one.</summary>
    [LibraryImport(Library, EntryPoint = "libbpf_set_print")]
    internal static partial nint SetPrint(nint printer);

    [LibraryImport(Library, EntryPoint = "bpf_object__open_file", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint ObjectOpenFile(string path, void* opts);

    [LibraryImport(Library, EntryPoint = "bpf_object__load")]
    internal static partial int ObjectLoad(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__close")]
    internal static partial void ObjectClose(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint FindProgramByName(nint obj, string name);

    [LibraryImport(Library, EntryPoint = "bpf_program__fd")]
    internal static partial int ProgramFd(nint prog);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint FindMapByName(nint obj, string name);

    [LibraryImport(Library, EntryPoint = "bpf_map__fd")]
    internal static partial int MapFd(nint map);

    [LibraryImport(Library, EntryPoint = "libbpf_num_possible_cpus")]
    internal static partial int NumPossibleCpus();

    [LibraryImport(Library, EntryPoint = "bpf_map_update_elem")]
    internal static partial int MapUpdate(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_elem")]
    internal static partial int MapLookup(int fd, void* key, void* value);

    [LibraryImport(Library, EntryPoint = "bpf_map_delete_elem")]
    internal static partial int MapDelete(int fd, void* key);

    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_and_delete_elem")]
    internal static partial int MapLookupAndDelete(int fd, void* key, void* value);

    [LibraryImport(Library, EntryPoint = "bpf_xdp_attach")]
    internal static partial int XdpAttach(int ifindex, int progFd, uint flags, void* opts);

    [LibraryImport(Library, EntryPoint = "bpf_xdp_detach")]
    internal static partial int XdpDetach(int ifindex, uint flags, void* opts);

    [LibraryImport(Library, EntryPoint = "bpf_xdp_query_id")]
    internal static partial int XdpQueryId(int ifindex, int flags, uint* progId);

    [LibraryImport(Library, EntryPoint = "bpf_prog_get_fd_by_id")]
    internal static partial int ProgGetFdById(uint id);

    [LibraryImport(Library, EntryPoint = "bpf_obj_get_info_by_fd")]
    internal static partial int ObjGetInfoByFd(int fd, void* info, uint* infoLength);

    [LibraryImport(Library, EntryPoint = "bpf_tc_hook_create")]
    internal static partial int TcHookCreate(bpf_tc_hook* hook);

    [LibraryImport(Library, EntryPoint = "bpf_tc_hook_destroy")]
    internal static partial int TcHookDestroy(bpf_tc_hook* hook);

    [LibraryImport(Library, EntryPoint = "bpf_tc_attach")]
    internal static partial int TcAttach(bpf_tc_hook* hook, bpf_tc_opts* opts);

    [LibraryImport(Library, EntryPoint = "bpf_tc_detach")]
    internal static partial int TcDetach(bpf_tc_hook* hook, bpf_tc_opts* opts);

    /// <summary>
    /// bpf_prog_test_run_opts: runs a loaded program <c>repeat</c> times on a copy of a frame (BPF_PROG_TEST_RUN);
    /// the kernel reports the program's verdict, the frame as the program left it and the mean time per run.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "bpf_prog_test_run_opts")]
    internal static partial int ProgTestRun(int progFd, bpf_test_run_opts* opts);

    /// <summary>bpf_map_create: a map outside any object (here: an event ring for the object's map-in-map); its fd, or a negative errno.</summary>
    [LibraryImport(Library, EntryPoint = "bpf_map_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MapCreate(int mapType, string name, uint keySize, uint valueSize, uint maxEntries, void* opts);

    /// <summary>
    /// ring_buffer__new: libbpf's consumer of a BPF ring buffer map; <paramref name="sampleCallback"/> gets each record
    /// (ctx, data, size) during <see cref="RingBufferConsume"/>. Null on failure.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "ring_buffer__new")]
    internal static partial nint RingBufferNew(int mapFd, delegate* unmanaged<nint, void*, nuint, int> sampleCallback, nint ctx, void* opts);

    /// <summary>ring_buffer__consume: hands every committed record to the callback without waiting (no syscall); the count, or a negative errno.</summary>
    [LibraryImport(Library, EntryPoint = "ring_buffer__consume")]
    internal static partial int RingBufferConsume(nint ringBuffer);

    [LibraryImport(Library, EntryPoint = "ring_buffer__free")]
    internal static partial void RingBufferFree(nint ringBuffer);
}

/// <summary>libbpf.h struct bpf_tc_hook (sz, then fields; the trailing size_t :0 pads to 8).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct bpf_tc_hook
{
    public nuint sz;
    public int ifindex;
    public int attach_point;
    public uint parent;
    private readonly uint _pad;
}

/// <summary>bpf.h struct bpf_test_run_opts (libbpf 1.1): BPF_PROG_TEST_RUN's input frame, output and timing.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct bpf_test_run_opts
{
    public nuint sz;
    public void* data_in;
    public void* data_out;
    public uint data_size_in;
    public uint data_size_out;
    public void* ctx_in;
    public void* ctx_out;
    public uint ctx_size_in;
    public uint ctx_size_out;
    public uint retval;
    public int repeat;
    public uint duration;
    public uint flags;
    public uint cpu;
    public uint batch_size;
}

/// <summary>libbpf.h struct bpf_tc_opts.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct bpf_tc_opts
{
    public nuint sz;
    public int prog_fd;
    public uint flags;
    public uint prog_id;
    public uint handle;
    public uint priority;
    private readonly uint _pad;
}

/// <summary>
/// The head of include/uapi/linux/bpf.h struct bpf_prog_info, up to the name: the kernel fills only the
/// length it is given (bpf_prog_get_info_by_fd copies min(info_len, sizeof)).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct bpf_prog_info
{
    public uint type;
    public uint id;
    public fixed byte tag[8];
    public uint jited_prog_len;
    public uint xlated_prog_len;
    public ulong jited_prog_insns;
    public ulong xlated_prog_insns;
    public ulong load_time;
    public uint created_by_uid;
    public uint nr_map_ids;
    public ulong map_ids;
    public fixed byte name[16];
}
