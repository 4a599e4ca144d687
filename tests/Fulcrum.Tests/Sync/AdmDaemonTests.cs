using System.Net;
using Fulcrum.Adm;
using Fulcrum.Balancing;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Sync;

/// <summary>`fulcrum adm --start-daemon/--stop-daemon/-L --daemon` as ipvsadm 1.31 does them.</summary>
public class AdmDaemonTests
{
    /// <summary>Daemon control as the kernel's: EEXIST, ESRCH, and the effective settings in the listing.</summary>
    private sealed class DaemonSync : IConnectionSync
    {
        public List<SyncDaemonConfig> Running { get; } = [];
        public bool IsMaster => false;
        public void Publish(int worker, in SyncedConnection connection) { }
        public bool TryImport(in ConnectionKey key, long nowMs, out SyncedConnection connection)
        {
            connection = default;
            return false;
        }
        public void Adopted(in ConnectionKey key) { }
        public void CollectImported(List<ConnectionInfo> into, long nowMs) { }
        public int StartDaemon(SyncDaemonConfig config)
        {
            if (Running.Exists(d => d.State == config.State))
                return IpvsErrno.EEXIST;
            Running.Add(config);
            Running.Sort((a, b) => a.State.CompareTo(b.State));
            return 0;
        }
        public int StopDaemon(SyncDaemonState state) => Running.RemoveAll(d => d.State == state) > 0 ? 0 : IpvsErrno.ESRCH;
        public IReadOnlyList<SyncDaemonConfig> GetDaemons() => Running;
    }

    private readonly IpvsTable _table = new(new FakeTimeProvider());
    private readonly DaemonSync _sync = new();

    public AdmDaemonTests() => _table.Sync = _sync;

    private AdmResult Run(string line) => Ipvsadm.Run(line.Split(' '), TextReader.Null, _table);

    [Fact]
    public void StartDaemon_AllOptions_ReachTheControl()
    {
        Assert.Equal(new AdmResult(0, "", ""), Run("--start-daemon backup --mcast-interface eth1 --syncid 51 --sync-maxlen 1400 --mcast-group 239.1.2.3 --mcast-port 9000 --mcast-ttl 4"));
        var d = Assert.Single(_sync.Running);
        Assert.Equal(new SyncDaemonConfig(SyncDaemonState.Backup, "eth1", 51, 1400, IPAddress.Parse("239.1.2.3"), 9000, 4), d);
    }

    [Fact]
    public void StartDaemon_NoInterface_Eth0AndKernelDefaultsLeftToTheKernel()
    {
        Assert.Equal(0, Run("--start-daemon master").ExitCode);
        Assert.Equal(new SyncDaemonConfig(SyncDaemonState.Master, "eth0"), Assert.Single(_sync.Running));
    }

    [Fact]
    public void StartDaemon_Twice_DaemonHasAlreadyRun()
    {
        Assert.Equal(0, Run("--start-daemon master").ExitCode);
        Assert.Equal(new AdmResult(255, "", "Daemon has already run\n"), Run("--start-daemon master"));
        Assert.Equal(0, Run("--start-daemon backup").ExitCode); // master and backup may run together
    }

    [Fact]
    public void StopDaemon_Running_StopsThenNoDaemonIsRunning()
    {
        Assert.Equal(0, Run("--start-daemon backup").ExitCode);
        Assert.Equal(new AdmResult(0, "", ""), Run("--stop-daemon backup"));
        Assert.Empty(_sync.Running);
        Assert.Equal(new AdmResult(255, "", "No daemon is running\n"), Run("--stop-daemon backup"));
    }

    [Fact]
    public void ListDaemon_KernelReportedSettings_Ipvsadm131Format()
    {
        // What the kernel reports after start_sync_thread filled in its defaults.
        _sync.StartDaemon(new SyncDaemonConfig(SyncDaemonState.Backup, "eth0", 51, 1472, IPAddress.Parse("224.0.0.81"), 8848, 1));
        _sync.StartDaemon(new SyncDaemonConfig(SyncDaemonState.Master, "eth1", 0, 1472, IPAddress.Parse("ff02::81"), 9000, 2));
        Assert.Equal(new AdmResult(0,
            "master sync daemon (mcast=eth1, syncid=0, maxlen=1472, group=ff02::81, port=9000, ttl=2)\n" +
            "backup sync daemon (mcast=eth0, syncid=51, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n", ""),
            Run("-L --daemon"));
    }

    [Fact]
    public void ListDaemon_UnsetFields_Omitted()
    {
        _sync.StartDaemon(new SyncDaemonConfig(SyncDaemonState.Master, "eth0", 7));
        Assert.Equal("master sync daemon (mcast=eth0, syncid=7)\n", Run("-L --daemon").Stdout);
    }

    [Fact]
    public void ListDaemon_NoneRunning_PrintsNothing() =>
        Assert.Equal(new AdmResult(0, "", ""), Run("-L --daemon"));
}
