using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Fulcrum.RealServerSetup;

/// <summary>What a finished external command left: its exit code and everything it printed.</summary>
public readonly record struct CommandResult(int ExitCode, string StdOut, string StdErr)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Throws with the command's own error text unless it exited 0.</summary>
    public CommandResult EnsureSuccess(string what)
    {
        if (ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} failed (exit {ExitCode}): {StdErr.Trim()}{(StdErr.Length == 0 ? StdOut.Trim() : "")}");
        }

        return this;
    }
}

/// <summary>
/// Runs control-plane tools (iproute2, sysctl, kill) once per change. Shelling out is deliberate here:
/// these run a handful of times per setup, never per packet, and iproute2 is the reference for what
/// the kernel accepts, so a P/Invoke rtnetlink path would buy nothing but code.
/// </summary>
internal static class ExternalCommand
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static CommandResult Run(string file, IReadOnlyList<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        }
        catch (Win32Exception e)
        {
            return new CommandResult(127, "", $"{file}: {e.Message}");
        }

        using (p)
        {
            // Plain threads, not ReadToEndAsync: callers run several commands in parallel from blocked
            // threads, and pool-based reads would then wait for the thread pool to grow (seconds).
            string stdout = "", stderr = "";
            var outReader = new Thread(() => stdout = p.StandardOutput.ReadToEnd()) { IsBackground = true };
            var errReader = new Thread(() => stderr = p.StandardError.ReadToEnd()) { IsBackground = true };
            outReader.Start();
            errReader.Start();
            if (stdin is not null)
            {
                p.StandardInput.Write(stdin);
                p.StandardInput.Close();
            }

            var limit = timeout ?? DefaultTimeout;
            bool exited = p.WaitForExit(limit);
            if (!exited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
            }

            // A grandchild that inherited the pipes may keep them open: don't wait for it forever.
            outReader.Join(TimeSpan.FromSeconds(5));
            errReader.Join(TimeSpan.FromSeconds(5));
            return exited
                ? new CommandResult(p.ExitCode, stdout, stderr)
                : new CommandResult(124, stdout, stderr + $"{file}: timed out after {limit.TotalSeconds} s");
        }
    }

    public static string Describe(string file, IReadOnlyList<string> args)
    {
        var sb = new StringBuilder(file);
        foreach (var a in args)
        {
            sb.Append(' ').Append(a);
        }

        return sb.ToString();
    }
}
