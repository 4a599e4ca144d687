using System.CommandLine;

namespace Fulcrum.Cli;

/// <summary>Commands wired in as their folders land (realserver, lab).</summary>
internal static class ExtraCommands
{
    public static IEnumerable<Command> Create() => [];
}
