using System.Diagnostics;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Lab;

public sealed class LabLifecycleTests
{
    [Fact]
    public void Down_FromAnotherInstance_RemovesEveryNamespaceProcessAndState()
    {
        var sw = Stopwatch.StartNew();
        var lab = LabRegistry.Up();
        var upTime = sw.Elapsed;
        try
        {
            // design target is < 3 s; the bound here only catches a lab gone badly slow on a loaded CI machine.
            Assert.True(upTime < TimeSpan.FromSeconds(15), $"lab up took {upTime.TotalSeconds:F1} s");
            var extra = lab.StartProcess("lb1", "sleep", "600");
            var processes = lab.TrackedProcesses();
            Assert.Equal(7, processes.Count);
            Assert.All(processes, p => Assert.False(p.HasExited, p.ToString()));

            // As `fulcrum lab down` does it: a new instance that only knows the prefix.
            var strays = new LabCluster(lab.Prefix).Down();

            Assert.Empty(strays);
            Assert.All(processes, p => Assert.True(p.HasExited, p + " survived down"));
            Assert.True(extra.HasExited);
            foreach (var host in LabCluster.Hosts.Append(LabCluster.SwitchHost))
            {
                Assert.False(File.Exists("/run/netns/" + lab.NamespaceOf(host)), host);
            }

            Assert.False(Directory.Exists(lab.StateDirectory));
            Assert.False(lab.IsUp);
            Assert.Empty(lab.Down());
        }
        finally
        {
            LabRegistry.Down(lab);
        }
    }

    [Fact]
    public void TwoLabs_DifferentPrefixes_CoexistAndTearDownIndependently()
    {
        var a = LabRegistry.Up();
        try
        {
            var b = LabRegistry.Up();
            try
            {
                Assert.NotEqual(a.Prefix, b.Prefix);
                Assert.Equal("rs1\n", ClientTools.CurlBody(a, "http://198.51.100.2/"));
                Assert.Equal("rs1\n", ClientTools.CurlBody(b, "http://198.51.100.2/"));
            }
            finally
            {
                LabRegistry.Down(b);
            }

            Assert.False(b.IsUp);
            Assert.Equal("rs3\n", ClientTools.CurlBody(a, "http://198.51.100.4/"));
        }
        finally
        {
            LabRegistry.Down(a);
        }
    }

    [Fact]
    public void Up_LabAlreadyUp_ThrowsAndLeavesItRunning()
    {
        var lab = LabRegistry.Up();
        try
        {
            Assert.Throws<InvalidOperationException>(() => new LabCluster(lab.Prefix).Up());
            Assert.Equal("rs2\n", ClientTools.CurlBody(lab, "http://198.51.100.3/"));
        }
        finally
        {
            LabRegistry.Down(lab);
        }
    }

    [Fact]
    public void StartProcess_Stop_EndsItAndKeepsItsOutput()
    {
        var lab = LabRegistry.Up();
        try
        {
            using var p = lab.StartProcess("lb1", "sh", "-c", "ip -4 -o addr show dev eth0; exec sleep 600");
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!p.ReadLog().Contains("198.51.100.11/24", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }

            Assert.Contains("198.51.100.11/24", p.ReadLog(), StringComparison.Ordinal);
            Assert.False(p.HasExited);

            p.Stop(TimeSpan.FromSeconds(2));

            Assert.True(p.HasExited);
            Assert.Contains("198.51.100.11/24", p.ReadLog(), StringComparison.Ordinal);
        }
        finally
        {
            LabRegistry.Down(lab);
        }
    }
}
