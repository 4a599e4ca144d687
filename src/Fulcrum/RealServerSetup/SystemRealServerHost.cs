using System.Globalization;

namespace Fulcrum.RealServerSetup;

/// <summary>
/// A real server host backed by the running kernel: the current network namespace
/// (<see cref="Current"/>), or a named one reached with `ip -n` / `ip netns exec`
/// (<see cref="InNamespace"/>), which is how the lab prepares rs1..rs3 from one process:
/// /proc/sys/net shows the namespace of the process that opens it, so sysctls of another namespace
/// can only be written from a process inside it.
/// </summary>
public sealed class SystemRealServerHost : IRealServerHost
{
    private const string Ip = "ip";
    private readonly string? _netns;
    private string? _key;

    private SystemRealServerHost(string? netns) => _netns = netns;

    public static SystemRealServerHost Current { get; } = new(null);

    public static SystemRealServerHost InNamespace(string netns)
    {
        ArgumentException.ThrowIfNullOrEmpty(netns);
        return new SystemRealServerHost(netns);
    }

    public string NamespaceKey => _key ??= ReadNamespaceKey();

    private string ReadNamespaceKey()
    {
        // "net:[4026531840]": the namespace's inode, stable while it lives.
        string link = _netns is null
            ? new FileInfo("/proc/self/ns/net").LinkTarget ?? throw new InvalidOperationException("cannot read /proc/self/ns/net")
            : InNs(new List<string> { "readlink", "/proc/self/ns/net" }).EnsureSuccess("reading the namespace id").StdOut;
        var digits = new string(link.Where(char.IsAsciiDigit).ToArray());
        return "net-" + digits;
    }

    public IReadOnlyList<string?> ReadSysctls(IReadOnlyList<string> keys)
    {
        var values = new string?[keys.Count];
        if (_netns is null)
        {
            for (int i = 0; i < keys.Count; i++)
            {
                var path = SysctlPath(keys[i]);
                values[i] = File.Exists(path) ? File.ReadAllText(path).Trim() : null;
            }

            return values;
        }

        // One process for all keys; a missing key prints "-" (sysctl values are never "-").
        var args = new List<string> { "sh", "-c", "for k; do cat \"/proc/sys/$k\" 2>/dev/null || echo -; done", "sh" };
        foreach (var k in keys)
        {
            Validate(k);
            args.Add(k);
        }

        var lines = InNs(args).EnsureSuccess("reading sysctls").StdOut.Split('\n');
        for (int i = 0; i < keys.Count; i++)
        {
            var v = i < lines.Length ? lines[i].Trim() : "-";
            values[i] = v == "-" ? null : v;
        }

        return values;
    }

    public void WriteSysctls(IReadOnlyList<KeyValuePair<string, string>> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        if (_netns is null)
        {
            foreach (var (k, v) in values)
            {
                File.WriteAllText(SysctlPath(k), v);
            }

            return;
        }

        var args = new List<string> { "sysctl", "-q", "-w" };
        foreach (var (k, v) in values)
        {
            Validate(k);
            args.Add(k + "=" + v);
        }

        InNs(args).EnsureSuccess("writing sysctls");
    }

    public bool HasAddress(string device, string cidr)
    {
        var r = IpCmd(["-o", "addr", "show", "dev", device]).EnsureSuccess($"listing addresses of {device}");
        foreach (var line in r.StdOut.Split('\n'))
        {
            var t = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (int i = 0; i + 1 < t.Length; i++)
            {
                if ((t[i] == "inet" || t[i] == "inet6") && string.Equals(t[i + 1], cidr, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    public void AddAddress(string device, string cidr)
    {
        // nodad: an IPv6 VIP on a real server must be usable at once and is expected to be duplicated.
        string[] args = cidr.Contains(':', StringComparison.Ordinal)
            ? ["addr", "add", cidr, "dev", device, "nodad"]
            : ["addr", "add", cidr, "dev", device];
        IpCmd(args).EnsureSuccess($"adding {cidr} to {device}");
    }

    public void DeleteAddress(string device, string cidr) =>
        IpCmd(["addr", "del", cidr, "dev", device]).EnsureSuccess($"deleting {cidr} from {device}");

    public string? DefaultRouteDevice(bool ipv6)
    {
        var r = IpCmd([ipv6 ? "-6" : "-4", "-o", "route", "show", "default"]).EnsureSuccess("reading the default route");
        foreach (var line in r.StdOut.Split('\n'))
        {
            var t = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (int i = 0; i + 1 < t.Length; i++)
            {
                if (t[i] == "dev")
                {
                    return t[i + 1];
                }
            }
        }

        return null;
    }

    public bool? IsLinkUp(string device)
    {
        var r = IpCmd(["-o", "link", "show", "dev", device]);
        if (!r.Succeeded)
        {
            return null;
        }

        // "<NOARP,UP,LOWER_UP>": UP is the administrative flag.
        int open = r.StdOut.IndexOf('<', StringComparison.Ordinal);
        int close = r.StdOut.IndexOf('>', StringComparison.Ordinal);
        if (open < 0 || close < open)
        {
            return false;
        }

        foreach (var flag in r.StdOut[(open + 1)..close].Split(','))
        {
            if (flag == "UP")
            {
                return true;
            }
        }

        return false;
    }

    public void SetLinkUp(string device, bool up) =>
        IpCmd(["link", "set", "dev", device, up ? "up" : "down"]).EnsureSuccess($"setting {device} {(up ? "up" : "down")}");

    public void EnsureTunnelDevice()
    {
        if (IsLinkUp("tunl0") is not null)
        {
            return;
        }

        // Creating any ipip link loads the module, which gives every namespace its fallback tunl0.
        IpCmd(["link", "add", "name", "tunl0", "type", "ipip"]);
        if (IsLinkUp("tunl0") is null)
        {
            throw new InvalidOperationException("tunl0 is missing and could not be created (is the ipip module available?)");
        }
    }

    private CommandResult IpCmd(string[] args)
    {
        if (_netns is null)
        {
            return ExternalCommand.Run(Ip, args);
        }

        var full = new List<string>(args.Length + 2) { "-n", _netns };
        full.AddRange(args);
        return ExternalCommand.Run(Ip, full);
    }

    private CommandResult InNs(List<string> argv)
    {
        if (_netns is null)
        {
            return ExternalCommand.Run(argv[0], argv.GetRange(1, argv.Count - 1));
        }

        var full = new List<string>(argv.Count + 3) { "netns", "exec", _netns };
        full.AddRange(argv);
        return ExternalCommand.Run(Ip, full);
    }

    private static string SysctlPath(string key)
    {
        Validate(key);
        return "/proc/sys/" + key;
    }

    private static void Validate(string key)
    {
        if (key.Length == 0 || key.Contains("..", StringComparison.Ordinal) || key[0] == '/' || key.Contains('=', StringComparison.Ordinal))
        {
            throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "not a sysctl key: '{0}'", key), nameof(key));
        }
    }
}
