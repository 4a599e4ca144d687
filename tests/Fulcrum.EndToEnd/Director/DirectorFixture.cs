using System.Globalization;
using Fulcrum.EndToEnd.Infrastructure;
using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Director;

/// <summary>
/// A lab with Fulcrum running in lb1, configured with the seed's commands; torn down after the class. The
/// director runs two data-plane workers on every machine, so every test that uses it covers the fanout.
/// </summary>
public class DirectorFixture : IAsyncLifetime
{
    private readonly LabFixture _lab = new();
    private LabDirector? _director;

    public LabCluster Lab => _lab.Lab;

    public LabDirector Director => _director ?? throw new InvalidOperationException("the director is not running");

    public string VipUrl { get; } = $"http://{LabAddresses.Vip}/";

    /// <summary>The data-plane workers the director runs.</summary>
    public const int Workers = 2;

    /// <summary>More `fulcrum run` options, for a fixture that needs a particular data path.</summary>
    protected virtual string[] ExtraArgs => [];

    public async Task InitializeAsync()
    {
        await _lab.InitializeAsync();
        _director = LabDirector.Start(Lab, "lb1", ["--workers", Workers.ToString(CultureInfo.InvariantCulture), .. ExtraArgs]);
        _director.ApplySeed();
    }

    /// <summary>Replaces the running director (after a test killed it).</summary>
    public LabDirector Restart()
    {
        _director = LabDirector.Start(Lab, "lb1", ["--workers", Workers.ToString(CultureInfo.InvariantCulture), .. ExtraArgs]);
        return _director;
    }

    /// <summary>Back to the seed's configuration: one rr service over rs1..rs3, weight 1 each.</summary>
    public void ResetToSeed()
    {
        Director.Adm("-C").EnsureSuccess("ipvsadm -C");
        var vip = LabAddresses.Vip + ":80";
        Director.Adm("-A", "-t", vip, "-s", "rr").EnsureSuccess("ipvsadm -A");
        foreach (var rs in LabAddresses.RealServers)
        {
            Director.Adm("-a", "-t", vip, "-r", rs + ":80", "-g").EnsureSuccess("ipvsadm -a");
        }
    }

    public Task DisposeAsync() => _lab.DisposeAsync();
}

/// <summary>
/// The director with the C# tier alone (`--driver afpacket`): for tests that count what the workers
/// themselves forward, which the kernel tier would take over after a flow's first packet.
/// </summary>
public sealed class CSharpTierDirectorFixture : DirectorFixture
{
    protected override string[] ExtraArgs => ["--driver", "afpacket"];
}
