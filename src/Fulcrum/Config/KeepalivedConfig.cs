namespace Fulcrum.Config;

/// <summary>
/// Reads keepalived 2.x configuration files (keepalived.conf and its includes) into
/// <see cref="KeepalivedConfiguration"/>. Never throws on bad input: syntax errors, invalid
/// values, unsupported keywords and IO failures all come back as diagnostics with file:line:column.
/// </summary>
public static class KeepalivedConfig
{
    /// <summary>Reads the file at <paramref name="path"/>; includes resolve from its directory.</summary>
    public static ConfigLoadResult Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            var bag = new DiagnosticBag();
            bag.Error(new SourceLocation(path, 1, 1), $"cannot read configuration file: {ex.Message}");
            return new ConfigLoadResult(KeepalivedConfiguration.Empty, bag.Items);
        }
        return Parse(text, path);
    }

    /// <summary>
    /// Parses <paramref name="text"/> as if it were the file <paramref name="fileName"/> (used in
    /// positions, and as the base for relative includes).
    /// </summary>
    public static ConfigLoadResult Parse(string text, string fileName)
    {
        var bag = new DiagnosticBag();
        var tokens = ConfigLexer.Tokenize(text, fileName, bag);
        var tree = ConfigTreeParser.Parse(tokens, bag);
        var config = KeepalivedBinder.Bind(tree, bag);
        return new ConfigLoadResult(config, Sorted(bag.Items));
    }

    // Diagnostics come from three passes (lexer, tree, binder); report them in file order,
    // keeping the first-seen order of files so that includes read like the operator wrote them.
    private static List<ConfigDiagnostic> Sorted(IReadOnlyList<ConfigDiagnostic> items)
    {
        var fileOrder = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var d in items)
            fileOrder.TryAdd(d.File, fileOrder.Count);
        var list = new List<ConfigDiagnostic>(items);
        var index = new Dictionary<ConfigDiagnostic, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < list.Count; i++)
            index[list[i]] = i;
        list.Sort((a, b) =>
        {
            int c = fileOrder[a.File].CompareTo(fileOrder[b.File]);
            if (c == 0)
                c = a.Line.CompareTo(b.Line);
            if (c == 0)
                c = a.Column.CompareTo(b.Column);
            return c != 0 ? c : index[a].CompareTo(index[b]);
        });
        return list;
    }
}
