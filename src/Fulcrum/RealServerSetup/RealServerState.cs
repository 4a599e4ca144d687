using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fulcrum.RealServerSetup;

/// <summary>
/// What <see cref="RealServerConfigurator.Up"/> changed in one namespace, so that
/// <see cref="RealServerConfigurator.Down"/> can undo exactly that. One file per namespace, because
/// the ARP sysctls are shared by every VIP of the host: they are restored only when the last VIP goes.
/// </summary>
internal sealed class RealServerState
{
    public List<VipEntry> Vips { get; set; } = [];

    public List<SysctlEntry> Sysctls { get; set; } = [];

    /// <summary>Links Up set administratively up (tunl0 for LVS-TUN), set down again by the last Down.</summary>
    public List<string> LinksSetUp { get; set; } = [];

    public static RealServerState? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var json = File.ReadAllText(path);
        return JsonSerializer.Deserialize(json, RealServerStateJson.Default.RealServerState)
            ?? throw new InvalidDataException($"{path}: empty state");
    }

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, RealServerStateJson.Default.RealServerState));
        File.Move(tmp, path, overwrite: true);
    }
}

internal sealed class VipEntry
{
    public string Address { get; set; } = "";

    /// <summary>Device holding the VIP: lo (DR) or tunl0 (TUN).</summary>
    public string Device { get; set; } = "";

    public string Cidr { get; set; } = "";

    /// <summary>The ARP interface whose sysctls were set (the real server's network interface).</summary>
    public string Interface { get; set; } = "";

    /// <summary>False when the address was already there before Up: Down then leaves it.</summary>
    public bool Added { get; set; }
}

internal sealed class SysctlEntry
{
    public string Key { get; set; } = "";

    public string Prior { get; set; } = "";

    public string Set { get; set; } = "";
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(RealServerState))]
internal sealed partial class RealServerStateJson : JsonSerializerContext;
