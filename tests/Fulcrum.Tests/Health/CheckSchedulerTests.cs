using Fulcrum.Config;
using Fulcrum.Health;
using Microsoft.Extensions.Time.Testing;

namespace Fulcrum.Tests.Health;

public class CheckSchedulerTests
{
    private static readonly TimeSpan Loop = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Dbr = TimeSpan.FromSeconds(3);

    private static CheckTiming Timing(int retry = 2, bool alpha = false, TimeSpan? warmup = null) =>
        new(retry, Dbr, Loop, warmup ?? TimeSpan.Zero, alpha, false);

    [Fact]
    public async Task RunOnce_FailuresWhileUp_RetriedThenDown()
    {
        var checker = new ManualChecker { Result = CheckResult.Failure("refused") };
        var events = new List<CheckEvent>();
        var s = new CheckScheduler(checker, Timing(retry: 2), new FakeTimeProvider(), (_, e) => events.Add(e));
        Assert.True(s.IsUp);

        Assert.Equal(Dbr, await s.RunOnceAsync(default));
        Assert.Equal(Dbr, await s.RunOnceAsync(default));
        Assert.True(s.IsUp);
        Assert.Equal(Loop, await s.RunOnceAsync(default));
        Assert.False(s.IsUp);
        Assert.Equal([CheckEventKind.Retrying, CheckEventKind.Retrying, CheckEventKind.Down], events.Select(e => e.Kind));
        Assert.Equal([1, 2], events.Take(2).Select(e => e.Retry));

        // Down: failures wait a whole delay_loop and change nothing.
        Assert.Equal(Loop, await s.RunOnceAsync(default));
        Assert.Equal(CheckEventKind.Failed, events[^1].Kind);
        Assert.Equal("refused", s.LastFailure);
    }

    [Fact]
    public async Task RunOnce_SuccessAfterRetry_ResetsRetries()
    {
        var checker = new ManualChecker { Result = CheckResult.Failure("x") };
        var events = new List<CheckEvent>();
        var s = new CheckScheduler(checker, Timing(retry: 1), new FakeTimeProvider(), (_, e) => events.Add(e));
        Assert.Equal(Dbr, await s.RunOnceAsync(default));
        checker.Result = CheckResult.Success;
        Assert.Equal(Loop, await s.RunOnceAsync(default));
        checker.Result = CheckResult.Failure("x");

        // The retry budget is whole again.
        Assert.Equal(Dbr, await s.RunOnceAsync(default));
        Assert.True(s.IsUp);
        Assert.DoesNotContain(events, e => e.Kind == CheckEventKind.Down);
    }

    [Fact]
    public async Task RunOnce_RetryZero_FirstFailureIsDown()
    {
        var checker = new ManualChecker { Result = CheckResult.Failure("x") };
        var s = new CheckScheduler(checker, Timing(retry: 0), new FakeTimeProvider(), (_, _) => { });
        Assert.Equal(Loop, await s.RunOnceAsync(default));
        Assert.False(s.IsUp);
    }

    [Fact]
    public async Task RunOnce_Alpha_StartsDownAndOneSuccessBringsUp()
    {
        var checker = new ManualChecker();
        var events = new List<CheckEvent>();
        var s = new CheckScheduler(checker, Timing(alpha: true), new FakeTimeProvider(), (_, e) => events.Add(e));
        Assert.False(s.IsUp);
        await s.RunOnceAsync(default);
        Assert.True(s.IsUp);
        Assert.Equal(CheckEventKind.Up, Assert.Single(events).Kind);
    }

    [Fact]
    public async Task RunOnce_DynamicWeight_ReportedOncePerChange()
    {
        var checker = new ManualChecker("MISC_CHECK") { Result = new CheckResult(true, null, 5) };
        var events = new List<CheckEvent>();
        var s = new CheckScheduler(checker, Timing(), new FakeTimeProvider(), (_, e) => events.Add(e));
        await s.RunOnceAsync(default);
        await s.RunOnceAsync(default);
        checker.Result = new CheckResult(true, null, 6);
        await s.RunOnceAsync(default);
        Assert.Equal([5, 6], events.Where(e => e.Kind == CheckEventKind.Weight).Select(e => e.Result.Weight!.Value));
        Assert.Equal(6, s.Weight);
    }

    [Fact]
    public async Task RunOnce_CheckerThrows_CountsAsFailure()
    {
        var s = new CheckScheduler(new ThrowingChecker(), Timing(retry: 0), new FakeTimeProvider(), (_, _) => { });
        await s.RunOnceAsync(default);
        Assert.False(s.IsUp);
        Assert.Equal("boom", s.LastFailure);
    }

    [Fact]
    public void RunAsync_FakeClock_DownAfterRetriesSpacedByDelayBeforeRetry()
    {
        var time = new FakeTimeProvider();
        var checker = new ManualChecker { Result = CheckResult.Failure("x") };
        int downs = 0;
        var s = new CheckScheduler(checker, Timing(retry: 2), time, (_, e) => downs += e.Kind == CheckEventKind.Down ? 1 : 0);
        using var cts = new CancellationTokenSource();
        var run = s.RunAsync(cts.Token);

        // Checks at 0 s, 3 s and 6 s: down after the third. The clock moves only once the scheduler waits
        // (its timer exists), else the wait would start from the advanced time.
        Assert.True(Eventually.WaitReal(() => checker.Runs == 1 && s.Waits == 1, TimeSpan.FromSeconds(5)));
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.True(Eventually.WaitReal(() => checker.Runs == 2 && s.Waits == 2, TimeSpan.FromSeconds(5)));
        Assert.True(s.IsUp);
        time.Advance(TimeSpan.FromSeconds(2.9));
        Thread.Sleep(20);
        Assert.Equal(2, checker.Runs);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(Eventually.WaitReal(() => !s.IsUp && s.Waits == 3, TimeSpan.FromSeconds(5)));
        Assert.Equal(3, checker.Runs);

        // Then one check per delay_loop.
        time.Advance(Loop - TimeSpan.FromMilliseconds(1));
        Thread.Sleep(20);
        Assert.Equal(3, checker.Runs);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(Eventually.WaitReal(() => checker.Runs == 4, TimeSpan.FromSeconds(5)));
        Assert.Equal(1, downs);
        cts.Cancel();
        Assert.True(run.Wait(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void RunAsync_Warmup_FirstCheckWithinWarmup()
    {
        var time = new FakeTimeProvider();
        var checker = new ManualChecker();
        var s = new CheckScheduler(checker, Timing(warmup: TimeSpan.FromSeconds(4)), time, (_, _) => { }, new Random(3));
        using var cts = new CancellationTokenSource();
        var run = s.RunAsync(cts.Token);
        Thread.Sleep(20);
        int before = checker.Runs;
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.True(Eventually.WaitReal(() => checker.Runs == 1, TimeSpan.FromSeconds(5)));
        Assert.Equal(0, before);
        cts.Cancel();
        Assert.True(run.Wait(TimeSpan.FromSeconds(5)));
    }

    private sealed class ThrowingChecker : IHealthChecker
    {
        public string Kind => "TCP_CHECK";

        public Task<CheckResult> CheckAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("boom");
    }
}
