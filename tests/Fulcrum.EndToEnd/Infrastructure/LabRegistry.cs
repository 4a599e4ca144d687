using System.Globalization;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Infrastructure;

/// <summary>
/// Every lab a test brings up is registered here and torn down at test host exit if the test did not
/// (ProcessExit also runs on SIGTERM, e.g. when `dotnet test` is stopped). Labs left by a test host
/// that died hard are torn down by the next run: each lab records its owner (PID and start time), and
/// only labs whose owner is gone are reaped, so concurrent runs never touch each other's labs.
/// </summary>
public static class LabRegistry
{
    public const string TestPrefix = "fl";
    private const string OwnerFile = "owner";
    private static readonly HashSet<LabCluster> Live = [];

    static LabRegistry()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DownAll();
        ReapOrphans();
    }

    /// <summary>
    /// Brings up a lab with a fresh "fl…" prefix (with <paramref name="ipv6"/>, IPv6 addresses too; with
    /// <paramref name="nativeXdpWire"/>, <see cref="LabCluster.NativeXdpWire"/> whatever FULCRUM_DRIVER says, else its default);
    /// <see cref="Down"/> or test host exit removes it.
    /// </summary>
    public static LabCluster Up(bool ipv6 = false, bool nativeXdpWire = false)
    {
        Root.Require();
        var prefix = LabCluster.WithRandomPrefix(TestPrefix).Prefix;
        // Only an explicit request overrides LabCluster's own default (on when FULCRUM_DRIVER is xdp).
        var lab = nativeXdpWire ? new LabCluster(prefix) { Ipv6 = ipv6, NativeXdpWire = true } : new LabCluster(prefix) { Ipv6 = ipv6 };
        lock (Live)
        {
            Live.Add(lab);
        }

        lab.Up();
        File.WriteAllText(Path.Combine(lab.StateDirectory, OwnerFile), OwnerStamp(Environment.ProcessId));
        return lab;
    }

    public static IReadOnlyList<int> Down(LabCluster lab)
    {
        try
        {
            return lab.Down();
        }
        finally
        {
            lock (Live)
            {
                Live.Remove(lab);
            }
        }
    }

    private static void DownAll()
    {
        LabCluster[] labs;
        lock (Live)
        {
            labs = [.. Live];
        }

        foreach (var lab in labs)
        {
            try
            {
                Down(lab);
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"tearing down lab {lab.Prefix} at exit: {e.Message}");
            }
        }
    }

    private static void ReapOrphans()
    {
        foreach (var prefix in LabCluster.ExistingPrefixes())
        {
            var owner = Path.Combine(LabCluster.StateRoot, prefix, OwnerFile);
            if (!prefix.StartsWith(TestPrefix, StringComparison.Ordinal) || !File.Exists(owner))
            {
                continue;
            }

            var f = File.ReadAllText(owner).Split(' ');
            if (f.Length == 2 && int.TryParse(f[0], CultureInfo.InvariantCulture, out int pid)
                && OwnerStamp(pid) != File.ReadAllText(owner))
            {
                try
                {
                    new LabCluster(prefix).Down();
                }
                catch (Exception e)
                {
                    Console.Error.WriteLine($"reaping orphaned lab {prefix}: {e.Message}");
                }
            }
        }
    }

    private static string OwnerStamp(int pid)
    {
        // "pid starttime": field 22 of /proc/PID/stat; empty when the process is gone.
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return string.Create(CultureInfo.InvariantCulture, $"{pid} {fields[19]}");
        }
        catch (IOException)
        {
            return "";
        }
    }
}
