using System.Net.Sockets;

namespace Fulcrum.Health;

/// <summary>The outcome of one check. <see cref="Weight"/> is set by MISC_CHECK with misc_dynamic.</summary>
public readonly record struct CheckResult(bool Up, string? Reason = null, int? Weight = null)
{
    public static CheckResult Success { get; } = new(true);

    public static CheckResult Failure(string reason) => new(false, reason);
}

/// <summary>One health check of one real server (a TCP_CHECK, HTTP_GET, ... block), run once per call.</summary>
public interface IHealthChecker
{
    /// <summary>keepalived's name for the checker kind, e.g. "TCP_CHECK".</summary>
    string Kind { get; }

    /// <summary>Runs the check once. Never throws for a failed check; throws only on cancellation.</summary>
    Task<CheckResult> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>What checkers need from the outside: the clock for timeouts and where sockets come from.</summary>
public sealed class CheckerEnvironment
{
    public static CheckerEnvironment Default { get; } = new();

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// Creates the checkers' sockets. The default creates them in the caller's network namespace; the
    /// lab's tests create them from a thread inside another one (a socket keeps its namespace).
    /// </summary>
    public Func<AddressFamily, SocketType, ProtocolType, Socket> SocketFactory { get; init; } =
        static (family, type, protocol) => new Socket(family, type, protocol);
}
