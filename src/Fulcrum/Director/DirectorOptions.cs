namespace Fulcrum.Director;

/// <summary>What `fulcrum run` was told on its command line.</summary>
public sealed record DirectorOptions
{
    /// <summary>The interface the director receives virtual-service traffic on and sends it out of (DR: one L2 segment).</summary>
    public string Interface { get; init; } = "eth0";

    /// <summary>The Unix control socket for `fulcrum adm`; one per daemon when several run on one machine.</summary>
    public string ControlSocketPath { get; init; } = ControlProtocol.DefaultSocketPath;

    /// <summary>A keepalived.conf to load at start (issue 3 brings the full grammar).</summary>
    public string? ConfigFile { get; init; }

    /// <summary>The connection table's bound per worker; IPVS's own table grows without one.</summary>
    public int MaxConnections { get; init; } = 1 << 20;

    /// <summary>`--driver`: auto, tc, xdp, xdp-generic (kernel tier + C#) or afpacket (C# only); see Linux/Bpf/KernelDriver.</summary>
    public string Driver { get; init; } = "auto";
}
