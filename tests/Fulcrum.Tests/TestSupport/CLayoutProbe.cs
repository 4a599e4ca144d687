using System.Diagnostics;
using System.Globalization;

namespace Fulcrum.Tests.TestSupport;

/// <summary>
/// Compiles a small C program against the system's own headers and runs it: each output line is
/// "NAME NUMBER" (a sizeof, an offsetof, a constant), so interop layouts are checked against what the C
/// compiler says rather than against numbers copied by hand.
/// </summary>
internal static class CLayoutProbe
{
    public static Dictionary<string, int> Run(string program, params string[] ccArgs)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, value) in RunLong(program, ccArgs))
            result[name] = checked((int)value);
        return result;
    }

    /// <summary>As <see cref="Run"/>, for values wider than 32 bits (mmap offsets).</summary>
    public static Dictionary<string, long> RunLong(string program, params string[] ccArgs)
    {
        string dir = Directory.CreateTempSubdirectory("fulcrum-layout-").FullName;
        try
        {
            string source = Path.Combine(dir, "layout.c");
            string exe = Path.Combine(dir, "layout");
            File.WriteAllText(source, program);
            Exec("cc", [.. ccArgs, "-o", exe, source]);
            var result = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (string line in Exec(exe, []).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] parts = line.Split(' ');
                result[parts[0]] = long.Parse(parts[1], CultureInfo.InvariantCulture);
            }

            return result;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Exec(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} failed ({p.ExitCode}): {stderr}");
        return stdout;
    }
}
