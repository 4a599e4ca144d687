namespace Fulcrum.Config;

/// <summary>A position in a configuration file: 1-based line and column.</summary>
public readonly record struct SourceLocation(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>A problem found in a configuration file, printed as <c>file:line:column: message</c>.</summary>
public sealed record ConfigError(string File, int Line, int Column, string Message)
{
    public SourceLocation Location => new(File, Line, Column);

    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

public enum ConfigSeverity
{
    /// <summary>The file is usable; something was skipped, defaulted or corrected (keepalived would go on too).</summary>
    Warning,

    /// <summary>The file is broken: a value is invalid or the structure is wrong. check-config fails; a reload keeps the old config.</summary>
    Error,
}

/// <summary>An error or a warning with its position.</summary>
public sealed record ConfigDiagnostic(ConfigSeverity Severity, ConfigError Error)
{
    public string File => Error.File;
    public int Line => Error.Line;
    public int Column => Error.Column;
    public string Message => Error.Message;
    public bool IsError => Severity == ConfigSeverity.Error;

    /// <summary>Errors print exactly as <see cref="ConfigError"/>; warnings carry a "warning: " prefix.</summary>
    public override string ToString() =>
        Severity == ConfigSeverity.Error ? Error.ToString() : $"{File}:{Line}:{Column}: warning: {Message}";
}

/// <summary>
/// The result of loading a keepalived.conf: the model (built as far as the file allows, with
/// invalid values left at keepalived's defaults) and every diagnostic, in file order.
/// Use <see cref="Configuration"/> only when <see cref="Success"/> is true.
/// </summary>
public sealed record ConfigLoadResult(KeepalivedConfiguration Configuration, IReadOnlyList<ConfigDiagnostic> Diagnostics)
{
    public bool Success
    {
        get
        {
            foreach (var d in Diagnostics)
            {
                if (d.IsError)
                    return false;
            }
            return true;
        }
    }

    public IReadOnlyList<ConfigError> Errors => Select(ConfigSeverity.Error);

    public IReadOnlyList<ConfigError> Warnings => Select(ConfigSeverity.Warning);

    private List<ConfigError> Select(ConfigSeverity severity)
    {
        var list = new List<ConfigError>();
        foreach (var d in Diagnostics)
        {
            if (d.Severity == severity)
                list.Add(d.Error);
        }
        return list;
    }
}

/// <summary>Collects diagnostics while reading; positions come from tokens.</summary>
internal sealed class DiagnosticBag
{
    private readonly List<ConfigDiagnostic> _items = [];

    public IReadOnlyList<ConfigDiagnostic> Items => _items;

    public void Error(SourceLocation at, string message) =>
        _items.Add(new ConfigDiagnostic(ConfigSeverity.Error, new ConfigError(at.File, at.Line, at.Column, message)));

    public void Warning(SourceLocation at, string message) =>
        _items.Add(new ConfigDiagnostic(ConfigSeverity.Warning, new ConfigError(at.File, at.Line, at.Column, message)));
}
