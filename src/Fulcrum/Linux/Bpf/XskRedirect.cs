using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux.Bpf;

/// <summary>
/// The AF_XDP driver's XDP program on one interface: fulcrum_xsk (fulcrum_dr.bpf.c) loaded through libbpf
/// and attached at XDP, redirecting frames of the claimed virtual services (<see cref="SetClaims"/>) to the
/// <see cref="XdpSocket"/> registered for their RX queue (<see cref="Register"/>); everything else goes to the
/// stack. Map calls are one bpf(2) each; <see cref="SetClaims"/> and <see cref="Dispose"/> are for one
/// control thread at a time.
/// </summary>
public sealed unsafe class XskRedirect : IDisposable
{
    private const string ProgramName = "fulcrum_xsk";

    private readonly int _ifIndex;
    private readonly int _xsksFd;
    private readonly int _claimsFd;
    private readonly HashSet<(byte Protocol, IPAddress Address, ushort Port)> _claims = [];
    private nint _obj;
    private uint _xdpFlags;

    private XskRedirect(int ifIndex, nint obj, bool native)
    {
        _ifIndex = ifIndex;
        _obj = obj;
        Native = native;
        _xsksFd = Libbpf.MapFd(Find(Libbpf.FindMapByName(obj, "fulcrum_xsks"), "map fulcrum_xsks"));
        _claimsFd = Libbpf.MapFd(Find(Libbpf.FindMapByName(obj, "fulcrum_claims"), "map fulcrum_claims"));
    }

    /// <summary>True when the program runs in the driver (XDP_FLAGS_DRV_MODE), false for generic (skb) XDP.</summary>
    public bool Native { get; }

    /// <summary>
    /// Loads the object and attaches fulcrum_xsk to <paramref name="interface"/> in driver mode when
    /// <paramref name="native"/>, else generic; first removes what a killed Fulcrum left there.
    /// </summary>
    public static XskRedirect Open(string @interface, bool native, string? objectPath = null)
    {
        int ifIndex = NetInterface.GetIndex(@interface);
        KernelTier.RemoveStale(ifIndex);
        string path = objectPath ?? KernelTier.DefaultObjectPath;
        nint obj = Libbpf.ObjectOpenFile(path, null);
        if (obj == 0)
            Errno.Throw($"bpf_object__open_file({path})");
        int rc = Libbpf.ObjectLoad(obj);
        if (rc < 0)
        {
            Libbpf.ObjectClose(obj);
            Errno.Throw("bpf_object__load(fulcrum_dr.bpf.o)", -rc);
        }

        var redirect = new XskRedirect(ifIndex, obj, native);
        try
        {
            uint flags = native ? Libbpf.XDP_FLAGS_DRV_MODE : Libbpf.XDP_FLAGS_SKB_MODE;
            int prog = Libbpf.ProgramFd(Find(Libbpf.FindProgramByName(obj, ProgramName), "program " + ProgramName));
            rc = Libbpf.XdpAttach(ifIndex, prog, flags, null);
            if (rc < 0)
                Errno.Throw(native ? "bpf_xdp_attach(fulcrum_xsk, native)" : "bpf_xdp_attach(fulcrum_xsk, generic)", -rc);
            redirect._xdpFlags = flags;
            return redirect;
        }
        catch
        {
            redirect.Dispose();
            throw;
        }
    }

    /// <summary>Sends the frames of RX queue <paramref name="queueId"/> to <paramref name="socket"/>.</summary>
    public void Register(int queueId, XdpSocket socket)
    {
        uint key = (uint)queueId;
        int fd = socket.Fd;
        int rc = Libbpf.MapUpdate(_xsksFd, &key, &fd, Libbpf.BPF_ANY);
        if (rc < 0)
            Errno.Throw($"bpf_map_update_elem(fulcrum_xsks[{queueId}])", -rc);
    }

    /// <summary>
    /// Makes <paramref name="claims"/> (protocol, VIP, port) the set redirected to user space: adds the new
    /// ones before removing the old, so a service that stays is never missed.
    /// </summary>
    public void SetClaims(IEnumerable<(byte Protocol, IPAddress Address, ushort Port)> claims)
    {
        var wanted = new HashSet<(byte, IPAddress, ushort)>(claims);
        byte one = 1;
        foreach (var c in wanted)
        {
            if (_claims.Contains(c))
                continue;
            var key = ClaimKey(c.Item1, c.Item2, c.Item3);
            int rc = Libbpf.MapUpdate(_claimsFd, &key, &one, Libbpf.BPF_ANY);
            if (rc < 0)
                Errno.Throw("bpf_map_update_elem(fulcrum_claims)", -rc);
            _claims.Add(c);
        }

        _claims.RemoveWhere(c =>
        {
            if (wanted.Contains(c))
                return false;
            var key = ClaimKey(c.Protocol, c.Address, c.Port);
            _ = Libbpf.MapDelete(_claimsFd, &key);
            return true;
        });
    }

    /// <summary>The map key of a claim: family, protocol, port and address in network order.</summary>
    internal static fulcrum_claim_key ClaimKey(byte protocol, IPAddress address, ushort port)
    {
        var key = new fulcrum_claim_key
        {
            family = address.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)6 : (byte)4,
            protocol = protocol,
            port = BinaryPrimitives.ReverseEndianness(port),
        };
        if (!address.TryWriteBytes(new Span<byte>(key.addr, 16), out _))
            throw new ArgumentException("not an IPv4 or IPv6 address", nameof(address));
        return key;
    }

    public void Dispose()
    {
        if (_xdpFlags != 0)
        {
            _ = Libbpf.XdpDetach(_ifIndex, _xdpFlags, null);
            _xdpFlags = 0;
        }

        if (_obj != 0)
        {
            Libbpf.ObjectClose(_obj);
            _obj = 0;
        }
    }

    private static nint Find(nint found, string what) =>
        found != 0 ? found : throw new LinuxException($"{KernelTier.ObjectFileName} has no {what}");
}
