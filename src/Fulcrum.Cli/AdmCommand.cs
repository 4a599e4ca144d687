using Microsoft.Win32.SafeHandles;
using Fulcrum.Adm;
using Fulcrum.Balancing;
using Fulcrum.Director;
using Fulcrum.Linux;

namespace Fulcrum.Cli;

/// <summary>`fulcrum adm [--control SOCK] ARGS...`: ipvsadm's client side.</summary>
internal static class AdmCommand
{
    public static int Run(ReadOnlySpan<string> args)
    {
        string socket = ControlProtocol.DefaultSocketPath;
        int i = 0;
        if (args.Length > 0 && args[0].StartsWith("--control=", StringComparison.Ordinal))
        {
            socket = args[0]["--control=".Length..];
            i = 1;
        }
        else if (args.Length > 1 && args[0] == "--control")
        {
            socket = args[1];
            i = 2;
        }

        var rest = args[i..].ToArray();

        // Help, version and every parse error are answered here, without the daemon, as ipvsadm
        // answers them without the kernel.
        if (!Ipvsadm.NeedsDirector(rest))
        {
            return Print(Ipvsadm.Run(rest, TextReader.Null, NoDirector.Instance));
        }

        string stdin = IsRestore(rest) ? Console.In.ReadToEnd() : "";
        try
        {
            var response = ControlProtocol.Call(socket, new ControlProtocol.Request("adm", rest, stdin));
            return Print(new AdmResult(response.ExitCode, response.Stdout, response.Stderr));
        }
        catch (LinuxException ex)
        {
            // ipvsadm's own wording when IPVS is absent, plus where we looked; exit 2 as ipvsadm does.
            Console.Error.WriteLine($"Can't initialize ipvs: no fulcrum director at {socket} ({ex.Message})");
            Console.Error.WriteLine("Is `fulcrum run` running? (use --control SOCK for a daemon started with one)");
            return 2;
        }
    }

    /// <summary>
    /// Writes the bytes straight to fds 1 and 2: System.Console would first initialize the terminal
    /// (terminfo, signal handling), a visible share of a 10 ms process.
    /// </summary>
    public static int Print(AdmResult result)
    {
        Write(1, result.Stdout);
        Write(2, result.Stderr);
        return result.ExitCode;
    }

    private static void Write(int fd, string text)
    {
        if (text.Length == 0)
        {
            return;
        }

        using var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        stream.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }

    private static bool IsRestore(string[] args) =>
        args.Length > 0 && (args[0] == "-R" || args[0] == "--restore");

    /// <summary>Stands in for the director when the call never reaches it (help, version, parse errors).</summary>
    private sealed class NoDirector : IIpvsControl
    {
        public static readonly NoDirector Instance = new();

        public int ConnectionTableSize => 4096;

        public int AddService(ServiceSpec service) => IpvsErrno.ENOPROTOOPT;

        public int EditService(ServiceSpec service) => IpvsErrno.ENOPROTOOPT;

        public int DeleteService(ServiceKey key) => IpvsErrno.ENOPROTOOPT;

        public int Flush() => IpvsErrno.ENOPROTOOPT;

        public int AddDest(ServiceKey key, DestSpec dest) => IpvsErrno.ENOPROTOOPT;

        public int EditDest(ServiceKey key, DestSpec dest) => IpvsErrno.ENOPROTOOPT;

        public int DeleteDest(ServiceKey key, System.Net.IPAddress address, ushort port) => IpvsErrno.ENOPROTOOPT;

        public int Zero(ServiceKey? key) => IpvsErrno.ENOPROTOOPT;

        public int SetTimeouts(IpvsTimeouts timeouts) => IpvsErrno.ENOPROTOOPT;

        public IpvsTimeouts GetTimeouts() => default;

        public IReadOnlyList<ServiceInfo> GetServices() => [];

        public ServiceInfo? GetService(ServiceKey key) => null;

        public IReadOnlyList<ConnectionInfo> GetConnections() => [];
    }
}
