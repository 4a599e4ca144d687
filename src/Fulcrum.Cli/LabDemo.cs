using System.Diagnostics;
using System.Globalization;
using Fulcrum.Lab;
using Spectre.Console;

namespace Fulcrum.Cli;

/// <summary>
/// `fulcrum lab demo`: the seed story on this machine, each step printed with what was measured,
/// exit 0 only if every expectation held. The lab is removed at the end, also on failure.
/// </summary>
internal static class LabDemo
{
    private const int Requests = 30;

    public static int Run(LabCluster lab, bool noTui)
    {
        var say = new Narrator(noTui);
        if (lab.IsUp || Directory.Exists(lab.StateDirectory))
        {
            say.Note($"lab '{lab.Prefix}' exists from an earlier run: removing it first");
            lab.Down();
        }

        bool ok = true;
        try
        {
            var sw = Stopwatch.StartNew();
            lab.Up();
            say.Step("Lab up", $"client, router, lb1, lb2, rs1..rs3 in namespaces '{lab.Prefix}-*'; nginx on rs1..rs3 ({sw.ElapsedMilliseconds} ms)");

            sw.Restart();
            var director = LabDirector.Start(lab, "lb1");
            director.ApplySeed();
            say.Step("Director", $"fulcrum run in lb1, configured with the seed's commands ({sw.ElapsedMilliseconds} ms):");
            Narrator.Code($"""
                fulcrum adm -A -t {LabAddresses.Vip}:80 -s rr
                fulcrum adm -a -t {LabAddresses.Vip}:80 -r {LabAddresses.Rs1}:80 -g
                fulcrum adm -a -t {LabAddresses.Vip}:80 -r {LabAddresses.Rs2}:80 -g
                fulcrum adm -a -t {LabAddresses.Vip}:80 -r {LabAddresses.Rs3}:80 -g
                ip addr add {LabAddresses.Vip}/32 dev eth0
                """);
            Narrator.Code(director.Adm("-ln").EnsureSuccess("fulcrum adm -ln").StdOut);

            ok &= RoundRobin(lab, director, say);
            ok &= RepliesBypassDirector(lab, director, say);
            Narrator.Code(director.Adm("-ln", "--stats").EnsureSuccess("fulcrum adm -ln --stats").StdOut);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or AggregateException)
        {
            say.Fail("Demo", ex.Message);
            ok = false;
        }
        finally
        {
            lab.Down();
            say.Note($"lab '{lab.Prefix}' removed");
        }

        say.Note(ok ? "every step held" : "a step failed (see above)");
        return ok ? 0 : 1;
    }

    private static bool RoundRobin(LabCluster lab, LabDirector director, Narrator say)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal) { ["rs1"] = 0, ["rs2"] = 0, ["rs3"] = 0 };
        int failed = 0;
        say.Live(counts, update =>
        {
            for (int i = 0; i < Requests; i++)
            {
                var r = lab.Exec("client", "curl", "-s", "--max-time", "2", $"http://{LabAddresses.Vip}/");
                var name = r.StdOut.Trim();
                if (r.Succeeded && counts.TryGetValue(name, out int count))
                {
                    counts[name] = count + 1;
                }
                else
                {
                    failed++;
                }

                update();
            }
        });
        bool even = failed == 0 && counts.Values.All(c => c == Requests / 3);
        var spread = string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}"));
        say.Result(even, "Round robin", $"{Requests} requests from the client to {LabAddresses.Vip}:80: {spread}; failed {failed} (expected 10/10/10)");
        return even;
    }

    /// <summary>
    /// DR's point: replies go from the real servers straight to the client's router. If they crossed
    /// the director, lb1 would receive about as many frames as the client does.
    /// </summary>
    private static bool RepliesBypassDirector(LabCluster lab, LabDirector director, Narrator say)
    {
        long clientTx0 = Counter(lab, "client", "tx_packets"), clientRx0 = Counter(lab, "client", "rx_packets"), lbRx0 = Counter(lab, "lb1", "rx_packets"), lbTx0 = Counter(lab, "lb1", "tx_packets");
        for (int i = 0; i < Requests; i++)
        {
            lab.Exec("client", "curl", "-s", "--max-time", "2", $"http://{LabAddresses.Vip}/");
        }

        long clientTx = Counter(lab, "client", "tx_packets") - clientTx0;
        long clientRx = Counter(lab, "client", "rx_packets") - clientRx0;
        long lbRx = Counter(lab, "lb1", "rx_packets") - lbRx0;
        long lbTx = Counter(lab, "lb1", "tx_packets") - lbTx0;
        var stats = director.Adm("-ln", "--stats", "--exact").EnsureSuccess("fulcrum adm --stats").StdOut;
        var line = stats.Split('\n').First(l => l.StartsWith("TCP ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string outPkts = line[4];

        // lb1 receives the client's segments and forwards them (lbTx ≈ lbRx ≈ clientTx); had the
        // replies crossed it, lb1 would also have received the client's clientRx packets.
        bool bypass = outPkts == "0" && clientRx > 0 && lbRx < clientTx + (clientRx / 2) && lbTx <= lbRx + 10;
        say.Result(bypass, "Direct routing",
            $"client sent {clientTx} and received {clientRx} packets; director lb1 received {lbRx} and sent {lbTx} (the client's requests only); director OutPkts {outPkts}");
        return bypass;
    }

    private static long Counter(LabCluster lab, string host, string name) =>
        long.Parse(lab.Exec(host, "cat", $"/sys/class/net/eth0/statistics/{name}").EnsureSuccess("reading counters").StdOut.Trim(), CultureInfo.InvariantCulture);

    /// <summary>Prints the story: a live Spectre.Console table, or plain lines for CI and logs.</summary>
    private sealed class Narrator(bool plain)
    {
        public void Step(string title, string text)
        {
            if (plain)
            {
                Console.WriteLine($"[{title}] {text}");
            }
            else
            {
                AnsiConsole.MarkupLine($"[bold blue]{Markup.Escape(title)}[/] {Markup.Escape(text)}");
            }
        }

        public void Result(bool ok, string title, string text)
        {
            if (plain)
            {
                Console.WriteLine($"[{title}] {(ok ? "PASS" : "FAIL")} {text}");
            }
            else
            {
                AnsiConsole.MarkupLine($"[bold {(ok ? "green" : "red")}]{(ok ? "✔" : "✘")} {Markup.Escape(title)}[/] {Markup.Escape(text)}");
            }
        }

        public void Fail(string title, string text) => Result(false, title, text);

        public void Note(string text)
        {
            if (plain)
            {
                Console.WriteLine(text);
            }
            else
            {
                AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]");
            }
        }

        public static void Code(string text)
        {
            foreach (var line in text.TrimEnd('\n').Split('\n'))
            {
                Console.WriteLine("    " + line);
            }
        }

        public void Live(SortedDictionary<string, int> counts, Action<Action> body)
        {
            if (plain)
            {
                body(() => { });
                return;
            }

            var table = new Table().Title("requests per real server").AddColumn("real server").AddColumn("requests").AddColumn("");
            foreach (var name in counts.Keys)
            {
                table.AddRow(name, "0", "");
            }

            AnsiConsole.Live(table).Start(ctx => body(() =>
            {
                int row = 0;
                foreach (var (name, count) in counts)
                {
                    table.UpdateCell(row, 1, count.ToString(CultureInfo.InvariantCulture));
                    table.UpdateCell(row, 2, new string('█', count));
                    row++;
                }

                ctx.Refresh();
            }));
        }
    }
}
