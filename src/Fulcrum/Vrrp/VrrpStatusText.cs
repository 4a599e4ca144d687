using System.Globalization;
using System.Text;

namespace Fulcrum.Vrrp;

/// <summary>The VRRP part of `fulcrum status`.</summary>
public static class VrrpStatusText
{
    /// <summary>
    /// One line per instance: name, interface, VRID, version, state, effective priority, current master and
    /// virtual addresses, e.g. "  VI_1 eth0 vrid 51 v2 MASTER priority 150 master 198.51.100.11 vips 198.51.100.100".
    /// </summary>
    public static void Append(StringBuilder sb, IReadOnlyList<VrrpInstanceStatus> instances)
    {
        ArgumentNullException.ThrowIfNull(sb);
        ArgumentNullException.ThrowIfNull(instances);
        sb.Append("VRRP instances:\n");
        if (instances.Count == 0)
        {
            sb.Append("  (none)\n");
            return;
        }

        foreach (var i in instances)
        {
            sb.Append("  ").Append(i.Name)
              .Append(' ').Append(i.Interface ?? "-")
              .Append(" vrid ").Append(i.VirtualRouterId.ToString(CultureInfo.InvariantCulture))
              .Append(" v").Append(i.Version.ToString(CultureInfo.InvariantCulture))
              .Append(' ').Append(i.State.ToString().ToUpperInvariant())
              .Append(" priority ").Append(i.Priority.ToString(CultureInfo.InvariantCulture))
              .Append(" master ").Append(i.Master?.ToString() ?? "-")
              .Append(" vips");
            foreach (var vip in i.VirtualAddresses)
                sb.Append(' ').Append(vip);
            sb.Append('\n');
        }
    }
}
