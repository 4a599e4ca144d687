using System.Net;
using Fulcrum.Balancing;
using Fulcrum.Config;

namespace Fulcrum.Health;

/// <summary>One checker of a real server, for `fulcrum status`.</summary>
public sealed record CheckerHealth(string Kind, bool IsUp, string? LastFailure, DateTimeOffset? LastRun);

/// <summary>
/// A real server's health, for `fulcrum status`. <see cref="Weight"/> is the effective weight (the
/// configured one, or misc_dynamic's); <see cref="Draining"/> when it is being drained or was
/// drained out by the operator.
/// </summary>
public sealed record RealServerHealth(
    VirtualServerId VirtualServer,
    IPAddress Address,
    ushort Port,
    bool IsUp,
    int Weight,
    bool Draining,
    DateTimeOffset Since,
    IReadOnlyList<CheckerHealth> Checkers);

/// <summary>A virtual server's quorum state: <see cref="LiveWeight"/> is the sum of live real servers' weights.</summary>
public sealed record VirtualServerHealth(
    VirtualServerId VirtualServer,
    IReadOnlyList<ServiceKey> Services,
    bool QuorumUp,
    long LiveWeight,
    bool SorryServerActive);

/// <summary>How a drain ended.</summary>
public enum DrainOutcome
{
    /// <summary>Its connections ended and it was removed.</summary>
    Drained,

    /// <summary>The deadline passed with connections left; it was removed anyway.</summary>
    DeadlineReached,

    /// <summary>No such service or real server.</summary>
    NotFound,
}

/// <summary>Settings of a <see cref="HealthMonitor"/>; the defaults suit the daemon.</summary>
public sealed class HealthMonitorOptions
{
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Sockets and clock for the checkers (their TimeProvider should be <see cref="Time"/>).</summary>
    public CheckerEnvironment? Checkers { get; init; }

    /// <summary>Builds a checker for a check block; tests replace it. Default: <see cref="HealthCheckers.Create"/>.</summary>
    public Func<HealthCheck, IHealthChecker>? CheckerFactory { get; init; }

    /// <summary>Spreads first checks over warmup.</summary>
    public Random? Random { get; init; }

    /// <summary>How long notify and quorum scripts may run before they are killed.</summary>
    public TimeSpan ScriptTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a drain looks at the real server's connection counts.</summary>
    public TimeSpan DrainPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a real server that a new configuration no longer names may keep its connections
    /// (weight 0 meanwhile) before it is removed.
    /// </summary>
    public TimeSpan RemovedServerDrain { get; init; } = TimeSpan.FromSeconds(60);
}
