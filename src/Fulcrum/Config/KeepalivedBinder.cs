using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Fulcrum.Config;

/// <summary>
/// Turns the statement tree into the model, block by block, with keepalived's validation: an
/// invalid value is an error at the value's position and the default stays (keepalived reports
/// and ignores it too); a keyword keepalived knows but Fulcrum does not implement, and a keyword
/// nobody knows, are warnings and their blocks are skipped.
/// </summary>
internal sealed partial class KeepalivedBinder
{
    private readonly DiagnosticBag _d;
    private GlobalDefs _global = GlobalDefs.Default;
    private bool _sawGlobal;
    private readonly List<VrrpScript> _scripts = [];
    private readonly List<VrrpInstance> _instances = [];
    private readonly List<VrrpSyncGroup> _syncGroups = [];
    private readonly List<VirtualServerGroup> _vsGroups = [];
    private readonly List<VirtualServer> _virtualServers = [];

    // Instances are completed after the whole file is read: global_defs (vrrp_version, garp
    // defaults) may come after them, as keepalived applies globals in vrrp_complete_init.
    private readonly List<InstanceDraft> _instanceDrafts = [];

    private KeepalivedBinder(DiagnosticBag diagnostics) => _d = diagnostics;

    public static KeepalivedConfiguration Bind(IReadOnlyList<ConfigNode> nodes, DiagnosticBag diagnostics)
    {
        var b = new KeepalivedBinder(diagnostics);
        foreach (var n in nodes)
            b.BindTop(n);
        b.CompleteInstances();
        b.CheckReferences();
        return new KeepalivedConfiguration(b._global, b._scripts, b._instances, b._syncGroups, b._vsGroups, b._virtualServers);
    }

    private static readonly HashSet<string> TopUnsupported = new(StringComparer.Ordinal)
    {
        "static_ipaddress", "static_routes", "static_rules", "track_group", "garp_group", "linkbeat_interfaces",
        "vrrp_track_process", "vrrp_track_file", "track_file", "SSL", "bfd_instance", "net_namespace",
        "net_namespace_ipvs", "namespace_with_ipsets", "use_pid_dir", "instance", "child_wait_time",
        "linkbeat_use_polling", "process_names", "process_name", "vrrp_process_name", "checker_process_name",
        "lvs_process_name", "bfd_process_name", "use_symlink_paths", "set_supplementary_groups",
    };

    private void BindTop(ConfigNode n)
    {
        switch (n.Name)
        {
            case "global_defs":
                if (RequireBlock(n))
                    BindGlobal(n);
                break;
            case "vrrp_script":
                if (RequireBlock(n))
                    BindVrrpScript(n);
                break;
            case "vrrp_instance":
                if (RequireBlock(n))
                    BindVrrpInstance(n);
                break;
            case "vrrp_sync_group":
                if (RequireBlock(n))
                    BindSyncGroup(n);
                break;
            case "virtual_server_group":
                if (RequireBlock(n))
                    BindVirtualServerGroup(n);
                break;
            case "virtual_server":
                if (RequireBlock(n))
                    BindVirtualServer(n);
                break;
            default:
                Skip(n, TopUnsupported);
                break;
        }
    }

    // ---- diagnostics helpers ----

    private void Error(SourceLocation at, string message) => _d.Error(at, message);

    private void Warning(SourceLocation at, string message) => _d.Warning(at, message);

    /// <summary>Reports a keyword we skip: "unsupported" when keepalived knows it, else "unknown".</summary>
    private void Skip(ConfigNode n, HashSet<string> knownButUnsupported)
    {
        if (knownButUnsupported.Contains(n.Name))
            Warning(n.Location, $"unsupported keyword '{n.Name}' skipped");
        else
            Warning(n.Location, $"unknown keyword '{n.Name}' skipped");
    }

    private bool RequireBlock(ConfigNode n)
    {
        if (n.HasBlock)
            return true;
        // parser.c: "Missing '{' at beginning of configuration block"
        Error(n.Location, $"'{n.Name}' needs a '{{' block");
        return false;
    }

    /// <summary>A keyword that takes values, not a block: a block after it is an error and is skipped.</summary>
    private bool NoBlock(ConfigNode n)
    {
        if (!n.HasBlock)
            return true;
        Error(n.Location, $"'{n.Name}' does not take a '{{' block; block skipped");
        return false;
    }

    private bool TryArg(ConfigNode n, int index, out ConfigToken token)
    {
        if (index < n.Args.Count)
        {
            token = n.Args[index];
            return true;
        }
        token = default;
        Error(n.Location, $"'{n.Name}' needs a value");
        return false;
    }

    private void ExtraArgs(ConfigNode n, int used)
    {
        if (n.Args.Count > used)
            Warning(n.Args[used].Location, $"extra argument '{n.Args[used].Text}' after '{n.Name}' ignored");
    }

    /// <summary>A single value, not a block; extra words are warned about.</summary>
    private bool TrySingle(ConfigNode n, out ConfigToken token)
    {
        token = default;
        if (!NoBlock(n) || !TryArg(n, 0, out token))
            return false;
        ExtraArgs(n, 1);
        return true;
    }

    private bool TryString(ConfigNode n, out string value)
    {
        value = "";
        if (!TrySingle(n, out var t))
            return false;
        value = t.Text;
        return true;
    }

    /// <summary>A keyword with no value (a flag such as nopreempt).</summary>
    private bool Flag(ConfigNode n)
    {
        if (!NoBlock(n))
            return false;
        ExtraArgs(n, 0);
        return true;
    }

    /// <summary>A flag with an optional boolean (inhibit_on_failure [BOOL]); true when absent.</summary>
    private bool TryOptionalBool(ConfigNode n, out bool value)
    {
        value = true;
        if (!NoBlock(n))
            return false;
        if (n.Args.Count == 0)
            return true;
        ExtraArgs(n, 1);
        return TryBool(n.Args[0], n.Name, out value);
    }

    /// <summary>parser.c check_true_false: true|on|yes and false|off|no.</summary>
    private bool TryBool(ConfigToken t, string keyword, out bool value)
    {
        switch (t.Text)
        {
            case "true" or "on" or "yes":
                value = true;
                return true;
            case "false" or "off" or "no":
                value = false;
                return true;
            default:
                value = false;
                Error(t.Location, $"{keyword} '{t.Text}' is invalid: must be true|on|yes or false|off|no");
                return false;
        }
    }

    private static bool ParseInteger(string s, out long value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 18)
            return false;
        int i = s[0] == '-' ? 1 : 0;
        if (i == s.Length)
            return false;
        for (int k = i; k < s.Length; k++)
        {
            if (!char.IsAsciiDigit(s[k]))
                return false;
        }
        return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    private bool TryInteger(ConfigToken t, string keyword, long min, long max, out long value)
    {
        if (ParseInteger(t.Text, out value) && value >= min && value <= max)
            return true;
        Error(t.Location, $"{keyword} '{t.Text}' is invalid: must be an integer in {min}..{max}");
        return false;
    }

    private bool TryInteger(ConfigNode n, long min, long max, out long value)
    {
        value = 0;
        return TrySingle(n, out var t) && TryInteger(t, n.Name, min, max, out value);
    }

    /// <summary>
    /// keepalived's TIMER: seconds with up to 6 decimals (µs; TIMER_HZ_DIGITS), no sign
    /// (parser.c read_decimal_unsigned_long_func). Limits are in microseconds.
    /// </summary>
    private bool TryTimer(ConfigToken t, string keyword, long minMicros, long maxMicros, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (ParseMicros(t.Text, out long micros) && micros >= minMicros && micros <= maxMicros)
        {
            value = TimeSpan.FromTicks(micros * 10);
            return true;
        }
        Error(t.Location, $"{keyword} '{t.Text}' is invalid: must be seconds in {FormatMicros(minMicros)}..{FormatMicros(maxMicros)}");
        return false;
    }

    private bool TryTimer(ConfigNode n, long minMicros, long maxMicros, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        return TrySingle(n, out var t) && TryTimer(t, n.Name, minMicros, maxMicros, out value);
    }

    private static string FormatMicros(long micros) =>
        (micros / 1_000_000m).ToString("0.######", CultureInfo.InvariantCulture);

    internal static bool ParseMicros(string s, out long micros)
    {
        micros = 0;
        int dot = s.IndexOf('.');
        string whole = dot < 0 ? s : s[..dot];
        string frac = dot < 0 ? "" : s[(dot + 1)..];
        if (whole.Length == 0 && frac.Length == 0)
            return false;
        if (whole.Length > 12 || frac.Length > 6)
            return false;
        foreach (char c in whole)
        {
            if (!char.IsAsciiDigit(c))
                return false;
        }
        foreach (char c in frac)
        {
            if (!char.IsAsciiDigit(c))
                return false;
        }
        long w = whole.Length == 0 ? 0 : long.Parse(whole, CultureInfo.InvariantCulture);
        long f = frac.Length == 0 ? 0 : long.Parse(frac.PadRight(6, '0'), CultureInfo.InvariantCulture);
        micros = (w * 1_000_000) + f;
        return true;
    }

    private const long Second = 1_000_000;

    /// <summary>A literal IPv4 dotted quad or IPv6 address (IPAddress.Parse alone accepts "10" as 0.0.0.10).</summary>
    internal static bool ParseIp(string s, out IPAddress address)
    {
        address = IPAddress.None;
        if (s.Length > 2 && s[0] == '[' && s[^1] == ']')
            s = s[1..^1];
        if (s.Contains(':', StringComparison.Ordinal))
            return IPAddress.TryParse(s, out address!) && address.AddressFamily == AddressFamily.InterNetworkV6;
        var parts = s.Split('.');
        if (parts.Length != 4)
            return false;
        foreach (var p in parts)
        {
            if (p.Length == 0 || p.Length > 3)
                return false;
            foreach (char c in p)
            {
                if (!char.IsAsciiDigit(c))
                    return false;
            }
            if (int.Parse(p, CultureInfo.InvariantCulture) > 255)
                return false;
        }
        return IPAddress.TryParse(s, out address!);
    }

    private bool TryIp(ConfigToken t, string what, out IPAddress address)
    {
        if (ParseIp(t.Text, out address))
            return true;
        Error(t.Location, $"{what} '{t.Text}' is not an IP address");
        return false;
    }

    private bool TryPort(ConfigToken t, string what, out ushort port)
    {
        port = 0;
        if (!TryInteger(t, what, 0, 65535, out long v))
            return false;
        port = (ushort)v;
        return true;
    }

    /// <summary>A value block (`{ a b }` or one entry per line) read as a flat list of words.</summary>
    private List<ConfigToken> BlockWords(ConfigNode n)
    {
        var words = new List<ConfigToken>(n.Args);
        if (n.Children is null)
            return words;
        foreach (var c in n.Children)
        {
            if (c.HasBlock)
                Error(c.Location, $"unexpected '{{' block after '{c.Name}' in '{n.Name}'; block skipped");
            words.Add(c.Keyword);
            words.AddRange(c.Args);
        }
        return words;
    }

    /// <summary>A value block whose entries are lines (virtual_ipaddress, unicast_peer, track_script ...).</summary>
    private IReadOnlyList<ConfigNode> BlockLines(ConfigNode n, int args = 0)
    {
        if (n.Children is null)
        {
            Error(n.Location, $"'{n.Name}' needs a '{{' block");
            return [];
        }
        ExtraArgs(n, args);
        foreach (var c in n.Children)
        {
            if (c.HasBlock)
                Error(c.Location, $"unexpected '{{' block after '{c.Name}' in '{n.Name}'; block skipped");
        }
        return n.Children;
    }
}
