using Fulcrum.Config;

namespace Fulcrum.Health;

/// <summary>TCP_CHECK: up when a TCP connection completes within connect_timeout (check_tcp.c).</summary>
public sealed class TcpChecker : IHealthChecker
{
    private readonly TcpCheck _check;
    private readonly CheckerEnvironment _env;

    public TcpChecker(TcpCheck check, CheckerEnvironment? env = null)
    {
        ArgumentNullException.ThrowIfNull(check);
        _check = check;
        _env = env ?? CheckerEnvironment.Default;
    }

    public string Kind => "TCP_CHECK";

    public async Task<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var c = _check.Connection;
        using var deadline = CheckSockets.StartDeadline(_env, c.ConnectTimeout, cancellationToken);
        try
        {
            using var socket = await CheckSockets.ConnectTcpAsync(_env, c, deadline.Token).ConfigureAwait(false);
            return CheckResult.Success;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CheckResult.Failure("connect timeout");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return CheckResult.Failure("connect failed: " + CheckSockets.Describe(ex));
        }
    }
}
