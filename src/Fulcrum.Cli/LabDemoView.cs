using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Fulcrum.Cli;

internal enum DemoStepStatus
{
    Pending,
    Running,
    Passed,
    Failed,
}

/// <summary>One step of the story: what it expects, and once run, what was measured.</summary>
internal sealed class DemoStep(int number, string title, string expectation)
{
    public int Number { get; } = number;

    public string Title { get; } = title;

    public string Expectation { get; } = expectation;

    public DemoStepStatus Status { get; set; }

    public string Measured { get; set; } = "";

    /// <summary>The label CI greps for: "[1 Spread]".</summary>
    public string Label => string.Create(CultureInfo.InvariantCulture, $"[{Number} {Title}]");
}

/// <summary>What the demo shows, written by the steps and a monitor, read by the view. Guarded by its own lock.</summary>
internal sealed class DemoState
{
    private const int EventLines = 8;
    private readonly List<string> _events = [];
    private readonly Action<string>? _print;

    public DemoState(IReadOnlyList<DemoStep> steps, Action<string>? print)
    {
        Steps = steps;
        _print = print;
    }

    public object Gate { get; } = new();

    public IReadOnlyList<DemoStep> Steps { get; }

    /// <summary>Director → its VRRP state as last seen ("MASTER", "BACKUP", "starting", "killed").</summary>
    public Dictionary<string, string> DirectorStates { get; } = new(StringComparer.Ordinal) { ["lb1"] = "-", ["lb2"] = "-" };

    /// <summary>Real server → its weight in the MASTER's table (null: not known yet).</summary>
    public Dictionary<string, int?> Weights { get; } = new(StringComparer.Ordinal) { ["rs1"] = null, ["rs2"] = null, ["rs3"] = null };

    /// <summary>Real server → requests it answered (every client request of the demo).</summary>
    public Dictionary<string, long> Answers { get; } = new(StringComparer.Ordinal);

    /// <summary>Real server → (long-lived connections on it, of which lost).</summary>
    public Dictionary<string, (int Open, int Lost)> LongLived { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Events
    {
        get
        {
            lock (Gate)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>A line of the story: printed at once in plain mode, shown in the live view's log otherwise.</summary>
    public void Log(string line)
    {
        lock (Gate)
        {
            _events.Add(line);
            if (_events.Count > EventLines)
            {
                _events.RemoveAt(0);
            }
        }

        _print?.Invoke(line);
    }

    public void Begin(DemoStep step)
    {
        lock (Gate)
        {
            step.Status = DemoStepStatus.Running;
        }
    }

    public void Finish(DemoStep step, bool ok, string measured)
    {
        lock (Gate)
        {
            step.Status = ok ? DemoStepStatus.Passed : DemoStepStatus.Failed;
            step.Measured = measured;
        }

        Log($"{step.Label} {(ok ? "PASS" : "FAIL")} {measured} (expected: {step.Expectation})");
    }
}

/// <summary>The live screen: directors, real servers, steps and the latest lines of the story.</summary>
internal static class LabDemoView
{
    /// <summary>Runs <paramref name="body"/> on a worker thread while redrawing <paramref name="state"/> every 150 ms.</summary>
    public static int RunLive(DemoState state, Func<int> body)
    {
        int exit = 1;
        AnsiConsole.Live(Render(state)).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).Start(ctx =>
        {
            var work = Task.Run(body);
            while (!work.Wait(150))
            {
                ctx.UpdateTarget(Render(state));
            }

            ctx.UpdateTarget(Render(state));
            exit = work.GetAwaiter().GetResult();
        });
        return exit;
    }

    private static Rows Render(DemoState s)
    {
        lock (s.Gate)
        {
            var directors = new Table().Border(TableBorder.Rounded).Title("[bold]directors[/]")
                .AddColumn("director").AddColumn("priority").AddColumn("VRRP");
            foreach (var (name, state) in s.DirectorStates)
            {
                var color = state switch
                {
                    "MASTER" => "green",
                    "BACKUP" => "blue",
                    "killed" => "red",
                    _ => "grey",
                };
                directors.AddRow(name, name == "lb1" ? "150" : "100", $"[{color}]{Markup.Escape(state)}[/]");
            }

            var servers = new Table().Border(TableBorder.Rounded).Title("[bold]real servers (MASTER's table)[/]")
                .AddColumn("real server").AddColumn("health").AddColumn("weight").AddColumn("requests").AddColumn("long-lived");
            foreach (var (name, weight) in s.Weights)
            {
                string health = weight switch
                {
                    null => "[grey]?[/]",
                    > 0 => "[green]up[/]",
                    _ => "[red]down[/]",
                };
                long answers = s.Answers.GetValueOrDefault(name);
                var (open, lost) = s.LongLived.GetValueOrDefault(name);
                servers.AddRow(
                    name,
                    health,
                    weight?.ToString(CultureInfo.InvariantCulture) ?? "-",
                    answers.ToString(CultureInfo.InvariantCulture),
                    open == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{open}{(lost > 0 ? $" ({lost} lost)" : "")}"));
            }

            var steps = new Table().Border(TableBorder.Rounded).Title("[bold]steps[/]").Expand()
                .AddColumn("step").AddColumn("result").AddColumn("measured").AddColumn("expected");
            foreach (var step in s.Steps)
            {
                string result = step.Status switch
                {
                    DemoStepStatus.Passed => "[green]PASS[/]",
                    DemoStepStatus.Failed => "[red]FAIL[/]",
                    DemoStepStatus.Running => "[yellow]running[/]",
                    _ => "[grey]pending[/]",
                };
                steps.AddRow(
                    new Markup(Markup.Escape($"{step.Number} {step.Title}")),
                    new Markup(result),
                    new Markup(Markup.Escape(step.Measured)),
                    new Markup($"[grey]{Markup.Escape(step.Expectation)}[/]"));
            }

            var log = new Rows(s.Events.Select(e => (IRenderable)new Markup($"[grey]{Markup.Escape(e)}[/]")));
            return new Rows(
                new Columns(directors, servers) { Expand = false },
                steps,
                new Panel(log).Header("story").Expand());
        }
    }
}
