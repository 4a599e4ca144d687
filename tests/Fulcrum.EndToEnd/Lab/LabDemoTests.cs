using System.Security.Cryptography;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;
using Fulcrum.RealServerSetup;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Lab;

/// <summary>
/// `fulcrum lab demo --no-tui` as CI runs it: the real binary builds its own lab, runs two directors from
/// keepalived.conf and the four steps of the story, and exits 0 only if each step's expectation held.
/// </summary>
public sealed class LabDemoTests(ITestOutputHelper output)
{
    [Fact]
    public void Demo_Unattended_EveryStepPasses_ExitsZero_LeavesNothingBehind()
    {
        Root.Require();
        var prefix = "fd" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));

        var r = ExternalCommand.Run(LabDirector.FulcrumPath, ["lab", "demo", "--no-tui", "--prefix", prefix], timeout: TimeSpan.FromMinutes(3));
        bool leftNamespaces = ExternalCommand.Run("ip", ["netns", "list"]).StdOut.Contains(prefix + "-", StringComparison.Ordinal);
        bool leftState = Directory.Exists(Path.Combine(LabCluster.StateRoot, prefix));
        // A demo killed at the timeout cannot tear its lab down itself: whatever it left goes now, then the asserts.
        new LabCluster(prefix).Down();
        output.WriteLine(r.StdOut);
        output.WriteLine(r.StdErr);

        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}\n{r.StdOut}{r.StdErr}");
        foreach (var step in (string[])["[1 Spread] PASS", "[2 Health check] PASS", "[3 Failover] PASS", "[4 Preempt] PASS"])
        {
            Assert.Contains(step, r.StdOut, StringComparison.Ordinal);
        }

        Assert.Contains("[3 Failover] PASS lb1 SIGKILLed: lb2 MASTER after", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("20 kept, 0 lost", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("every step held", r.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL", r.StdOut, StringComparison.Ordinal);
        Assert.False(leftNamespaces, "the demo left namespaces behind");
        Assert.False(leftState, "the demo left its lab state behind");
    }

    [Fact]
    public void Demo_Interrupted_TearsTheLabDown()
    {
        Root.Require();
        var prefix = "fd" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        var lab = new LabCluster(prefix);
        var psi = new System.Diagnostics.ProcessStartInfo(LabDirector.FulcrumPath) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["lab", "demo", "--no-tui", "--prefix", prefix])
        {
            psi.ArgumentList.Add(a);
        }

        using var demo = System.Diagnostics.Process.Start(psi)!;
        try
        {
            // Interrupt once both directors run (the lab holds the most then: namespaces, nginx, two daemons).
            Wait.For(() => lab.TrackedProcesses().Count(p => p.Name == "fulcrum" && !p.HasExited) == 2, "the demo to start both directors", 60);
            var started = lab.TrackedProcesses();

            ExternalCommand.Run("kill", ["-INT", demo.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            Assert.True(demo.WaitForExit(TimeSpan.FromSeconds(60)), "the demo did not end after SIGINT");
            var stdout = demo.StandardOutput.ReadToEnd();
            output.WriteLine(stdout);

            Assert.Equal(130, demo.ExitCode);
            Assert.Contains("interrupted", stdout, StringComparison.Ordinal);
            Assert.All(started, p => Assert.True(p.HasExited, p + " survived the interrupted demo"));
            Assert.False(lab.IsUp);
            Assert.False(Directory.Exists(lab.StateDirectory));
        }
        finally
        {
            if (!demo.HasExited)
            {
                demo.Kill();
                demo.WaitForExit();
            }

            lab.Down();
        }
    }
}
