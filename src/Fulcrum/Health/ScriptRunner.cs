using System.Diagnostics;

namespace Fulcrum.Health;

/// <summary>
/// Runs keepalived-style script lines (misc_path, quorum_up/down, notify_up/down) through
/// `/bin/sh -c`, as keepalived's notify_exec and misc checker do, so quoting and arguments behave
/// the same way.
/// </summary>
internal static class ScriptRunner
{
    public const string Shell = "/bin/sh";

    /// <summary>
    /// Runs <paramref name="command"/> and returns its exit code, or null when it did not finish
    /// within <paramref name="timeout"/> (it is killed, with its children, as keepalived kills the
    /// process group).
    /// </summary>
    public static async Task<int?> RunAsync(string command, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(Shell)
        {
            UseShellExecute = false,
            RedirectStandardInput = false,
            RedirectStandardOutput = false,
            RedirectStandardError = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {Shell}");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var timer = time.CreateTimer(Deadline.CancelQuietly, deadline, timeout, Timeout.InfiniteTimeSpan);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return null;
        }
    }

    /// <summary>Starts a notify script and does not wait for it (keepalived's notify_exec).</summary>
    public static void Fire(string command, TimeSpan timeout, TimeProvider time, Action<Exception>? onError = null) =>
        _ = Task.Run(async () =>
        {
            try
            {
                await RunAsync(command, timeout, time, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                onError?.Invoke(ex);
            }
        });

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the timeout and the kill.
        }
    }
}
