using System.CommandLine;
using Fulcrum.Balancing;
using Fulcrum.Director;
using Fulcrum.Metrics;
using Microsoft.Extensions.Hosting;

namespace Fulcrum.Cli;

/// <summary>`fulcrum run`: the director daemon.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config-file", "-f") { Description = "keepalived.conf to load" };
        var iface = new Option<string>("--interface", "-i")
        {
            Description = "interface that receives virtual-service traffic and reaches the real servers",
            DefaultValueFactory = _ => "eth0",
        };
        var control = new Option<string>("--control")
        {
            Description = "control socket path (one per daemon)",
            DefaultValueFactory = _ => ControlProtocol.DefaultSocketPath,
        };
        var metrics = new Option<string>("--metrics")
        {
            Description = "serve Prometheus metrics on ADDR:PORT, or 'off'",
            DefaultValueFactory = _ => MetricsEndpoint.Default.ToString(),
        };
        var sloppyTcp = new Option<bool>("--sloppy-tcp")
        {
            Description = "as sysctl net.ipv4.vs.sloppy_tcp=1: any TCP packet but a RST may start a connection (takeover without sync)",
        };
        var workers = new Option<int>("--workers")
        {
            Description = "data-plane workers, one AF_PACKET ring and connection table each (0: one per online CPU)",
            DefaultValueFactory = _ => 0,
        };
        var fanoutPrefix = new Option<int>("--fanout-prefix")
        {
            Description = "leading bits of the client's IPv4 address that pick its worker (1..32); persistence netmasks wider than this are exact per worker only",
            DefaultValueFactory = _ => 32,
        };
        var maxConnections = new Option<int>("--max-connections")
        {
            Description = "hard bound of the connection table, all workers together",
            DefaultValueFactory = _ => 1 << 20,
        };
        var amemthresh = new Option<int>("--amemthresh")
        {
            Description = "defense threshold (sysctl amemthresh), in free connection entries (0: an eighth of --max-connections)",
            DefaultValueFactory = _ => 0,
        };
        var dropEntry = DefenseMode("--drop-entry", "randomly drop embryonic (SYN_RECV/SYNACK) entries under pressure");
        var dropPacket = DefenseMode("--drop-packet", "drop a share of connection-creating packets under pressure");
        var secureTcp = DefenseMode("--secure-tcp", "use the stricter TCP state table (tcp_states_dos) under pressure");
        var amDropRate = new Option<int>("--am-droprate")
        {
            Description = "drop_packet's rate in mode 3: one packet in N (sysctl am_droprate)",
            DefaultValueFactory = _ => 10,
        };
        var fwmarkRules = new Option<string?>("--fwmark-rules")
        {
            Description = "rules giving destinations a firewall mark for fwmark services (nft syntax: ip daddr A tcp dport { 80, 443 } meta mark set 1)",
        };
        var syncPeers = new Option<string[]>("--sync-peer")
        {
            Description = "connection sync: also send to this unicast peer (ADDR or ADDR:PORT; repeatable)",
            AllowMultipleArgumentsPerToken = false,
        };
        var syncKey = new Option<string?>("--sync-auth-key-file")
        {
            Description = "connection sync: HMAC-SHA256 key file; messages are signed and unsigned ones dropped (not kernel-compatible)",
        };
        var driver = new Option<string>("--driver")
        {
            Description = "data path: auto, tc, xdp, xdp-generic (kernel tier for established flows + C#), afxdp (C# on AF_XDP sockets, falls back to AF_PACKET) or afpacket (C# only)",
            DefaultValueFactory = _ => "auto",
        };
        driver.AcceptOnlyFromAmong(Fulcrum.Linux.Bpf.KernelDriver.Names);
        var command = new Command("run", "Run the director daemon")
        {
            config, iface, control, driver, metrics, sloppyTcp, syncPeers, syncKey, fwmarkRules, workers, fanoutPrefix, maxConnections, amemthresh, dropEntry, dropPacket, secureTcp, amDropRate,
        };
        command.SetAction(parse =>
        {
            if (!MetricsEndpoint.TryParse(parse.GetValue(metrics), out var metricsEndpoint))
            {
                Console.Error.WriteLine($"fulcrum run: --metrics takes ADDR:PORT (e.g. 127.0.0.1:{MetricsEndpoint.DefaultPort}) or 'off', not '{parse.GetValue(metrics)}'");
                return 2;
            }

            Sync.SyncOptions syncOptions;
            try
            {
                syncOptions = SyncOptionsFrom(parse.GetValue(syncPeers), parse.GetValue(syncKey));
            }
            catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine("fulcrum run: " + e.Message);
                return 2;
            }

            var options = new DirectorOptions
            {
                MetricsEndpoint = metricsEndpoint,
                Interface = parse.GetValue(iface)!,
                ControlSocketPath = parse.GetValue(control)!,
                ConfigFile = parse.GetValue(config),
                SloppyTcp = parse.GetValue(sloppyTcp),
                Workers = parse.GetValue(workers),
                FanoutPrefix = parse.GetValue(fanoutPrefix),
                MaxConnections = parse.GetValue(maxConnections),
                Defense = new DefenseSettings
                {
                    AmemThresh = parse.GetValue(amemthresh),
                    DropEntry = parse.GetValue(dropEntry),
                    DropPacket = parse.GetValue(dropPacket),
                    SecureTcp = parse.GetValue(secureTcp),
                    AmDropRate = parse.GetValue(amDropRate),
                },
                FwMarkRulesFile = parse.GetValue(fwmarkRules),
                Sync = syncOptions,
                Driver = parse.GetValue(driver)!,
            };
            if (options.Workers < 0 || options.MaxConnections < 1 || options.FanoutPrefix is < 1 or > 32)
            {
                Console.Error.WriteLine("fulcrum run: --workers must be >= 0, --max-connections >= 1, --fanout-prefix 1..32");
                return 2;
            }

            if (options.Defense.Validate() is string defenseError)
            {
                Console.Error.WriteLine("fulcrum run: " + defenseError);
                return 2;
            }

            if (options.ConfigFile is not null && !CheckConfigCommand.Report(options.ConfigFile))
            {
                return 1;
            }

            if (options.FwMarkRulesFile is not null && !ReportMarkRules(options.FwMarkRulesFile))
            {
                return 1;
            }

            if (!Directory.Exists($"/sys/class/net/{options.Interface}"))
            {
                Console.Error.WriteLine($"fulcrum run: no interface '{options.Interface}' in this network namespace");
                return 2;
            }

            using var host = DirectorHost.Build(options);
            host.Run();
            return 0;
        });
        return command;
    }

    /// <summary>A defense sysctl as an option: 0 off, 1 automatic, 2 on (back to 1 when the pressure ends), 3 always.</summary>
    private static Option<int> DefenseMode(string name, string what) => new(name)
    {
        Description = what + ": 0 off, 1 auto, 2 on now (auto afterwards), 3 always (as the ipvs sysctl)",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>Prints the rules file's errors on stderr (file:line:column); true when there is none.</summary>
    private static bool ReportMarkRules(string path)
    {
        var errors = new List<FwMarkRuleError>();
        try
        {
            FwMarkRules.Load(path, errors);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{path}: {ex.Message}");
            return false;
        }

        foreach (var e in errors)
        {
            Console.Error.WriteLine(e.ToString());
        }

        return errors.Count == 0;
    }

    /// <summary>--sync-peer and --sync-auth-key-file as the sync service takes them; throws ArgumentException or IOException with the reason.</summary>
    private static Sync.SyncOptions SyncOptionsFrom(string[]? peers, string? keyFile)
    {
        var list = new List<System.Net.IPEndPoint>();
        foreach (var p in peers ?? [])
        {
            if (System.Net.IPEndPoint.TryParse(p, out var ep))
                list.Add(ep);
            else
                throw new ArgumentException($"--sync-peer takes ADDR or ADDR:PORT, not '{p}'");
        }
        return new Sync.SyncOptions
        {
            Peers = list,
            AuthKey = keyFile is null ? ReadOnlyMemory<byte>.Empty : File.ReadAllBytes(keyFile),
        };
    }
}
