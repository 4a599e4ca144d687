using System.Net;
using System.Net.Sockets;
using Fulcrum.Config;

namespace Fulcrum.Health;

/// <summary>Connection set-up shared by the connection-based checkers (check_api.c socket_bind_connect).</summary>
internal static class CheckSockets
{
    /// <summary>
    /// A token that fires after <paramref name="timeout"/> on the environment's clock (so tests can
    /// drive it), or when the caller cancels. The caller tells them apart by its own token.
    /// </summary>
    public static Deadline StartDeadline(CheckerEnvironment env, TimeSpan timeout, CancellationToken cancellationToken) =>
        new(env.Time, timeout, cancellationToken);

    /// <summary>Creates a socket bound as bindto/bind_port say, for the connect address's family.</summary>
    public static Socket Create(CheckerEnvironment env, CheckConnection c, SocketType type, ProtocolType protocol)
    {
        var socket = env.SocketFactory(c.ConnectIp.AddressFamily, type, protocol);
        try
        {
            if (c.BindTo is not null || c.BindPort != 0)
            {
                var local = c.BindTo ?? (c.ConnectIp.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any);
                socket.Bind(new IPEndPoint(local, c.BindPort));
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects a TCP socket within connect_timeout; the caller owns the socket.</summary>
    public static async Task<Socket> ConnectTcpAsync(CheckerEnvironment env, CheckConnection c, CancellationToken token)
    {
        var socket = Create(env, c, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(new IPEndPoint(c.ConnectIp, c.ConnectPort), token).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static string Describe(Exception ex) => ex switch
    {
        SocketException se => se.SocketErrorCode.ToString(),
        _ => ex.Message,
    };
}

/// <summary>A linked cancellation source with a TimeProvider timer; disposing stops the timer first.</summary>
internal sealed class Deadline : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly ITimer? _timer;

    public Deadline(TimeProvider time, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout > TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            _timer = time.CreateTimer(CancelQuietly, _cts, timeout, Timeout.InfiniteTimeSpan);
        }
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>A timer callback that may race with Dispose: a disposed source needs no cancelling.</summary>
    public static void CancelQuietly(object? state)
    {
        try
        {
            ((CancellationTokenSource)state!).Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _cts.Dispose();
    }
}
