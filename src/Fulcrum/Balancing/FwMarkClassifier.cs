namespace Fulcrum.Balancing;

/// <summary>
/// The mark step of the data plane's service lookup: Fulcrum's stand-in for the mark an operator's
/// nftables/iptables mangle rule would set, which the AF_PACKET tap never sees (it runs before netfilter;
/// Balancing/README.md, "Firewall marks"). Built by the control plane with each snapshot from the
/// <see cref="FwMarkRule"/>s and the IPv4 fwmark services in force; workers only scan it.
/// </summary>
internal sealed class FwMarkClassifier
{
    public static readonly FwMarkClassifier Empty = new([], []);

    // One entry per (rule, protocol, port range), in rule order. Empty when no rule's mark has a service,
    // so a configuration without fwmark services pays one length check per packet.
    private readonly Entry[] _entries;

    public FwMarkClassifier(IReadOnlyList<FwMarkRule> rules, IReadOnlyList<VirtualService> services)
    {
        Rules = rules;
        var byMark = new Dictionary<uint, VirtualService>();
        foreach (var s in services)
        {
            // __ip_vs_svc_fwm_find matches the packet's family too: these rules are IPv4 only.
            if (s.Key.IsFwMark && s.Key.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            {
                byMark.TryAdd(s.Key.FwMark, s);
            }
        }

        var entries = new List<Entry>();
        var served = new List<FwMarkRule>();
        foreach (var rule in rules)
        {
            byMark.TryGetValue(rule.Mark, out var svc);
            if (svc is not null)
            {
                served.Add(rule);
            }

            uint mask = rule.PrefixLength == 0 ? 0 : uint.MaxValue << (32 - rule.PrefixLength);
            foreach (var protocol in rule.Protocols)
            {
                foreach (var ports in rule.Ports)
                {
                    // A rule whose mark has no service stays in: a later match overrides an earlier one, and
                    // the kernel then looks the packet up by address (ip_vs_service_find finds no fwmark service).
                    entries.Add(new Entry(rule.Network & mask, mask, ports.First, (ushort)(ports.Last - ports.First), (byte)protocol, svc));
                }
            }
        }

        _entries = served.Count == 0 ? [] : [.. entries];
        ServedRules = served;
    }

    /// <summary>Every rule, in file order.</summary>
    public IReadOnlyList<FwMarkRule> Rules { get; }

    /// <summary>The rules whose mark has an IPv4 fwmark service now: the traffic the data plane takes.</summary>
    public IReadOnlyList<FwMarkRule> ServedRules { get; }

    /// <summary>
    /// The fwmark service of the mark the rules give (protocol, IPv4 destination, destination port), host
    /// order; null when no rule matches or the mark has no service. As with nftables' and iptables'
    /// non-terminating MARK, the last matching rule decides, so the scan runs backwards and stops at the first hit.
    /// </summary>
    public VirtualService? Find(byte protocol, uint address, ushort port)
    {
        var entries = _entries;
        for (int i = entries.Length - 1; i >= 0; i--)
        {
            ref readonly var e = ref entries[i];
            if (e.Protocol == protocol && (address & e.Mask) == e.Network && (ushort)(port - e.FirstPort) <= e.PortSpan)
            {
                return e.Service;
            }
        }

        return null;
    }

    private readonly record struct Entry(uint Network, uint Mask, ushort FirstPort, ushort PortSpan, byte Protocol, VirtualService? Service);
}
