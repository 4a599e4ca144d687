using Fulcrum.Config;

namespace Fulcrum.Health;

/// <summary>Creates the checker for a configured check block.</summary>
public static class HealthCheckers
{
    public static IHealthChecker Create(HealthCheck check, CheckerEnvironment? env = null) => check switch
    {
        TcpCheck t => new TcpChecker(t, env),
        HttpCheck h => new HttpChecker(h, env),
        MiscCheck m => new MiscChecker(m, env),
        DnsCheck d => new DnsChecker(d, env),
        _ => throw new NotSupportedException($"no checker for {check.GetType().Name}"),
    };
}
