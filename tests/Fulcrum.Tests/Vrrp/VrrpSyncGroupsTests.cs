using Fulcrum.Config;
using Fulcrum.Vrrp;
using Microsoft.Extensions.Time.Testing;
using VrrpInstance = Fulcrum.Vrrp.VrrpInstance;

namespace Fulcrum.Tests.Vrrp;

public class VrrpSyncGroupsTests
{
    private const uint Me = 0xC633640B;
    private const uint Peer = 0xC633640C;

    private readonly FakeTimeProvider _time = new();
    private readonly VrrpSyncGroups _groups = new();

    [Fact]
    public void Apply_OneMemberBecomesMaster_OthersFollow()
    {
        var (vi1, vi2, outsider) = Create();

        // vi1 alone hears no master for a shorter time (higher priority, smaller skew).
        _time.Advance(vi1.MasterDownInterval);
        vi1.Poll();
        vi2.Poll();
        outsider.Poll();
        Assert.True(_groups.Apply());

        Assert.Equal(VrrpInstanceState.Master, vi1.State);
        Assert.Equal(VrrpInstanceState.Master, vi2.State);
        Assert.Equal(VrrpInstanceState.Backup, outsider.State);
        Assert.False(_groups.Apply());
    }

    [Fact]
    public void Apply_OneMemberLosesMastership_OthersStepDown()
    {
        var (vi1, vi2, _) = Create();
        _time.Advance(TimeSpan.FromSeconds(5));
        vi1.Poll();
        vi2.Poll();
        _groups.Apply();

        vi2.Receive(new VrrpAdvertisement(Peer, 250, TimeSpan.FromSeconds(1)));
        _groups.Apply();

        Assert.Equal(VrrpInstanceState.Backup, vi1.State);
        Assert.Equal(VrrpInstanceState.Backup, vi2.State);
    }

    private (VrrpInstance, VrrpInstance, VrrpInstance) Create()
    {
        var io = new SyncIo(_groups);
        VrrpInstance Make(string name, byte vrid, byte priority) =>
            new(new VrrpInstanceOptions(name, new VrrpMessageFormat(2, vrid, [0xC6336464u + vrid], TimeSpan.FromSeconds(1)), priority, Me), io, _time);
        var vi1 = Make("VI_1", 1, 200);
        var vi2 = Make("VI_2", 2, 100);
        var outsider = Make("VI_3", 3, 100);
        var location = new SourceLocation("t.conf", 1, 1);
        _groups.Configure([new VrrpSyncGroup("G", ["VI_1", "VI_2"], VrrpNotify.None, [], [], false, location)], [vi1, vi2, outsider]);
        vi1.Start();
        vi2.Start();
        outsider.Start();
        _groups.Apply();
        return (vi1, vi2, outsider);
    }

    private sealed class SyncIo(VrrpSyncGroups groups) : IVrrpInstanceIo
    {
        public void SendAdvertisement(VrrpInstance instance, byte priority)
        {
        }

        public void AddAddresses(VrrpInstance instance)
        {
        }

        public void RemoveAddresses(VrrpInstance instance)
        {
        }

        public void SendGratuitousArps(VrrpInstance instance, int rounds)
        {
        }

        public void StateChanged(VrrpInstance instance, VrrpInstanceState previous) => groups.Record(instance, previous);
    }
}
