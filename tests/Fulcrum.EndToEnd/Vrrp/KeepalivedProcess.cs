using System.Diagnostics;
using System.Globalization;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>
/// Debian's keepalived (2.2.7) in a namespace: `ip netns exec NS keepalived -n -l -D -P -G -R -f CONF -p PID
/// -r VRRPPID -c CHECKERPID`. `ip netns exec` execs, so the process we start is keepalived's parent; its
/// VRRP child's PID comes from the -r file in our temp directory. -R: a killed child is not respawned.
/// Only these two PIDs are ever signalled.
/// </summary>
internal sealed class KeepalivedProcess : IDisposable
{
    private readonly Process _parent;
    private readonly string _directory;

    private KeepalivedProcess(Process parent, string ns, string directory)
    {
        _parent = parent;
        Namespace = ns;
        _directory = directory;
    }

    public string Namespace { get; }

    private string LogPath => Path.Combine(_directory, "log");

    private string VrrpPidPath => Path.Combine(_directory, "vrrp.pid");

    public static KeepalivedProcess Start(string ns, string config, string directory)
    {
        Directory.CreateDirectory(directory);
        string conf = Path.Combine(directory, "keepalived.conf");
        File.WriteAllText(conf, config);
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");

        // sh execs ip, which execs keepalived: the PID we hold is keepalived's. The log goes to a file
        // so no pipe can fill up and block it.
        psi.ArgumentList.Add(
            $"exec ip netns exec {ns} keepalived -n -l -D -P -G -R -f {conf} -p {directory}/keepalived.pid " +
            $"-r {directory}/vrrp.pid -c {directory}/checkers.pid > {directory}/log 2>&1");
        var p = Process.Start(psi)!;
        var k = new KeepalivedProcess(p, ns, directory);
        var deadline = Stopwatch.StartNew();
        while (k.VrrpPid() is null)
        {
            if (p.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                string log = k.ReadLog();
                k.Dispose();
                throw new InvalidOperationException($"keepalived did not start its VRRP child:\n{log}");
            }

            Thread.Sleep(20);
        }

        return k;
    }

    public string ReadLog() => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "";

    /// <summary>Simulates a crash: SIGKILL to the VRRP child (no priority-0 advert), then to the parent.</summary>
    public void Kill()
    {
        if (VrrpPid() is int child && IsChildOf(child, _parent.Id))
            Signal(child, "KILL");
        if (!_parent.HasExited)
            _parent.Kill();
        _parent.WaitForExit(5000);
    }

    /// <summary>Clean stop: SIGTERM to the parent, which stops the child (priority 0, VIPs removed).</summary>
    public void Terminate()
    {
        if (!_parent.HasExited)
            Signal(_parent.Id, "TERM");
        if (!_parent.WaitForExit(10000))
            Kill();
    }

    public void Dispose()
    {
        try
        {
            Kill();
        }
        catch (InvalidOperationException)
        {
        }

        _parent.Dispose();
    }

    private int? VrrpPid()
    {
        try
        {
            var text = File.ReadAllText(VrrpPidPath).Trim();
            return int.TryParse(text, CultureInfo.InvariantCulture, out int pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool IsChildOf(int pid, int parent)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[1] == parent.ToString(CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void Signal(int pid, string signal)
    {
        using var p = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        p.WaitForExit();
    }
}
