using System.CommandLine;
using Fulcrum.Lab;

namespace Fulcrum.Cli;

/// <summary>`fulcrum lab up|demo|down`: the seed's cluster in network namespaces.</summary>
internal static class LabCommand
{
    public static Command Create()
    {
        var prefix = new Option<string>("--prefix")
        {
            Description = "namespace name prefix (several labs can run side by side)",
            DefaultValueFactory = _ => LabCluster.DefaultPrefix,
        };

        var up = new Command("up", "Create the lab and start Fulcrum in lb1, configured with the seed's ipvsadm commands") { prefix };
        up.SetAction(parse => ExtraCommands.Guard(() =>
        {
            var lab = NewLab(parse.GetValue(prefix)!);
            lab.Up();
            var director = LabDirector.Start(lab, "lb1");
            director.ApplySeed();
            Console.WriteLine($"lab '{lab.Prefix}' is up: client {LabAddresses.Client} → VIP {LabAddresses.Vip}:80 via Fulcrum in {lab.NamespaceOf("lb1")}");
            Console.WriteLine($"try: ip netns exec {lab.NamespaceOf("client")} curl -s http://{LabAddresses.Vip}/");
            Console.WriteLine($"     ip netns exec {lab.NamespaceOf("lb1")} {LabDirector.FulcrumPath} adm --control {director.ControlSocket} -ln");
            return 0;
        }));

        var down = new Command("down", "Remove the lab (idempotent)") { prefix };
        down.SetAction(parse => ExtraCommands.Guard(() =>
        {
            var strays = NewLab(parse.GetValue(prefix)!).Down();
            foreach (var pid in strays)
            {
                Console.Error.WriteLine($"fulcrum lab down: process {pid} (not started by the lab) still runs in a lab namespace; left alone");
            }

            return 0;
        }));

        var noTui = new Option<bool>("--no-tui") { Description = "plain text output (for CI and logs)" };
        var demoPrefix = new Option<string?>("--prefix") { Description = "namespace name prefix (default: a fresh 'demo…' one per run)" };
        var demo = new Command("demo", "Run the seed story with two directors: spread, a health check taking a real server out and back, failover and preemption with long-lived connections kept") { demoPrefix, noTui };
        demo.SetAction(parse => ExtraCommands.Guard(() =>
        {
            var p = parse.GetValue(demoPrefix);
            if (p is not null && !LabCluster.IsValidPrefix(p))
            {
                throw new ArgumentException($"lab prefix '{p}' must be 1-20 characters of a-z, 0-9");
            }

            return LabDemo.Run(p, parse.GetValue(noTui));
        }));

        var port = new Option<int>("--port") { DefaultValueFactory = _ => LabCluster.UdpEchoPort };
        var name = new Option<string>("--name") { Required = true };
        var udpEcho = new Command("udp-echo", "A UDP echo server answering its name (the lab's real servers run it)") { port, name };
        udpEcho.Hidden = true;
        udpEcho.SetAction((parse, ct) => Task.FromResult(UdpEchoServer.Run(parse.GetValue(port), parse.GetValue(name)!, ct)));

        return new Command("lab", "The seed's LVS-DR cluster on this machine, in network namespaces") { up, demo, down, udpEcho };
    }

    private static LabCluster NewLab(string prefix) => new(prefix);
}
