using Fulcrum.Lab;

namespace Fulcrum.EndToEnd.Infrastructure;

/// <summary>
/// One lab (unique "fl…" prefix) shared by the tests of a class; always torn down, on failure too.
/// </summary>
public sealed class LabFixture : IAsyncLifetime
{
    private LabCluster? _lab;

    /// <summary>Up with <see cref="LabCluster.NativeXdpWire"/> (for a director run with `--driver xdp`).</summary>
    public bool NativeXdpWire { get; init; }

    public LabCluster Lab => _lab ?? throw new InvalidOperationException("the lab is not up");

    public Task InitializeAsync()
    {
        _lab = LabRegistry.Up(nativeXdpWire: NativeXdpWire);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        if (_lab is not null)
        {
            LabRegistry.Down(_lab);
        }

        return Task.CompletedTask;
    }
}

/// <summary>As <see cref="LabFixture"/>, with IPv6 on every interface besides IPv4 (<see cref="LabCluster.Ipv6"/>).</summary>
public sealed class DualStackLabFixture : IAsyncLifetime
{
    private LabCluster? _lab;

    public LabCluster Lab => _lab ?? throw new InvalidOperationException("the lab is not up");

    public Task InitializeAsync()
    {
        _lab = LabRegistry.Up(ipv6: true);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        if (_lab is not null)
        {
            LabRegistry.Down(_lab);
        }

        return Task.CompletedTask;
    }
}
