using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Balancing;

namespace Fulcrum.Linux;

/// <summary>
/// The kernel drop rules that claim virtual-service traffic for the data plane. The director holds the VIP
/// on its interface, so its own stack would answer service packets (a TCP RST, an ICMP port unreachable).
/// An nftables netdev table, <c>fulcrum_IFNAME</c>, hooked at ingress of that device drops packets whose
/// (destination address, protocol, destination port) is a virtual service. AF_PACKET taps run before the
/// netdev ingress hook (__netif_receive_skb_core delivers to ptype_all, then runs tc and nf ingress), so the
/// data plane's <see cref="PacketRing"/> still receives every claimed frame. Everything else (ARP for the
/// VIP, SSH, VRRP) reaches the stack untouched.
/// </summary>
/// <remarks>
/// Driven through the <c>nft</c> CLI with the script on stdin: libnftables has no .NET binding, and its
/// CLI/JSON input is the interface nftables keeps stable. Each change is one <c>nft -f -</c> run, which the
/// kernel applies as one transaction. Rules are per network namespace (the namespace <c>nft</c> runs in is the
/// calling thread's). IPv6 services get a set and rule of their own (services6, ip6 daddr).
/// </remarks>
public sealed class ServiceClaimRules : IDisposable
{
    /// <summary>
    /// Priority of the ingress chain: well before anything an operator is likely to hook (filter is 0), so a
    /// claimed packet costs the stack nothing.
    /// </summary>
    public const int Priority = -500;

    private string? _installedOn;

    /// <summary>The nft executable (overridable for tests or unusual installs).</summary>
    public string NftPath { get; init; } = "nft";

    /// <summary>The table name for an interface: fulcrum_IFNAME.</summary>
    public static string TableName(string ifName)
    {
        ValidateInterfaceName(ifName);
        return "fulcrum_" + ifName;
    }

    /// <summary>
    /// Replaces the whole table of <paramref name="ifName"/> with drop rules for <paramref name="services"/>,
    /// atomically (add table; delete table; add table {...} in one transaction: the old rules stay until the
    /// new ones are in). An empty list leaves an empty set, which drops nothing.
    /// </summary>
    public void Install(string ifName, IEnumerable<(IpProtocol Protocol, IPAddress Vip, ushort Port)> services)
    {
        string script = BuildScript(ifName, services);
        RunNft(script, "install");
        _installedOn = ifName;
    }

    /// <summary>
    /// Deletes the table of <paramref name="ifName"/> if one is present, e.g. left behind by a crashed
    /// daemon; the daemon calls it at start. Returns whether a table was removed.
    /// </summary>
    public bool RemoveStale(string ifName)
    {
        string table = TableName(ifName);
        bool existed = Exists(ifName);

        // "destroy table" (nft 1.0.8+) ignores a missing table; "add then delete" works on every version and
        // is still one transaction.
        RunNft($"add table netdev {table}\ndelete table netdev {table}\n", "remove");
        if (ifName == _installedOn)
        {
            _installedOn = null;
        }

        return existed;
    }

    /// <summary>Whether the table of <paramref name="ifName"/> exists (nft list tables).</summary>
    public bool Exists(string ifName)
    {
        string table = TableName(ifName);
        string output = RunNft(null, "list", "list", "tables", "netdev");
        foreach (string line in output.Split('\n'))
        {
            if (line.Trim() == $"table netdev {table}")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Removes the table this instance installed last, if any.</summary>
    public void Remove()
    {
        if (_installedOn is string ifName)
        {
            RemoveStale(ifName);
        }
    }

    /// <summary>Same as <see cref="Remove"/>.</summary>
    public void Dispose() => Remove();

    /// <summary>The nft script <see cref="Install"/> runs (exposed for tests).</summary>
    internal static string BuildScript(string ifName, IEnumerable<(IpProtocol Protocol, IPAddress Vip, ushort Port)> services)
    {
        ArgumentNullException.ThrowIfNull(services);
        string table = TableName(ifName);
        var elements = new SortedSet<string>(StringComparer.Ordinal);
        var elements6 = new SortedSet<string>(StringComparer.Ordinal);
        foreach ((IpProtocol protocol, IPAddress vip, ushort port) in services)
        {
            ArgumentNullException.ThrowIfNull(vip);
            if (vip.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            {
                throw new NotSupportedException($"Virtual service {vip}: not an IPv4 or IPv6 address.");
            }

            string proto = protocol switch
            {
                IpProtocol.Tcp => "tcp",
                IpProtocol.Udp => "udp",
                IpProtocol.Sctp => "sctp",
                _ => throw new ArgumentOutOfRangeException(nameof(services), protocol, "Unknown protocol."),
            };
            (vip.AddressFamily == AddressFamily.InterNetwork ? elements : elements6)
                .Add(string.Create(CultureInfo.InvariantCulture, $"{vip} . {proto} . {port}"));
        }

        var s = new StringBuilder();
        s.Append("add table netdev ").Append(table).Append('\n');
        s.Append("delete table netdev ").Append(table).Append('\n');
        s.Append("table netdev ").Append(table).Append(" {\n");
        s.Append("\tset services4 {\n\t\ttype ipv4_addr . inet_proto . inet_service\n");
        if (elements.Count > 0)
        {
            s.Append("\t\telements = { ").AppendJoin(", ", elements).Append(" }\n");
        }

        s.Append("\t}\n");

        // The IPv6 set only when there are IPv6 services, so an IPv4-only director's table reads as before.
        if (elements6.Count > 0)
        {
            s.Append("\tset services6 {\n\t\ttype ipv6_addr . inet_proto . inet_service\n");
            s.Append("\t\telements = { ").AppendJoin(", ", elements6).Append(" }\n");
            s.Append("\t}\n");
        }

        s.Append("\tchain ingress {\n");
        s.Append("\t\ttype filter hook ingress device \"").Append(ifName).Append("\" priority ")
            .Append(Priority.ToString(CultureInfo.InvariantCulture)).Append("; policy accept;\n");

        // Non-first fragments have no ports: th dport does not match them, so they reach the stack, as
        // IPVS leaves them to the stack too.
        s.Append("\t\tip daddr . meta l4proto . th dport @services4 drop\n");

        // nft finds an IPv6 packet's transport header behind extension headers (ipv6_find_hdr), so a service
        // packet the data plane counts as ExtensionHeader is still kept from the stack.
        if (elements6.Count > 0)
        {
            s.Append("\t\tip6 daddr . meta l4proto . th dport @services6 drop\n");
        }

        s.Append("\t}\n}\n");
        return s.ToString();
    }

    private string RunNft(string? stdin, string what, params string[] args)
    {
        var psi = new ProcessStartInfo(NftPath)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (stdin is not null)
        {
            psi.ArgumentList.Add("-f");
            psi.ArgumentList.Add("-");
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {NftPath}.");
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }

        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string errors = stderr.GetAwaiter().GetResult();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"nft {what} failed (exit {p.ExitCode}): {errors.Trim()}");
        }

        return stdout;
    }

    private string RunNft(string script, string what) => RunNft(script, what, []);

    private static void ValidateInterfaceName(string ifName)
    {
        ArgumentException.ThrowIfNullOrEmpty(ifName);
        if (ifName.Length > 15)
        {
            throw new ArgumentException($"Interface name '{ifName}' is longer than 15 characters.", nameof(ifName));
        }

        // nft identifiers: a letter then letters, digits, '_', '-', '.'; the table name is fulcrum_ + ifname.
        foreach (char c in ifName)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            {
                throw new ArgumentException($"Interface name '{ifName}' has a character nft cannot take in a table name.", nameof(ifName));
            }
        }
    }
}
