using System.Net;
using System.Net.Sockets;

namespace Fulcrum.Adm;

/// <summary>
/// Host and service names for `fulcrum adm`, from /etc/hosts and /etc/services only.
/// ipvsadm calls gethostbyname/gethostbyaddr/getservbyname/getservbyport, which may go to DNS; a
/// director's control path must not block on a resolver (and its namespace may have none), so we
/// answer from the files glibc's "files" backend reads, with that backend's matching rules:
/// host names case-insensitive, first line wins, service names case-sensitive.
/// </summary>
internal sealed class AdmNames
{
    private readonly Dictionary<string, IPAddress> _hostToV4 = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<IPAddress, string> _addrToHost = [];
    private readonly Dictionary<(string Name, string Proto), int> _serviceToPort = [];
    private readonly Dictionary<(int Port, string Proto), string> _portToService = [];

    public static AdmNames FromSystemFiles() =>
        Parse(ReadOrEmpty("/etc/hosts"), ReadOrEmpty("/etc/services"));

    public static AdmNames Parse(string hosts, string services)
    {
        var names = new AdmNames();
        foreach (string raw in hosts.Split('\n'))
        {
            string[] f = Fields(raw);
            if (f.Length < 2 || !TryParseHostsAddress(f[0], out IPAddress? addr))
                continue;
            names._addrToHost.TryAdd(addr, f[1]);
            if (addr.AddressFamily != AddressFamily.InterNetwork)
                continue;
            for (int i = 1; i < f.Length; i++)
                names._hostToV4.TryAdd(f[i], addr);
        }

        foreach (string raw in services.Split('\n'))
        {
            string[] f = Fields(raw);
            if (f.Length < 2)
                continue;
            int slash = f[1].IndexOf('/');
            if (slash <= 0 || !int.TryParse(f[1].AsSpan(0, slash), System.Globalization.NumberStyles.None, null, out int port) || port > 65535)
                continue;
            string proto = f[1][(slash + 1)..];
            names._portToService.TryAdd((port, proto), f[0]);
            names._serviceToPort.TryAdd((f[0], proto), port);
            for (int i = 2; i < f.Length; i++)
                names._serviceToPort.TryAdd((f[i], proto), port);
        }
        return names;
    }

    /// <summary>gethostbyname restricted to IPv4 (ipvsadm's host_to_addr).</summary>
    public bool TryHostToIPv4(string name, out IPAddress address) => _hostToV4.TryGetValue(name, out address!);

    /// <summary>gethostbyaddr's h_name, or null.</summary>
    public string? AddressToHost(IPAddress address) => _addrToHost.GetValueOrDefault(address);

    /// <summary>getservbyname for the protocol's name ("tcp", "udp", "sctp"), or -1.</summary>
    public int ServiceToPort(string name, string? proto) =>
        proto is not null && _serviceToPort.TryGetValue((name, proto), out int p) ? p : -1;

    /// <summary>getservbyport's s_name, or null.</summary>
    public string? PortToService(int port, string? proto) =>
        proto is null ? null : _portToService.GetValueOrDefault((port, proto));

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static string[] Fields(string line)
    {
        int hash = line.IndexOf('#');
        if (hash >= 0)
            line = line[..hash];
        return line.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
    }

    private static bool TryParseHostsAddress(string s, out IPAddress address)
    {
        address = IPAddress.None;
        if (s.Contains(':'))
            return AdmAddress.TryParseIPv6(s, out address);
        return AdmAddress.TryParseIPv4Strict(s, out address);
    }
}
