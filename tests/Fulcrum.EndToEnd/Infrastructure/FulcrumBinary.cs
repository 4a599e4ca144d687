namespace Fulcrum.EndToEnd.Infrastructure;

/// <summary>Finds the built `fulcrum` executable the tests run as the director daemon and as adm.</summary>
public static class FulcrumBinary
{
    public const string EnvironmentVariable = "FULCRUM_BIN";

    /// <summary>The repository root: the first directory above the test assembly holding Fulcrum.slnx.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fulcrum.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Fulcrum.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// $FULCRUM_BIN, else src/Fulcrum.Cli/bin/&lt;Configuration&gt;/net10.0/fulcrum in the same
    /// configuration (Debug/Release) as these tests were built; null when it is not there.
    /// </summary>
    public static string? Locate()
    {
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return File.Exists(fromEnv) ? Path.GetFullPath(fromEnv) : null;
        }

        var candidate = Path.Combine(RepoRoot(), "src", "Fulcrum.Cli", "bin", Configuration(), "net10.0", "fulcrum");
        return File.Exists(candidate) ? candidate : null;
    }

    /// <summary>Like <see cref="Locate"/>, but a missing binary fails the test with what to do.</summary>
    public static string Require() =>
        Locate() ?? throw new InvalidOperationException(
            $"the fulcrum CLI is not built: run `dotnet build Fulcrum.slnx -c {Configuration()}` or set {EnvironmentVariable}");

    /// <summary>The configuration of this test assembly, read from its output path (…/bin/Release/net10.0/).</summary>
    public static string Configuration()
    {
        var tfmDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        return tfmDir.Parent?.Name ?? "Debug";
    }
}
