using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Fulcrum.Balancing;

/// <summary>An inclusive destination port range; a single port has <see cref="First"/> == <see cref="Last"/>.</summary>
public readonly record struct PortRange(ushort First, ushort Last)
{
    public static readonly PortRange Any = new(0, ushort.MaxValue);

    public bool IsAny => First == 0 && Last == ushort.MaxValue;

    public override string ToString() =>
        First == Last ? First.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");
}

/// <summary>
/// One mark rule: packets to <see cref="Network"/>/<see cref="PrefixLength"/> whose protocol is one of
/// <see cref="Protocols"/> and whose destination port falls in one of <see cref="Ports"/> carry mark
/// <see cref="Mark"/>, as if an nftables rule <c>ip daddr N tcp dport P meta mark set M</c> had marked them
/// in prerouting. Fulcrum's data plane sees frames before netfilter, so it classifies them itself
/// (Balancing/README.md, "Firewall marks").
/// </summary>
/// <param name="Mark">The mark (1..2^32-1): the fwmark service (ipvsadm -f MARK) the packets go to.</param>
/// <param name="Network">The destination network, IPv4 host order, already masked.</param>
/// <param name="PrefixLength">0..32.</param>
/// <param name="Protocols">TCP, UDP and/or SCTP; never empty.</param>
/// <param name="Ports">Destination port ranges; <see cref="PortRange.Any"/> alone when the rule names none.</param>
/// <param name="Line">The line of the rules file (0 when built in code), for messages.</param>
public sealed record FwMarkRule(uint Mark, uint Network, int PrefixLength, IReadOnlyList<IpProtocol> Protocols, IReadOnlyList<PortRange> Ports, int Line = 0)
{
    /// <summary>The destination network as an address.</summary>
    public IPAddress Address => Balancer.ToAddress(Network);

    /// <summary>The rule in the file syntax (nft's), one line.</summary>
    public override string ToString()
    {
        var s = new System.Text.StringBuilder();
        s.Append("ip daddr ").Append(Address);
        if (PrefixLength != 32)
        {
            s.Append('/').Append(PrefixLength.ToString(CultureInfo.InvariantCulture));
        }

        bool anyPort = Ports.Count == 1 && Ports[0].IsAny;
        if (Protocols.Count == 1 && !anyPort)
        {
            s.Append(' ').Append(FwMarkRules.ProtocolName(Protocols[0])).Append(" dport ");
        }
        else
        {
            s.Append(" meta l4proto ");
            AppendSet(s, Protocols, static p => FwMarkRules.ProtocolName(p));
            if (!anyPort)
            {
                s.Append(" th dport ");
            }
        }

        if (!anyPort)
        {
            AppendSet(s, Ports, static p => p.ToString());
        }

        s.Append(" meta mark set ").Append(Mark.ToString(CultureInfo.InvariantCulture));
        return s.ToString();
    }

    private static void AppendSet<T>(System.Text.StringBuilder s, IReadOnlyList<T> items, Func<T, string> name)
    {
        if (items.Count == 1)
        {
            s.Append(name(items[0]));
            return;
        }

        s.Append("{ ");
        for (int i = 0; i < items.Count; i++)
        {
            s.Append(i == 0 ? "" : ", ").Append(name(items[i]));
        }

        s.Append(" }");
    }
}

/// <summary>One problem in a rules file: where and what.</summary>
public readonly record struct FwMarkRuleError(string File, int Line, int Column, string Message)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}: error: {Message}");
}

/// <summary>
/// Reads the rules file of <c>fulcrum run --fwmark-rules FILE</c>: one rule per line in the nftables
/// syntax operators already write for LVS (<c>nft add rule ip mangle prerouting ...</c>), '#' comments.
/// <code>
/// ip daddr 198.51.100.100 tcp dport { 80, 443 } meta mark set 1
/// ip daddr 198.51.100.0/28 udp dport 10000-20000 meta mark set 2
/// ip daddr 198.51.100.100 meta l4proto { tcp, udp } th dport 53 meta mark set 3
/// nft add rule ip mangle prerouting ip daddr 198.51.100.100 meta mark set 4
/// </code>
/// A leading <c>[nft] add rule FAMILY TABLE CHAIN</c> is skipped, so rules can be pasted from a script.
/// Only destination matches are accepted (address or prefix, protocol, port, port range, sets of them):
/// what fwmark services are used for. A rule without ports covers every port; without a protocol, TCP,
/// UDP and SCTP.
/// </summary>
public static class FwMarkRules
{
    /// <summary>Parses <paramref name="text"/>; <paramref name="file"/> only names it in errors.</summary>
    public static IReadOnlyList<FwMarkRule> Parse(string text, string file, List<FwMarkRuleError> errors)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(errors);
        var rules = new List<FwMarkRule>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            int hash = line.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0)
            {
                line = line[..hash];
            }

            var tokens = Tokenize(line);
            if (tokens.Count == 0)
            {
                continue;
            }

            var parser = new LineParser(tokens, file, i + 1, errors);
            if (parser.TryParse(out var rule))
            {
                rules.Add(rule);
            }
        }

        return rules;
    }

    /// <summary>Reads and parses a rules file; I/O errors propagate.</summary>
    public static IReadOnlyList<FwMarkRule> Load(string path, List<FwMarkRuleError> errors) =>
        Parse(File.ReadAllText(path), path, errors);

    internal static string ProtocolName(IpProtocol p) => p switch
    {
        IpProtocol.Tcp => "tcp",
        IpProtocol.Udp => "udp",
        IpProtocol.Sctp => "sctp",
        _ => ((int)p).ToString(CultureInfo.InvariantCulture),
    };

    private static List<(string Text, int Column)> Tokenize(string line)
    {
        var tokens = new List<(string, int)>();
        int i = 0;
        while (i < line.Length)
        {
            char c = line[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c is '{' or '}' or ',')
            {
                tokens.Add((c.ToString(), i + 1));
                i++;
            }
            else
            {
                int start = i;
                while (i < line.Length && !char.IsWhiteSpace(line[i]) && line[i] is not ('{' or '}' or ','))
                {
                    i++;
                }

                tokens.Add((line[start..i], start + 1));
            }
        }

        return tokens;
    }

    private sealed class LineParser(List<(string Text, int Column)> tokens, string file, int line, List<FwMarkRuleError> errors)
    {
        private int _at;
        private bool _failed;

        public bool TryParse(out FwMarkRule rule)
        {
            rule = null!;
            SkipRulePrefix();
            uint? network = null;
            int prefix = 32;
            List<IpProtocol>? protocols = null;
            List<PortRange>? ports = null;
            uint? mark = null;
            while (!_failed && _at < tokens.Count)
            {
                var (word, column) = tokens[_at++];
                switch (word)
                {
                    case "ip" when Tok(0) == "daddr":
                        _at++;
                        if (network is not null)
                        {
                            Fail(column, "ip daddr given twice");
                        }
                        else if (Expect("an IPv4 address or prefix") is { } a && TryPrefix(a.Text, a.Column, out uint net, out prefix))
                        {
                            network = net;
                        }

                        break;
                    case "ip" when Tok(0) == "protocol":
                    case "meta" when Tok(0) == "l4proto":
                        _at++;
                        if (protocols is not null)
                        {
                            Fail(column, "the protocol is given twice");
                        }

                        protocols = ParseSet("a protocol (tcp, udp, sctp)", ParseProtocol);
                        break;
                    case "tcp" or "udp" or "sctp" or "th" when Tok(0) == "dport":
                        _at++;
                        if (word != "th")
                        {
                            var p = ParseProtocol(word, column)!.Value;
                            if (protocols is not null && (protocols.Count != 1 || protocols[0] != p))
                            {
                                Fail(column, $"'{word} dport' contradicts the protocol given before");
                            }

                            protocols = [p];
                        }
                        else if (protocols is null)
                        {
                            Fail(column, "'th dport' needs 'meta l4proto' before it");
                        }

                        if (ports is not null)
                        {
                            Fail(column, "dport given twice");
                        }

                        ports = ParseSet("a port or port range", ParsePorts);
                        break;
                    case "meta" when Tok(0) == "mark" && Tok(1) == "set":
                    case "mark" when Tok(0) == "set":
                        _at += word == "meta" ? 2 : 1;
                        if (mark is not null)
                        {
                            Fail(column, "mark set given twice");
                        }
                        else if (Expect("a mark") is { } m)
                        {
                            mark = ParseMark(m.Text, m.Column);
                        }

                        break;
                    case "ip" when Tok(0) == "saddr":
                        Fail(column, "only destination matches are supported: fwmark services group destinations");
                        break;
                    case "counter" or "accept":
                        // Harmless in a pasted mangle rule: marking is what matters here.
                        break;
                    default:
                        Fail(column, $"unexpected '{word}' (expected ip daddr, tcp/udp/sctp dport, meta l4proto, th dport or meta mark set)");
                        break;
                }
            }

            if (_failed)
            {
                return false;
            }

            if (mark is null)
            {
                Fail(tokens[^1].Column, "a rule needs 'meta mark set N'");
                return false;
            }

            if (network is null)
            {
                Fail(tokens[0].Column, "a rule needs 'ip daddr ADDRESS[/PREFIX]'");
                return false;
            }

            rule = new FwMarkRule(mark.Value, network.Value, prefix,
                protocols ?? [IpProtocol.Tcp, IpProtocol.Udp, IpProtocol.Sctp], ports ?? [PortRange.Any], line);
            return true;
        }

        private void SkipRulePrefix()
        {
            if (Tok(0) == "nft")
            {
                _at++;
            }

            // [add|insert] rule [FAMILY] TABLE CHAIN: the family is optional in nft (ip by default).
            if (Tok(0) is "add" or "insert" && Tok(1) == "rule")
            {
                _at += 2;
                if (Tok(0) is "ip" or "inet" or "ip6" or "netdev" && Tok(1) is not ("daddr" or "saddr" or "protocol"))
                {
                    _at++;
                }

                _at += 2;
                if (_at >= tokens.Count)
                {
                    _at = tokens.Count;
                    Fail(tokens[^1].Column, "'add rule' needs a table, a chain and then the rule");
                }
            }
        }

        /// <summary>The token <paramref name="k"/> places after the next unread one, or null past the end.</summary>
        private string? Tok(int k) => _at + k < tokens.Count ? tokens[_at + k].Text : null;

        private (string Text, int Column)? Expect(string what)
        {
            if (_at >= tokens.Count)
            {
                Fail(tokens[^1].Column, $"expected {what} at the end of the line");
                return null;
            }

            return tokens[_at++];
        }

        private List<T> ParseSet<T>(string what, Func<string, int, T?> item)
            where T : struct
        {
            var list = new List<T>();
            if (Expect(what) is not { } first)
            {
                return list;
            }

            if (first.Text != "{")
            {
                if (item(first.Text, first.Column) is { } one)
                {
                    list.Add(one);
                }

                return list;
            }

            while (!_failed)
            {
                if (Expect(what) is not { } t)
                {
                    break;
                }

                if (item(t.Text, t.Column) is { } v)
                {
                    list.Add(v);
                }

                if (Expect("',' or '}'") is not { } sep)
                {
                    break;
                }

                if (sep.Text == "}")
                {
                    break;
                }

                if (sep.Text != ",")
                {
                    Fail(sep.Column, $"expected ',' or '}}', not '{sep.Text}'");
                }
            }

            return list;
        }

        private IpProtocol? ParseProtocol(string text, int column)
        {
            switch (text)
            {
                case "tcp":
                    return IpProtocol.Tcp;
                case "udp":
                    return IpProtocol.Udp;
                case "sctp":
                    return IpProtocol.Sctp;
                default:
                    Fail(column, $"unknown protocol '{text}' (tcp, udp or sctp)");
                    return null;
            }
        }

        private PortRange? ParsePorts(string text, int column)
        {
            int dash = text.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                return TryPort(text, column, out ushort p) ? new PortRange(p, p) : null;
            }

            if (!TryPort(text[..dash], column, out ushort first) || !TryPort(text[(dash + 1)..], column + dash + 1, out ushort last))
            {
                return null;
            }

            if (last < first)
            {
                Fail(column, $"port range '{text}' ends before it starts");
                return null;
            }

            return new PortRange(first, last);
        }

        private bool TryPort(string text, int column, out ushort port)
        {
            if (ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port))
            {
                return true;
            }

            Fail(column, $"'{text}' is not a port (0..65535)");
            return false;
        }

        private uint? ParseMark(string text, int column)
        {
            bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
            bool ok = hex
                ? uint.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint mark)
                : uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out mark);
            if (!ok || mark == 0)
            {
                // ipvsadm: "fwmark is an integer greater than zero".
                Fail(column, $"'{text}' is not a mark (1..4294967295)");
                return null;
            }

            return mark;
        }

        private bool TryPrefix(string text, int column, out uint network, out int prefix)
        {
            network = 0;
            prefix = 32;
            int slash = text.IndexOf('/', StringComparison.Ordinal);
            string address = slash < 0 ? text : text[..slash];
            if (!IPAddress.TryParse(address, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork || address.Count(static c => c == '.') != 3)
            {
                Fail(column, $"'{text}' is not an IPv4 address or prefix");
                return false;
            }

            if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > 32))
            {
                Fail(column + slash + 1, $"'{text[(slash + 1)..]}' is not a prefix length (0..32)");
                return false;
            }

            Span<byte> b = stackalloc byte[4];
            ip.TryWriteBytes(b, out _);
            uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
            network = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b) & mask;
            return true;
        }

        private void Fail(int column, string message)
        {
            if (!_failed)
            {
                errors.Add(new FwMarkRuleError(file, line, column, message));
                _failed = true;
            }
        }
    }
}
