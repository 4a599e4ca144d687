using Fulcrum.Config;

namespace Fulcrum.Health;

/// <summary>
/// Runs one checker on keepalived's timing (check_api.c, check_tcp.c tcp_epilog): the first check
/// after a random part of warmup, then one every delay_loop. A checker starts up, or down with alpha.
/// While up, a failure is retried `retry` times, delay_before_retry apart, before the checker is
/// declared down; while down, one success brings it up and failures just wait for the next loop.
/// </summary>
public sealed class CheckScheduler
{
    private readonly IHealthChecker _checker;
    private readonly CheckTiming _timing;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Action<CheckScheduler, CheckEvent> _onEvent;
    private volatile bool _isUp;
    private volatile string? _lastFailure;
    private long _lastRunTicks = -1;
    private int _waits;
    private int _retries;
    private int _weight = -1;

    public CheckScheduler(IHealthChecker checker, CheckTiming timing, TimeProvider time, Action<CheckScheduler, CheckEvent> onEvent, Random? random = null, bool? initialUp = null)
    {
        ArgumentNullException.ThrowIfNull(checker);
        ArgumentNullException.ThrowIfNull(timing);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(onEvent);
        _checker = checker;
        _timing = timing;
        _time = time;
        _onEvent = onEvent;
        _random = random ?? Random.Shared;
        _isUp = initialUp ?? !timing.Alpha;
    }

    public IHealthChecker Checker => _checker;

    public CheckTiming Timing => _timing;

    /// <summary>The checker's verdict after retries: what the real server's state is built from.</summary>
    public bool IsUp => _isUp;

    /// <summary>A weight reported by misc_dynamic, or null if none was reported yet.</summary>
    public int? Weight
    {
        get
        {
            int w = Volatile.Read(ref _weight);
            return w < 0 ? null : w;
        }
    }

    /// <summary>Why the last check failed (null after a success).</summary>
    public string? LastFailure => _lastFailure;

    public DateTimeOffset? LastRun
    {
        get
        {
            long t = Interlocked.Read(ref _lastRunTicks);
            return t < 0 ? null : new DateTimeOffset(t, TimeSpan.Zero);
        }
    }

    /// <summary>Carries a misc_dynamic weight over a configuration reload.</summary>
    internal void SeedWeight(int weight) => Volatile.Write(ref _weight, weight);

    /// <summary>
    /// How many waits for the next check have begun, counted once the wait's timer exists: a test on a fake
    /// clock must not advance it before then (the timer would start from the advanced time).
    /// </summary>
    internal int Waits => Volatile.Read(ref _waits);

    /// <summary>Checks until cancelled; returns normally on cancellation.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            var warmup = _timing.Warmup > TimeSpan.Zero
                ? TimeSpan.FromTicks((long)(_random.NextDouble() * _timing.Warmup.Ticks))
                : TimeSpan.Zero;
            if (warmup > TimeSpan.Zero)
            {
                await Task.Delay(warmup, _time, cancellationToken).ConfigureAwait(false);
            }

            while (true)
            {
                var next = await RunOnceAsync(cancellationToken).ConfigureAwait(false);
                var wait = Task.Delay(next, _time, cancellationToken);
                Interlocked.Increment(ref _waits);
                await wait.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One check and its consequences; returns how long to wait before the next one.</summary>
    internal async Task<TimeSpan> RunOnceAsync(CancellationToken cancellationToken)
    {
        CheckResult result;
        try
        {
            result = await _checker.CheckAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            result = CheckResult.Failure(ex.Message);
        }

        Interlocked.Exchange(ref _lastRunTicks, _time.GetUtcNow().UtcTicks);
        if (result.Up)
        {
            _lastFailure = null;
            _retries = 0;
            if (result.Weight is int w && w != Volatile.Read(ref _weight))
            {
                Volatile.Write(ref _weight, w);
                _onEvent(this, new CheckEvent(CheckEventKind.Weight, result));
            }

            if (!_isUp)
            {
                _isUp = true;
                _onEvent(this, new CheckEvent(CheckEventKind.Up, result));
            }

            return _timing.DelayLoop;
        }

        _lastFailure = result.Reason;
        if (!_isUp)
        {
            _onEvent(this, new CheckEvent(CheckEventKind.Failed, result));
            return _timing.DelayLoop;
        }

        if (_retries < _timing.Retry)
        {
            _retries++;
            _onEvent(this, new CheckEvent(CheckEventKind.Retrying, result, _retries));
            return _timing.DelayBeforeRetry;
        }

        _retries = 0;
        _isUp = false;
        _onEvent(this, new CheckEvent(CheckEventKind.Down, result));
        return _timing.DelayLoop;
    }
}

public enum CheckEventKind
{
    /// <summary>The checker went from down to up.</summary>
    Up,

    /// <summary>The checker went from up to down (retries exhausted).</summary>
    Down,

    /// <summary>A check failed while up; it will be retried.</summary>
    Retrying,

    /// <summary>A check failed while already down.</summary>
    Failed,

    /// <summary>misc_dynamic reported a new weight.</summary>
    Weight,
}

/// <summary>What a check run did, passed to the scheduler's owner.</summary>
public readonly record struct CheckEvent(CheckEventKind Kind, CheckResult Result, int Retry = 0);
