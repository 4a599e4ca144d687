using System.Globalization;
using System.Text;

namespace Fulcrum.Lab;

/// <summary>
/// The keepalived.conf the lab's two directors run (`fulcrum run -f`): one VRRP instance for the VIP
/// (lb1 priority 150, lb2 100, both `state BACKUP` with preempt, as operators configure a pair so that a
/// restarted director does not grab the VIP before it has heard the other) and the seed's virtual
/// server with HTTP_GET checks on rs1..rs3. Every knob is a property, so tests and the demo render
/// variants (another scheduler, connection sync) from one place.
/// </summary>
public sealed record LabHaConfig
{
    /// <summary>The VRRP instance's name (keepalived's lvs_sync_daemon names it too).</summary>
    public const string InstanceName = "VI_1";

    public int VirtualRouterId { get; init; } = 51;

    /// <summary>VRRP version: 3 allows centisecond adverts (RFC 5798), 2 whole seconds only.</summary>
    public int VrrpVersion { get; init; } = 3;

    /// <summary>advert_int in seconds: Master_Down_Interval = 3 × advert + skew bounds a crash takeover.</summary>
    public double AdvertInterval { get; init; } = 0.1;

    /// <summary>lb_algo. "mh" (Maglev) with <see cref="SchedulerFlags"/> mh-port: every director with the
    /// same real servers in the same order picks the same one for a flow, so a takeover keeps flows.</summary>
    public string Scheduler { get; init; } = "mh";

    /// <summary>Scheduler flag keywords of the virtual_server block (mh-port hashes the client port too,
    /// which one client address needs to spread; mh-fallback skips a real server at weight 0).</summary>
    public IReadOnlyList<string> SchedulerFlags { get; init; } = ["mh-port", "mh-fallback"];

    /// <summary>
    /// inhibit_on_failure: a failed real server stays in the table at weight 0 instead of being removed.
    /// With mh this keeps its Maglev slots (the table is built over last_weight, ip_vs_mh.c), so the order
    /// of real servers, and with it every flow's choice, stays the same on a director that never saw the
    /// failure (e.g. one restarted later) as on one that did.
    /// </summary>
    public bool InhibitOnFailure { get; init; } = true;

    /// <summary>delay_loop, seconds between checks of a real server.</summary>
    public double DelayLoop { get; init; } = 0.5;

    /// <summary>HTTP_GET's connect_timeout in seconds (for the whole exchange, see Health/README.md).</summary>
    public double ConnectTimeout { get; init; } = 1;

    /// <summary>Failed checks after the first before a real server is declared down.</summary>
    public int Retry { get; init; } = 1;

    public double DelayBeforeRetry { get; init; } = 0.2;

    /// <summary>
    /// The arguments of keepalived's global_defs `lvs_sync_daemon` (e.g. "eth0 VI_1 id 51"), or null for
    /// none: the one place where connection sync is switched on for both directors.
    /// </summary>
    public string? LvsSyncDaemon { get; init; }

    /// <summary>Priority of a lab director: lb1 is the preferred MASTER.</summary>
    public static int PriorityOf(string host) => host switch
    {
        "lb1" => 150,
        "lb2" => 100,
        _ => throw new ArgumentException($"'{host}' is not a lab director (lb1, lb2)", nameof(host)),
    };

    /// <summary>The keepalived.conf text for <paramref name="host"/> (lb1 or lb2).</summary>
    public string Render(string host)
    {
        int priority = PriorityOf(host);
        var inv = CultureInfo.InvariantCulture;
        var b = new StringBuilder();
        b.Append(inv, $"# Written by Fulcrum's lab for {host}.\n");
        b.Append("global_defs {\n");
        b.Append(inv, $"    router_id lab_{host}\n");
        if (LvsSyncDaemon is { } sync)
        {
            b.Append(inv, $"    lvs_sync_daemon {sync}\n");
        }

        b.Append("}\n");
        b.Append(inv, $$"""
            vrrp_instance {{InstanceName}} {
                state BACKUP
                interface eth0
                virtual_router_id {{VirtualRouterId}}
                priority {{priority}}
                advert_int {{Seconds(AdvertInterval)}}
                version {{VrrpVersion}}
                virtual_ipaddress {
                    {{LabAddresses.Vip}}/32 dev eth0
                }
            }
            virtual_server {{LabAddresses.Vip}} {{LabCluster.HttpPort}} {
                delay_loop {{Seconds(DelayLoop)}}
                lb_algo {{Scheduler}}

            """);
        foreach (var flag in SchedulerFlags)
        {
            b.Append(inv, $"    {flag}\n");
        }

        b.Append("    lb_kind DR\n    protocol TCP\n");
        foreach (var rs in LabAddresses.RealServers)
        {
            b.Append(inv, $"    real_server {rs} {LabCluster.HttpPort} {{\n");
            b.Append("        weight 1\n");
            if (InhibitOnFailure)
            {
                b.Append("        inhibit_on_failure\n");
            }

            b.Append(inv, $"        HTTP_GET {{\n            url {{\n                path /\n                status_code 200\n            }}\n");
            b.Append(inv, $"            connect_timeout {Seconds(ConnectTimeout)}\n");
            b.Append(inv, $"            retry {Retry}\n");
            b.Append(inv, $"            delay_before_retry {Seconds(DelayBeforeRetry)}\n");
            b.Append("        }\n    }\n");
        }

        b.Append("}\n");
        return b.ToString();
    }

    /// <summary>Writes <see cref="Render"/> for <paramref name="host"/> into the lab's state directory; returns the path.</summary>
    public string Write(LabCluster lab, string host)
    {
        ArgumentNullException.ThrowIfNull(lab);
        Directory.CreateDirectory(lab.StateDirectory);
        var path = Path.Combine(lab.StateDirectory, $"keepalived-{host}.conf");
        File.WriteAllText(path, Render(host));
        return path;
    }

    private static string Seconds(double s) => s.ToString("0.###", CultureInfo.InvariantCulture);
}
