using System.Diagnostics;
using System.Globalization;
using Fulcrum.RealServerSetup;

namespace Fulcrum.Lab;

/// <summary>
/// A process the lab started inside one of its namespaces. It is identified by PID and kernel start
/// time (/proc/PID/stat field 22), so a recycled PID is never signalled by mistake, also from another
/// process (`fulcrum lab down`) that only has the lab's state file.
/// </summary>
public sealed class LabProcess : IDisposable
{
    private readonly Process? _process;

    internal LabProcess(int pid, ulong startTime, string host, string name, string logPath, Process? process)
    {
        Pid = pid;
        StartTime = startTime;
        Host = host;
        Name = name;
        LogPath = logPath;
        _process = process;
    }

    public int Pid { get; }

    public string Host { get; }

    public string Name { get; }

    /// <summary>Where its stdout and stderr go (it outlives the process that started it).</summary>
    public string LogPath { get; }

    internal ulong StartTime { get; }

    public bool HasExited => !IsAlive(Pid, StartTime);

    /// <summary>The exit code, when this process started it and it has exited; else null.</summary>
    public int? ExitCode => _process is { HasExited: true } ? _process.ExitCode : null;

    public string ReadLog() => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "";

    public bool WaitForExit(TimeSpan timeout)
    {
        if (_process is not null)
        {
            return _process.WaitForExit(timeout);
        }

        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (IsAlive(Pid, StartTime))
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }

            Thread.Sleep(10);
        }

        return true;
    }

    /// <summary>Sends a signal by name ("TERM", "KILL", "HUP" ...) if the process still runs.</summary>
    public void Signal(string signal)
    {
        if (IsAlive(Pid, StartTime))
        {
            SendSignal(signal, [Pid]);
        }
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/> (default 3 s).</summary>
    public void Stop(TimeSpan? grace = null)
    {
        if (HasExited)
        {
            return;
        }

        Signal("TERM");
        if (!WaitForExit(grace ?? TimeSpan.FromSeconds(3)))
        {
            Signal("KILL");
            WaitForExit(TimeSpan.FromSeconds(3));
        }
    }

    public void Dispose()
    {
        Stop();
        _process?.Dispose();
    }

    public override string ToString() => $"{Name} (pid {Pid}) in {Host}";

    internal static void SendSignal(string signal, IReadOnlyList<int> pids)
    {
        if (pids.Count == 0)
        {
            return;
        }

        // The shell's kill: one process for any number of PIDs, no P/Invoke outside Linux/Interop.
        var args = new List<string> { "-c", "kill -s \"$0\" \"$@\" 2>/dev/null; exit 0", signal };
        foreach (var p in pids)
        {
            args.Add(p.ToString(CultureInfo.InvariantCulture));
        }

        ExternalCommand.Run("sh", args);
    }

    /// <summary>The kernel start time of a process, or null if there is no such process.</summary>
    internal static ulong? ReadStartTime(int pid, out bool zombie)
    {
        zombie = false;
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
        int close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        var fields = stat[(close + 2)..].Split(' ');
        zombie = fields[0] == "Z" || fields[0] == "X";

        // Field 22 overall is the 20th after "pid (comm)".
        return fields.Length > 19 && ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : null;
    }

    internal static bool IsAlive(int pid, ulong startTime) =>
        ReadStartTime(pid, out bool zombie) == startTime && !zombie;
}
