using Fulcrum.RealServerSetup;

namespace Fulcrum.Tests.Lab;

/// <summary>An in-memory namespace: sysctls, addresses per device, link states.</summary>
internal sealed class FakeRealServerHost : IRealServerHost
{
    public Dictionary<string, string> Sysctls { get; } = new(StringComparer.Ordinal)
    {
        ["net/ipv4/conf/all/arp_ignore"] = "0",
        ["net/ipv4/conf/all/arp_announce"] = "0",
        ["net/ipv4/conf/all/rp_filter"] = "2",
        ["net/ipv4/conf/eth0/arp_ignore"] = "0",
        ["net/ipv4/conf/eth0/arp_announce"] = "0",
    };

    public Dictionary<string, HashSet<string>> Addresses { get; } = new(StringComparer.Ordinal)
    {
        ["lo"] = ["127.0.0.1/8"],
        ["eth0"] = ["198.51.100.2/24"],
    };

    public Dictionary<string, bool> Links { get; } = new(StringComparer.Ordinal) { ["lo"] = true, ["eth0"] = true };

    public string? DefaultDevice { get; set; } = "eth0";

    public int Writes { get; private set; }

    public string NamespaceKey => "net-1";

    public IReadOnlyList<string?> ReadSysctls(IReadOnlyList<string> keys)
    {
        var r = new string?[keys.Count];
        for (int i = 0; i < keys.Count; i++)
        {
            r[i] = Sysctls.TryGetValue(keys[i], out var v) ? v : null;
        }

        return r;
    }

    public void WriteSysctls(IReadOnlyList<KeyValuePair<string, string>> values)
    {
        foreach (var (k, v) in values)
        {
            Assert.True(Sysctls.ContainsKey(k), $"write to missing sysctl {k}");
            Sysctls[k] = v;
            Writes++;
        }
    }

    public bool HasAddress(string device, string cidr) => Addresses.TryGetValue(device, out var s) && s.Contains(cidr);

    public void AddAddress(string device, string cidr)
    {
        Assert.True(Addresses[device].Add(cidr), $"{cidr} already on {device}");
    }

    public void DeleteAddress(string device, string cidr)
    {
        Assert.True(Addresses[device].Remove(cidr), $"{cidr} not on {device}");
    }

    public string? DefaultRouteDevice(bool ipv6) => DefaultDevice;

    public bool? IsLinkUp(string device) => Links.TryGetValue(device, out var up) ? up : null;

    public void SetLinkUp(string device, bool up) => Links[device] = up;

    public void EnsureTunnelDevice()
    {
        if (!Links.ContainsKey("tunl0"))
        {
            Links["tunl0"] = false;
            Addresses["tunl0"] = [];
            Sysctls["net/ipv4/conf/tunl0/rp_filter"] = "1";
        }
    }
}
