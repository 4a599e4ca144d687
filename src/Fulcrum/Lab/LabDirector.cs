using System.Globalization;
using System.Net.Sockets;
using Fulcrum.Director;
using Fulcrum.RealServerSetup;

namespace Fulcrum.Lab;

/// <summary>
/// A Fulcrum director daemon running in one of the lab's hosts (`fulcrum run -i eth0` inside its
/// namespace), with its own control socket, driven with `fulcrum adm` exactly as an operator would.
/// </summary>
public sealed class LabDirector
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private LabDirector(LabCluster lab, string host, LabProcess process, string controlSocket)
    {
        Lab = lab;
        Host = host;
        Process = process;
        ControlSocket = controlSocket;
    }

    /// <summary>
    /// The `fulcrum` executable: FULCRUM_BIN if set, else this process when it is fulcrum itself,
    /// else the build output next to the repository's Fulcrum.slnx (tests run from bin/ folders).
    /// </summary>
    public static string FulcrumPath { get; } = LocateFulcrum();

    public LabCluster Lab { get; }

    public string Host { get; }

    public LabProcess Process { get; }

    public string ControlSocket { get; }

    /// <summary>Starts the daemon in <paramref name="host"/> and waits until its control socket answers.</summary>
    public static LabDirector Start(LabCluster lab, string host, params string[] extraArgs) =>
        Start(lab, host, extraArgs, StartTimeout, CancellationToken.None);

    /// <summary>
    /// The data-plane driver every lab director runs with unless its arguments name one: FULCRUM_DRIVER
    /// (auto, tc, xdp-generic, afpacket, ...), so the whole end-to-end suite and `fulcrum lab demo` can run
    /// on each driver (issue 6); null (fulcrum's own default, auto) when unset.
    /// </summary>
    public static string? DefaultDriver { get; } = Environment.GetEnvironmentVariable("FULCRUM_DRIVER") is { Length: > 0 } d ? d : null;

    /// <summary>
    /// Starts the daemon in <paramref name="host"/> and waits until its control socket answers, at most
    /// <paramref name="timeout"/>; a cancelled wait leaves the process to <see cref="LabCluster.Down()"/>.
    /// </summary>
    public static LabDirector Start(LabCluster lab, string host, IReadOnlyList<string> extraArgs, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lab);
        ArgumentNullException.ThrowIfNull(extraArgs);
        var socket = Path.Combine(lab.StateDirectory, host + ".sock");
        string[] driver = DefaultDriver is { } d && !extraArgs.Contains("--driver") ? ["--driver", d] : [];
        string[] argv = [FulcrumPath, "run", "-i", "eth0", "--control", socket, .. driver, .. extraArgs];
        var process = lab.StartProcess(host, argv);
        var director = new LabDirector(lab, host, process, socket);
        director.WaitReady(timeout, cancellationToken);
        return director;
    }

    /// <summary>The seed's director commands (the LVS-DR tutorial), on the lab's addresses.</summary>
    public void ApplySeed()
    {
        var vip = LabAddresses.Vip + ":80";
        Adm("-A", "-t", vip, "-s", "rr").EnsureSuccess("ipvsadm -A");
        foreach (var rs in LabAddresses.RealServers)
        {
            Adm("-a", "-t", vip, "-r", rs + ":80", "-g").EnsureSuccess("ipvsadm -a");
        }

        Lab.AddVip(Host);
    }

    /// <summary>Runs `fulcrum adm --control SOCK ARGS...` and returns what it printed.</summary>
    public CommandResult Adm(params string[] args) =>
        ExternalCommand.Run(FulcrumPath, ["adm", "--control", ControlSocket, .. args]);

    /// <summary>Runs `fulcrum adm` with <paramref name="stdin"/> (for -R).</summary>
    public CommandResult AdmWithInput(string stdin, params string[] args) =>
        ExternalCommand.Run(FulcrumPath, ["adm", "--control", ControlSocket, .. args], stdin);

    /// <summary>`fulcrum status` of this director.</summary>
    public CommandResult Status(bool json = false) =>
        ExternalCommand.Run(FulcrumPath, json ? ["status", "--control", ControlSocket, "--json"] : ["status", "--control", ControlSocket]);

    /// <summary>
    /// One request on the control socket, in this process (what `fulcrum adm`/`status` send): cheap enough
    /// to poll every few milliseconds. Throws <see cref="SocketException"/> when the daemon is not there.
    /// </summary>
    public ControlProtocol.Response Call(string verb, params string[] args) =>
        ControlProtocol.CallAsync(ControlSocket, new ControlProtocol.Request(verb, args, ""), CancellationToken.None)
            .GetAwaiter().GetResult();

    /// <summary>The state of VRRP instance <paramref name="instance"/> ("MASTER", "BACKUP", ...), or null if the daemon does not answer.</summary>
    public string? VrrpState(string instance = LabHaConfig.InstanceName)
    {
        if (Process.HasExited)
        {
            return null;
        }

        try
        {
            return ParseVrrpState(Call("status").Stdout, instance);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            // Not listening yet, or gone while answering (a killed daemon).
            return null;
        }
    }

    /// <summary>The real servers of VIP:80 with their weights (`adm -ln`), or null if the daemon does not answer.</summary>
    public IReadOnlyDictionary<string, int>? RealServerWeights()
    {
        if (Process.HasExited)
        {
            return null;
        }

        try
        {
            return ParseWeights(Call("adm", "-ln", "-t", LabAddresses.Vip + ":" + LabCluster.HttpPort).Stdout);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return null;
        }
    }

    /// <summary>The director's connection entries (`adm -lnc`) as client port → real server address.</summary>
    public IReadOnlyDictionary<int, string> ConnectionsByClientPort()
    {
        var map = new Dictionary<int, string>();
        foreach (var line in Call("adm", "-lnc").Stdout.Split('\n'))
        {
            // "TCP 14:59  ESTABLISHED 203.0.113.10:40000 198.51.100.100:80  198.51.100.2:80"
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 6 && f[0] == "TCP" && f[3].StartsWith(LabAddresses.Client + ":", StringComparison.Ordinal)
                && int.TryParse(f[3].AsSpan(f[3].LastIndexOf(':') + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port))
            {
                map[port] = f[5][..f[5].LastIndexOf(':')];
            }
        }

        return map;
    }

    /// <summary>The state word of an instance's line in `fulcrum status` ("  VI_1 eth0 vrid 51 v3 MASTER priority 150 ...").</summary>
    internal static string? ParseVrrpState(string status, string instance)
    {
        foreach (var line in status.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 6 && f[0] == instance && f[2] == "vrid")
            {
                return f[5];
            }
        }

        return null;
    }

    /// <summary>`ipvsadm -ln` real server lines ("  -> 198.51.100.2:80  Route  1  0  0") as address → weight.</summary>
    internal static IReadOnlyDictionary<string, int> ParseWeights(string list)
    {
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in list.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port"
                && int.TryParse(f[3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int weight))
            {
                map[f[1][..f[1].LastIndexOf(':')]] = weight;
            }
        }

        return map;
    }

    private void WaitReady(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Process.HasExited)
            {
                throw new InvalidOperationException($"fulcrum run in {Host} exited at start: {Process.ReadLog().Trim()}");
            }

            try
            {
                ControlProtocol.CallAsync(ControlSocket, new ControlProtocol.Request("status", [], ""), CancellationToken.None)
                    .GetAwaiter().GetResult();
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }

        throw new TimeoutException($"fulcrum run in {Host} did not open {ControlSocket} within {timeout.TotalSeconds} s: {Process.ReadLog().Trim()}");
    }

    private static string LocateFulcrum()
    {
        var env = Environment.GetEnvironmentVariable("FULCRUM_BIN");
        if (!string.IsNullOrEmpty(env))
        {
            return env;
        }

        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileName(self) == "fulcrum")
        {
            return self;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fulcrum.slnx")))
            {
                // The caller's own configuration first (tests in bin/Debug use the Debug CLI).
                string[] configs = AppContext.BaseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? ["Debug", "Release"] : ["Release", "Debug"];
                foreach (var config in configs)
                {
                    var candidate = Path.Combine(dir.FullName, "src", "Fulcrum.Cli", "bin", config, "net10.0", "fulcrum");
                    if (File.Exists(candidate))
                    {
                        return candidate;
                    }
                }
            }
        }

        return "fulcrum";
    }
}
