using System.Diagnostics;
using System.Security.Cryptography;
using Fulcrum.Config;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Vrrp;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Fulcrum.EndToEnd.Vrrp;

/// <summary>
/// Two routers on one broadcast domain, the VRRP part of the lab in miniature: namespaces fvXXXXXX-a
/// (198.51.100.11/24) and fvXXXXXX-b (198.51.100.12/24), each with eth0 on a bridge in fvXXXXXX-sw.
/// Everything (namespaces, keepalived processes, temp files) is removed in Dispose, on failure too.
/// </summary>
internal sealed class VrrpTopology : IDisposable
{
    public const string Vip = "198.51.100.100";
    public static readonly IReadOnlyDictionary<string, string> Addresses = new Dictionary<string, string>
    {
        ["a"] = "198.51.100.11",
        ["b"] = "198.51.100.12",
    };

    private readonly List<string> _namespaces = [];
    private readonly List<KeepalivedProcess> _keepaliveds = [];
    private readonly List<VrrpService> _services = [];

    public VrrpTopology(ITestOutputHelper output)
    {
        Root.Require();
        Output = output;
        Prefix = "fv" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        TempDirectory = Directory.CreateTempSubdirectory(Prefix + "-").FullName;
        try
        {
            string sw = Namespace("sw");
            AddNamespace(sw);
            Run("ip", "-n", sw, "link", "add", "br0", "type", "bridge");
            Run("ip", "-n", sw, "link", "set", "br0", "up");
            foreach (var (host, address) in Addresses)
            {
                string ns = Namespace(host);
                AddNamespace(ns);
                Run("ip", "-n", sw, "link", "add", "p" + host, "type", "veth", "peer", "name", "eth0", "netns", ns);
                Run("ip", "-n", sw, "link", "set", "p" + host, "master", "br0", "up");
                Run("ip", "-n", ns, "addr", "add", address + "/24", "dev", "eth0");
                Run("ip", "-n", ns, "link", "set", "lo", "up");

                // No DAD: the link-local address (the IPv6 advert source) is usable the moment eth0 is up.
                Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0");
                Run("ip", "-n", ns, "link", "set", "eth0", "up");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Prefix { get; }

    public string TempDirectory { get; }

    public ITestOutputHelper Output { get; }

    /// <summary>Every line the Fulcrum services logged, for tests that assert on a logged event.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Log { get; } = new();

    public string Namespace(string host) => Prefix + "-" + host;

    /// <summary>A keepalived.conf with one IPv4 instance (VRID 51, VIP /32 on eth0), v2 with PASS auth or v3.</summary>
    public static string Config(int version, int priority, string advertInt, bool nopreempt = false, string? unicastFrom = null) =>
        $$"""
        global_defs {
            router_id fv_test
        }
        vrrp_instance VI_1 {
            state BACKUP
            interface eth0
            virtual_router_id 51
            priority {{priority}}
            advert_int {{advertInt}}
            version {{version}}
            {{(nopreempt ? "nopreempt" : "")}}
            {{(unicastFrom is null ? "" : $"unicast_src_ip {Addresses[unicastFrom]}\n    unicast_peer {{\n        {Addresses[unicastFrom == "a" ? "b" : "a"]}\n    }}")}}
            {{(version == 2 ? "authentication {\n        auth_type PASS\n        auth_pass fulcrum\n    }" : "")}}
            virtual_ipaddress {
                {{Vip}}/32
            }
        }
        """;

    /// <summary>Starts Fulcrum's VRRP for <paramref name="config"/> inside host's namespace.</summary>
    public async Task<VrrpService> StartFulcrumAsync(string host, string config)
    {
        var parsed = KeepalivedConfig.Parse(config, "fulcrum-" + host + ".conf");
        Assert.True(parsed.Success, string.Join("\n", parsed.Diagnostics));
        var service = new VrrpService(
            parsed.Configuration,
            TimeProvider.System,
            new OutputLogger<VrrpService>(Output, "fulcrum-" + host, Log),
            new VrrpServiceOptions { NetworkNamespace = Namespace(host) });
        _services.Add(service);
        await service.StartAsync(CancellationToken.None);
        return service;
    }

    public async Task StopFulcrumAsync(VrrpService service)
    {
        await service.StopAsync(CancellationToken.None);
        _services.Remove(service);
        service.Dispose();
    }

    public KeepalivedProcess StartKeepalived(string host, string config)
    {
        var k = KeepalivedProcess.Start(Namespace(host), config, Path.Combine(TempDirectory, $"keepalived-{host}-{_keepaliveds.Count}"));
        _keepaliveds.Add(k);
        return k;
    }

    /// <summary>The first instance's status, or null before the service has published one.</summary>
    public static VrrpInstanceStatus? First(VrrpService service) => service.Instances is [var first, ..] ? first : null;

    public bool HasVip(string host) =>
        Run("ip", "-n", Namespace(host), "-4", "-o", "addr", "show", "dev", "eth0").Contains(" " + Vip + "/", StringComparison.Ordinal);

    /// <summary>Unplugs (or plugs back) a host's port on the bridge.</summary>
    public void SetConnected(string host, bool connected) =>
        Run("ip", "-n", Namespace("sw"), "link", "set", "p" + host, connected ? "up" : "down");

    /// <summary>Polls <paramref name="condition"/> every 10 ms; returns the time it took, fails after <paramref name="timeout"/>.</summary>
    public static TimeSpan WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
                Assert.Fail($"timed out after {timeout.TotalSeconds:0.0} s waiting for: {what}");
            Thread.Sleep(10);
        }

        return sw.Elapsed;
    }

    /// <summary>Asserts <paramref name="condition"/> holds continuously for <paramref name="duration"/>.</summary>
    public static void Holds(Func<bool> condition, TimeSpan duration, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < duration)
        {
            Assert.True(condition(), $"stopped holding after {sw.Elapsed.TotalSeconds:0.00} s: {what}");
            Thread.Sleep(20);
        }
    }

    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stderr}");
        return stdout;
    }

    public void Dispose()
    {
        foreach (var s in _services)
        {
            try
            {
                s.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
                s.Dispose();
            }
            catch (Exception e)
            {
                Output.WriteLine($"stopping a VRRP service: {e.Message}");
            }
        }

        _services.Clear();
        foreach (var k in _keepaliveds)
        {
            Output.WriteLine($"--- keepalived in {k.Namespace} ---\n{k.ReadLog()}");
            k.Dispose();
        }

        _keepaliveds.Clear();
        for (int i = _namespaces.Count - 1; i >= 0; i--)
        {
            try
            {
                Run("ip", "netns", "del", _namespaces[i]);
            }
            catch (InvalidOperationException e)
            {
                Output.WriteLine(e.Message);
            }
        }

        _namespaces.Clear();
        try
        {
            Directory.Delete(TempDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void AddNamespace(string name)
    {
        Run("ip", "netns", "add", name);
        _namespaces.Add(name);
    }
}

/// <summary>An ILogger that writes to the test's output (and survives the test having ended).</summary>
internal sealed class OutputLogger<T>(ITestOutputHelper output, string name, System.Collections.Concurrent.ConcurrentQueue<string> lines) : ILogger<T>
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
            return;
        string line = $"{DateTime.UtcNow:HH:mm:ss.fff} {name} {logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}";
        lines.Enqueue(line);
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
        }
    }
}
