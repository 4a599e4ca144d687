using Fulcrum.Config;

namespace Fulcrum.Health;

/// <summary>
/// MISC_CHECK (check_misc.c): runs misc_path via /bin/sh -c; exit 0 is up. With misc_dynamic an exit
/// status of 2..255 is up too and sets the weight to status - 2 (so 0..253); 1 and anything else is
/// down. A script still running after misc_timeout (default: the delay_loop) is killed and counts
/// as a failure.
/// </summary>
public sealed class MiscChecker : IHealthChecker
{
    private readonly MiscCheck _check;
    private readonly CheckerEnvironment _env;

    public MiscChecker(MiscCheck check, CheckerEnvironment? env = null)
    {
        ArgumentNullException.ThrowIfNull(check);
        _check = check;
        _env = env ?? CheckerEnvironment.Default;
    }

    public string Kind => "MISC_CHECK";

    public async Task<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var timeout = _check.Timeout ?? _check.Timing.DelayLoop;
        int? status;
        try
        {
            status = await ScriptRunner.RunAsync(_check.Path, timeout, _env.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return CheckResult.Failure("cannot run script: " + ex.Message);
        }

        if (status is null)
        {
            return CheckResult.Failure("timed out");
        }

        if (status == 0)
        {
            return CheckResult.Success;
        }

        if (_check.Dynamic && status is >= 2 and <= 255)
        {
            return new CheckResult(true, null, status.Value - 2);
        }

        return CheckResult.Failure($"exited with status {status}");
    }
}
