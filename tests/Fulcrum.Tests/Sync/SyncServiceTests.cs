using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Config;
using Fulcrum.Sync;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Sync;

public class SyncServiceTests
{
    private static SyncService Service(SyncOptions? options = null) =>
        new(new IpvsTable(new FakeTimeProvider(), 2, 1024), TimeProvider.System, NullLogger<SyncService>.Instance, options);

    [Fact]
    public void Effective_MasterDefaults_KernelValues()
    {
        var e = Service().Effective(new SyncDaemonConfig(SyncDaemonState.Master, "eth0"), deviceMtu: 9000);
        Assert.Equal(1472, e.MaxLength); // a MASTER assumes 1500 whatever the device says
        Assert.Equal(IPAddress.Parse("224.0.0.81"), e.Group);
        Assert.Equal(8848, e.Port);
        Assert.Equal(1, e.Ttl);
    }

    [Fact]
    public void Effective_BackupMtu_FromTheDeviceClamped()
    {
        var s = Service();
        Assert.Equal(8972, s.Effective(new SyncDaemonConfig(SyncDaemonState.Backup, "eth0"), 9000).MaxLength);
        Assert.Equal(1472, s.Effective(new SyncDaemonConfig(SyncDaemonState.Backup, "eth0"), 1280).MaxLength);
        Assert.Equal(1024, s.Effective(new SyncDaemonConfig(SyncDaemonState.Backup, "eth0", MaxLength: 100), 1500).MaxLength);
        Assert.Equal(100, s.Effective(new SyncDaemonConfig(SyncDaemonState.Master, "eth0", MaxLength: 100), 1500).MaxLength);
        var v6 = s.Effective(new SyncDaemonConfig(SyncDaemonState.Master, "eth0", Group: IPAddress.Parse("ff02::81")), 1500);
        Assert.Equal(1452, v6.MaxLength);
    }

    [Fact]
    public void Effective_ExtensionsFromOptions_UnlessGiven()
    {
        var peer = new IPEndPoint(IPAddress.Parse("198.51.100.12"), 0);
        var s = Service(new SyncOptions { Peers = [peer], AuthKey = new byte[] { 1, 2, 3 } });
        var e = s.Effective(new SyncDaemonConfig(SyncDaemonState.Master, "eth0"), 1500);
        Assert.Equal(peer, Assert.Single(e.Peers));
        Assert.Equal(3, e.AuthKey.Length);
    }

    [Fact]
    public void StartDaemon_NoSuchInterface_Enodev()
    {
        var s = Service();
        Assert.Equal(IpvsErrno.ENODEV, s.StartDaemon(new SyncDaemonConfig(SyncDaemonState.Master, "nosuch0")));
        Assert.Empty(s.GetDaemons());
        Assert.False(s.IsMaster);
    }

    [Fact]
    public void StopDaemon_NotRunning_Esrch()
    {
        var s = Service();
        Assert.Equal(IpvsErrno.ESRCH, s.StopDaemon(SyncDaemonState.Master));
        Assert.Equal(IpvsErrno.ESRCH, s.StopDaemon(SyncDaemonState.Backup));
    }

    [Fact]
    public void Publish_WithoutMaster_QueuesAndCountsOverflowNotThrows()
    {
        var s = new SyncService(new IpvsTable(new FakeTimeProvider(), 1, 16), TimeProvider.System, NullLogger<SyncService>.Instance,
            new SyncOptions { Tuning = new SyncTuning { QueueCapacity = 4 } });
        var c = SyncCodecTests.Established();
        for (int i = 0; i < 10; i++)
            s.Publish(0, in c);
        s.Publish(7, in c); // no such worker: ignored
        Assert.Equal(6, s.GetStatus().QueueDrops);
    }

    [Fact]
    public void Status_TextAndJson_ShowCountersAndNoDaemon()
    {
        var status = Service().GetStatus();
        var text = new System.Text.StringBuilder();
        SyncStatusText.Append(text, status);
        Assert.Contains("no sync daemon running", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("last received: never", text.ToString(), StringComparison.Ordinal);
        var json = new System.Text.StringBuilder();
        SyncStatusText.AppendJson(json, status);
        using var doc = System.Text.Json.JsonDocument.Parse(json.ToString());
        Assert.Equal(0, doc.RootElement.GetProperty("daemons").GetArrayLength());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, doc.RootElement.GetProperty("last_received_age_seconds").ValueKind);
    }

    [Fact]
    public void Follow_NullDaemon_StartsNothing()
    {
        var s = Service();
        s.Follow(null, KeepalivedConfiguration.Empty, () => null);
        Assert.Empty(s.GetDaemons());
    }
}
