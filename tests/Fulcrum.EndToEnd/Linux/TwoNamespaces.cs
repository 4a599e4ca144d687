using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;

namespace Fulcrum.EndToEnd.Linux;

/// <summary>
/// Two fresh network namespaces fx-XXXXXX-a and fx-XXXXXX-b joined by a veth pair, each end named
/// <see cref="Interface"/>, with 198.51.100.1/24 in A and 198.51.100.2/24 in B. Deleting the namespaces
/// in Dispose removes the veth with them.
/// </summary>
internal sealed class TwoNamespaces : IDisposable
{
    public const string Interface = "fxveth";
    public static readonly IPAddress AddressA = IPAddress.Parse("198.51.100.1");
    public static readonly IPAddress AddressB = IPAddress.Parse("198.51.100.2");

    private bool _createdA;
    private bool _createdB;

    /// <param name="prefix">The namespaces' name prefix (each worktree's tests use their own).</param>
    public TwoNamespaces(string prefix = "fx")
    {
        RequireRoot();
        string suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        A = $"{prefix}-{suffix}-a";
        B = $"{prefix}-{suffix}-b";
        try
        {
            Run("ip", "netns", "add", A);
            _createdA = true;
            Run("ip", "netns", "add", B);
            _createdB = true;
            Run("ip", "-n", A, "link", "add", Interface, "type", "veth", "peer", "name", Interface, "netns", B);
            Run("ip", "-n", A, "addr", "add", "198.51.100.1/24", "dev", Interface);
            Run("ip", "-n", B, "addr", "add", "198.51.100.2/24", "dev", Interface);
            Run("ip", "-n", A, "link", "set", "lo", "up");
            Run("ip", "-n", B, "link", "set", "lo", "up");
            Run("ip", "-n", A, "link", "set", Interface, "up");
            Run("ip", "-n", B, "link", "set", Interface, "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string A { get; }

    public string B { get; }

    public static void RequireRoot()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("These end-to-end tests create network namespaces and must run as root.");
        }
    }

    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stderr}");
        }

        return stdout;
    }

    public void Dispose()
    {
        if (_createdA)
        {
            TryRun("ip", "netns", "del", A);
            _createdA = false;
        }

        if (_createdB)
        {
            TryRun("ip", "netns", "del", B);
            _createdB = false;
        }
    }

    private static void TryRun(string file, params string[] args)
    {
        try
        {
            Run(file, args);
        }
        catch (InvalidOperationException)
        {
        }
    }
}
