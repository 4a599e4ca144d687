using Fulcrum.Vrrp;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Vrrp;

public class VrrpInstanceTests
{
    private const uint Me = 0xC633640B;      // 198.51.100.11
    private const uint Higher = 0xC633640C;  // 198.51.100.12
    private const uint Lower = 0xC633640A;   // 198.51.100.10
    private const uint Vip = 0xC6336464;

    private readonly FakeTimeProvider _time = new();
    private readonly RecordingIo _io = new();

    [Fact]
    public void SkewTime_V2Priority100_IsKeepalivedMicroseconds()
    {
        var vrrp = Create();
        Assert.Equal(TimeSpan.FromTicks(609_375 * 10), vrrp.SkewTime);
        Assert.Equal(TimeSpan.FromTicks(3_609_375 * 10), vrrp.MasterDownInterval);
    }

    [Theory]
    [InlineData(100, 100, 609_375)]   // ((256-100) * 100cs * 625) / 16 µs
    [InlineData(200, 1, 2_187)]       // integer division, as vrrp.h VRRP_TIMER_SKEW
    [InlineData(255, 10, 390)]
    public void SkewTime_V3_ScalesWithMasterAdvertInterval(int priority, int centiseconds, long micros)
    {
        var vrrp = Create(version: 3, priority: (byte)priority, interval: TimeSpan.FromMilliseconds(centiseconds * 10));
        Assert.Equal(TimeSpan.FromTicks(micros * 10), vrrp.SkewTime);
        Assert.Equal((3 * TimeSpan.FromMilliseconds(centiseconds * 10)) + TimeSpan.FromTicks(micros * 10), vrrp.MasterDownInterval);
    }

    [Fact]
    public void Start_NonOwner_BackupWithMasterDownTimer()
    {
        var vrrp = Create();
        vrrp.Start();
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
        Assert.Equal(vrrp.MasterDownInterval, vrrp.DueIn);
        Assert.Equal(["remove", "state Init->Backup"], _io.Log);
    }

    [Fact]
    public void Start_Owner_MasterAtOnce()
    {
        var vrrp = Create(priority: 255);
        vrrp.Start();
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
        Assert.Equal(["remove", "add", "advert 255", "garp 5", "state Init->Master"], _io.Log);
        Assert.Equal(Me, vrrp.MasterAddress);
    }

    [Fact]
    public void Poll_MasterDownExpires_BecomesMasterExactlyOnTime()
    {
        var vrrp = Create();
        vrrp.Start();
        _time.Advance(vrrp.MasterDownInterval - TimeSpan.FromTicks(10));
        vrrp.Poll();
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
        _time.Advance(TimeSpan.FromTicks(10));
        vrrp.Poll();
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
        Assert.Contains("advert 100", _io.Log);
    }

    [Fact]
    public void Receive_BackupHigherPriority_RestartsMasterDown()
    {
        var vrrp = Create();
        vrrp.Start();
        _time.Advance(TimeSpan.FromSeconds(3));
        vrrp.Receive(new VrrpAdvertisement(Higher, 150, TimeSpan.FromSeconds(1)));
        _time.Advance(TimeSpan.FromSeconds(3));
        vrrp.Poll();
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
        Assert.Equal(Higher, vrrp.MasterAddress);
        Assert.Equal(vrrp.MasterDownInterval - TimeSpan.FromSeconds(3), vrrp.DueIn);
    }

    [Fact]
    public void Receive_BackupEqualPriorityLowerAddress_StillAccepted()
    {
        // RFC 5798 §6.4.2: a backup accepts any advert with priority >= its own; the address tie-break is
        // only between two masters.
        var vrrp = Create();
        vrrp.Start();
        _time.Advance(TimeSpan.FromSeconds(3));
        vrrp.Receive(new VrrpAdvertisement(Lower, 100, TimeSpan.FromSeconds(1)));
        _time.Advance(TimeSpan.FromSeconds(3));
        vrrp.Poll();
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
    }

    [Fact]
    public void Receive_BackupPriorityZero_TakesOverAfterSkewOnly()
    {
        var vrrp = Create();
        vrrp.Start();
        vrrp.Receive(new VrrpAdvertisement(Higher, 0, TimeSpan.FromSeconds(1)));
        Assert.Equal(vrrp.SkewTime, vrrp.DueIn);
        _time.Advance(vrrp.SkewTime);
        vrrp.Poll();
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
    }

    [Fact]
    public void Receive_BackupLowerPriorityWithPreempt_DiscardedSoWeTakeOver()
    {
        var vrrp = Create(priority: 150);
        vrrp.Start();
        _time.Advance(TimeSpan.FromSeconds(3));
        vrrp.Receive(new VrrpAdvertisement(Higher, 100, TimeSpan.FromSeconds(1)));
        _time.Advance(vrrp.MasterDownInterval - TimeSpan.FromSeconds(3));
        vrrp.Poll();
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
    }

    [Fact]
    public void Receive_BackupLowerPriorityNoPreempt_StaysBackup()
    {
        var vrrp = Create(priority: 150, preempt: false);
        vrrp.Start();
        for (int i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            vrrp.Receive(new VrrpAdvertisement(Higher, 100, TimeSpan.FromSeconds(1)));
            vrrp.Poll();
        }

        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
    }

    [Fact]
    public void Receive_BackupPreemptDelay_AcceptsLowerMasterUntilDelayPassed()
    {
        var vrrp = Create(priority: 150, preemptDelay: TimeSpan.FromSeconds(10));
        vrrp.Start();
        for (int i = 0; i < 9; i++)
        {
            vrrp.Receive(new VrrpAdvertisement(Higher, 100, TimeSpan.FromSeconds(1)));
            _time.Advance(TimeSpan.FromSeconds(1));
            vrrp.Poll();
        }

        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
        for (int i = 0; i < 6; i++)
        {
            vrrp.Receive(new VrrpAdvertisement(Higher, 100, TimeSpan.FromSeconds(1)));
            _time.Advance(TimeSpan.FromSeconds(1));
            vrrp.Poll();
        }

        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
    }

    [Fact]
    public void Receive_V3Backup_LearnsMasterAdvertInterval()
    {
        var vrrp = Create(version: 3);
        vrrp.Start();
        vrrp.Receive(new VrrpAdvertisement(Higher, 200, TimeSpan.FromMilliseconds(50)));
        Assert.Equal(TimeSpan.FromMilliseconds(50), vrrp.MasterAdvertInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(150) + vrrp.SkewTime, vrrp.DueIn);
    }

    [Fact]
    public void Poll_Master_AdvertisesEveryInterval()
    {
        var vrrp = StartAsMaster();
        for (int i = 0; i < 3; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            vrrp.Poll();
        }

        Assert.Equal(3, _io.Log.Count(e => e == "advert 100"));
    }

    [Fact]
    public void Poll_MasterGarpMasterDelay_SecondBurstAfterDelay()
    {
        var vrrp = StartAsMaster(garpDelay: TimeSpan.FromSeconds(5), garpRepeat: 3);
        _time.Advance(TimeSpan.FromSeconds(4));
        vrrp.Poll();
        Assert.DoesNotContain("garp 3", _io.Log);
        _time.Advance(TimeSpan.FromSeconds(1));
        vrrp.Poll();
        Assert.Equal(["advert 100", "advert 100", "garp 3"], _io.Log);
    }

    [Fact]
    public void Poll_MasterGarpMasterRefresh_PeriodicRoundsAfterDelay()
    {
        var format = new VrrpMessageFormat(2, 51, [Vip], TimeSpan.FromSeconds(1));
        var vrrp = new VrrpInstance(
            new VrrpInstanceOptions("VI_1", format, 255, Me, GarpMasterDelay: TimeSpan.FromSeconds(5), GarpMasterRepeat: 5, GarpMasterRefresh: TimeSpan.FromSeconds(10), GarpMasterRefreshRepeat: 2),
            _io,
            _time);
        vrrp.Start();
        int Refreshes() => _io.Log.Count(e => e == "garp 2");
        _time.Advance(TimeSpan.FromSeconds(14));
        vrrp.Poll();
        Assert.Equal(0, Refreshes());
        _time.Advance(TimeSpan.FromSeconds(1));
        vrrp.Poll();
        Assert.Equal(1, Refreshes());
        _time.Advance(TimeSpan.FromSeconds(10));
        vrrp.Poll();
        Assert.Equal(2, Refreshes());
        vrrp.Stop();
        Assert.Null(vrrp.DueIn);
    }

    [Fact]
    public void Receive_MasterHigherPriority_StepsDownAndRemovesAddresses()
    {
        var vrrp = StartAsMaster();
        vrrp.Receive(new VrrpAdvertisement(Lower, 200, TimeSpan.FromSeconds(1)));
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
        Assert.Equal(["remove", "state Master->Backup"], _io.Log);
        Assert.Equal(vrrp.MasterDownInterval, vrrp.DueIn);
    }

    [Fact]
    public void Receive_MasterEqualPriorityHigherAddress_StepsDown()
    {
        var vrrp = StartAsMaster();
        vrrp.Receive(new VrrpAdvertisement(Higher, 100, TimeSpan.FromSeconds(1)));
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
        Assert.Equal(Higher, vrrp.MasterAddress);
    }

    [Fact]
    public void Receive_MasterEqualPriorityLowerAddress_ReassertsWithAdvertAndGarp()
    {
        var vrrp = StartAsMaster();
        vrrp.Receive(new VrrpAdvertisement(Lower, 100, TimeSpan.FromSeconds(1)));
        vrrp.Receive(new VrrpAdvertisement(Lower, 100, TimeSpan.FromSeconds(1)));
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
        Assert.Equal(["advert 100", "garp 1", "advert 100"], _io.Log);
    }

    [Fact]
    public void Receive_MasterPriorityZero_AdvertisesAtOnce()
    {
        var vrrp = StartAsMaster();
        _time.Advance(TimeSpan.FromMilliseconds(300));
        vrrp.Receive(new VrrpAdvertisement(Higher, 0, TimeSpan.FromSeconds(1)));
        Assert.Equal(["advert 100"], _io.Log);
        Assert.Equal(TimeSpan.FromSeconds(1), vrrp.DueIn);
    }

    [Fact]
    public void Stop_Master_SendsPriorityZeroAndRemovesAddresses()
    {
        var vrrp = StartAsMaster();
        vrrp.Stop();
        Assert.Equal(VrrpInstanceState.Stopped, vrrp.State);
        Assert.Equal(["advert 0", "remove", "state Master->Stopped"], _io.Log);
        Assert.Null(vrrp.DueIn);
    }

    [Fact]
    public void Stop_Backup_SendsNothing()
    {
        var vrrp = Create();
        vrrp.Start();
        _io.Log.Clear();
        vrrp.Stop();
        Assert.Equal(["state Backup->Stopped"], _io.Log);
    }

    [Fact]
    public void SetFault_Master_ResignsThenReturnsAsBackup()
    {
        var vrrp = StartAsMaster();
        vrrp.SetFault(true);
        Assert.Equal(VrrpInstanceState.Fault, vrrp.State);
        Assert.Equal(["advert 0", "remove", "state Master->Fault"], _io.Log);
        _time.Advance(TimeSpan.FromSeconds(10));
        vrrp.Poll();
        Assert.Equal(VrrpInstanceState.Fault, vrrp.State);
        vrrp.SetFault(false);
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
    }

    [Fact]
    public void ForceBackupAndForceMaster_FollowSyncGroup()
    {
        var vrrp = StartAsMaster();
        vrrp.ForceBackup();
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
        vrrp.ForceMaster();
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
    }

    [Fact]
    public void SetPriorityAdjustment_Master_ReadvertisesNewPriorityAtOnce()
    {
        var vrrp = StartAsMaster();
        vrrp.SetPriorityAdjustment(-60);
        Assert.Equal(40, vrrp.EffectivePriority);
        Assert.Equal(["advert 40"], _io.Log);
        vrrp.Receive(new VrrpAdvertisement(Lower, 90, TimeSpan.FromSeconds(1)));
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
    }

    [Theory]
    [InlineData(100, 200, 254)]
    [InlineData(100, -150, 1)]
    [InlineData(255, -5, 250)]
    [InlineData(255, 0, 255)]
    public void SetPriorityAdjustment_ClampsToOneThrough254(int priority, int adjustment, int expected)
    {
        var vrrp = Create(priority: (byte)priority);
        vrrp.SetPriorityAdjustment(adjustment);
        Assert.Equal(expected, vrrp.EffectivePriority);
    }

    [Fact]
    public void SetPriorityAdjustment_Backup_SkewFollowsEffectivePriority()
    {
        var vrrp = Create();
        vrrp.SetPriorityAdjustment(50);
        Assert.Equal(TimeSpan.FromTicks((256 - 150) * 1_000_000 / 256 * 10), vrrp.SkewTime);
    }

    [Fact]
    public void ResolveAddressConflict_Master_ReassertsOncePerInterval()
    {
        var vrrp = StartAsMaster();
        Assert.True(vrrp.ResolveAddressConflict());
        Assert.False(vrrp.ResolveAddressConflict());
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(vrrp.ResolveAddressConflict());
        Assert.Equal(["advert 100", "garp 1", "advert 100", "garp 1"], _io.Log);
    }

    [Fact]
    public void ResolveAddressConflict_Backup_DoesNothing()
    {
        var vrrp = Create();
        vrrp.Start();
        _io.Log.Clear();
        Assert.False(vrrp.ResolveAddressConflict());
        Assert.Empty(_io.Log);
    }

    [Fact]
    public void Reconfigure_MasterUnchangedSettings_NoAdvertNoAddressChangeStaysMaster()
    {
        var vrrp = StartAsMaster();
        vrrp.Reconfigure(vrrp.Options with { });
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
        Assert.Empty(_io.Log);
    }

    [Fact]
    public void Reconfigure_MasterPriorityChanged_AdvertisesNewPriorityAtOnceKeepsAddresses()
    {
        var vrrp = StartAsMaster();
        vrrp.Reconfigure(vrrp.Options with { Priority = 120 });
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
        Assert.Equal(120, vrrp.EffectivePriority);
        Assert.Equal(["advert 120"], _io.Log);
    }

    [Fact]
    public void Reconfigure_MasterAddressesChanged_AdvertisesAtOnce()
    {
        var vrrp = StartAsMaster();
        vrrp.Reconfigure(vrrp.Options with { Format = vrrp.Options.Format with { Addresses = [Vip, Vip + 1] } });
        Assert.Equal(["advert 100"], _io.Log);
    }

    [Fact]
    public void Reconfigure_MasterShorterInterval_NextAdvertWithinNewInterval()
    {
        var vrrp = StartAsMaster(version: 3);
        _io.Log.Clear();
        vrrp.Reconfigure(vrrp.Options with { Format = vrrp.Options.Format with { AdvertInterval = TimeSpan.FromMilliseconds(100) } });
        Assert.Equal(TimeSpan.FromMilliseconds(100), vrrp.AdvertInterval);
        Assert.True(vrrp.DueIn <= TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Reconfigure_PriorityKeepsTrackingAdjustment()
    {
        var vrrp = StartAsMaster();
        vrrp.SetPriorityAdjustment(-30);
        vrrp.Reconfigure(vrrp.Options with { Priority = 150 });
        Assert.Equal(120, vrrp.EffectivePriority);
    }

    [Fact]
    public void Reconfigure_BackupV2IntervalChanged_MasterDownFollowsNewInterval()
    {
        var vrrp = Create();
        vrrp.Start();
        vrrp.Reconfigure(vrrp.Options with { Format = vrrp.Options.Format with { AdvertInterval = TimeSpan.FromSeconds(2) } });
        Assert.Equal(VrrpInstanceState.Backup, vrrp.State);
        Assert.Equal(TimeSpan.FromSeconds(2), vrrp.MasterAdvertInterval);
        Assert.Equal(["remove", "state Init->Backup"], _io.Log);
    }

    private VrrpInstance StartAsMaster(TimeSpan garpDelay = default, int garpRepeat = 5, int version = 2)
    {
        var vrrp = Create(version: version, garpDelay: garpDelay, garpRepeat: garpRepeat);
        vrrp.Start();
        _time.Advance(vrrp.MasterDownInterval);
        vrrp.Poll();
        Assert.Equal(VrrpInstanceState.Master, vrrp.State);
        _io.Log.Clear();
        return vrrp;
    }

    private VrrpInstance Create(
        int version = 2,
        byte priority = 100,
        TimeSpan? interval = null,
        bool preempt = true,
        TimeSpan preemptDelay = default,
        TimeSpan garpDelay = default,
        int garpRepeat = 5)
    {
        var format = new VrrpMessageFormat(version, 51, [Vip], interval ?? TimeSpan.FromSeconds(1));
        var options = new VrrpInstanceOptions("VI_1", format, priority, Me, preempt, preemptDelay, garpDelay, garpRepeat);
        return new VrrpInstance(options, _io, _time);
    }

    private sealed class RecordingIo : IVrrpInstanceIo
    {
        public List<string> Log { get; } = [];

        public void SendAdvertisement(VrrpInstance instance, byte priority) => Log.Add($"advert {priority}");

        public void AddAddresses(VrrpInstance instance) => Log.Add("add");

        public void RemoveAddresses(VrrpInstance instance) => Log.Add("remove");

        public void SendGratuitousArps(VrrpInstance instance, int rounds) => Log.Add($"garp {rounds}");

        public void StateChanged(VrrpInstance instance, VrrpInstanceState previous) => Log.Add($"state {previous}->{instance.State}");
    }
}

public class VrrpTrackingTests
{
    [Theory]
    [InlineData(0, false, true, 0, false)]
    [InlineData(0, false, false, 0, true)]     // weight 0: a failure is a FAULT
    [InlineData(20, false, true, 20, false)]   // positive: added while up
    [InlineData(20, false, false, 0, false)]
    [InlineData(-30, false, false, -30, false)] // negative: added while down
    [InlineData(-30, false, true, 0, false)]
    [InlineData(20, true, false, 20, false)]   // reverse swaps up and down
    [InlineData(-30, true, true, -30, false)]
    public void Contribution_WeightRules_AsKeepalived(int weight, bool reverse, bool up, int expected, bool expectedFault)
    {
        Assert.Equal(expected, VrrpTracking.Contribution(weight, reverse, up, out bool fault));
        Assert.Equal(expectedFault, fault);
    }
}
