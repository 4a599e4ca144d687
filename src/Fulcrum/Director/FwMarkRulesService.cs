using System.Runtime.InteropServices;
using Fulcrum.Balancing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fulcrum.Director;

/// <summary>
/// Loads <c>fulcrum run --fwmark-rules FILE</c> into the table at start and again on SIGHUP (with
/// keepalived.conf): the mark rules that stand in for the operator's nftables <c>meta mark set</c>, which
/// the data plane cannot see (Balancing/README.md, "Firewall marks"). At start a broken file is fatal; on
/// reload it leaves the rules in force and says why (file:line:column).
/// </summary>
internal sealed partial class FwMarkRulesService : IHostedService, IDisposable
{
    private readonly DirectorOptions _options;
    private readonly IpvsTable _table;
    private readonly ILogger<FwMarkRulesService> _logger;
    private PosixSignalRegistration? _sighup;

    public FwMarkRulesService(DirectorOptions options, IpvsTable table, ILogger<FwMarkRulesService> logger)
    {
        _options = options;
        _table = table;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.FwMarkRulesFile is not { } path)
        {
            return Task.CompletedTask;
        }

        if (!Load(path))
        {
            throw new InvalidOperationException($"{path} has errors; not starting (see the log)");
        }

        _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            Load(path);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _sighup?.Dispose();

    private bool Load(string path)
    {
        var errors = new List<FwMarkRuleError>();
        IReadOnlyList<FwMarkRule> rules;
        try
        {
            rules = FwMarkRules.Load(path, errors);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogRulesError($"{path}: {ex.Message}");
            return false;
        }

        foreach (var e in errors)
        {
            LogRulesError(e.ToString());
        }

        if (errors.Count > 0)
        {
            return false;
        }

        _table.SetMarkRules(rules);
        LogRulesLoaded(rules.Count, path);
        return true;
    }

    [LoggerMessage(EventId = 310, Level = LogLevel.Error, Message = "{Diagnostic}")]
    private partial void LogRulesError(string diagnostic);

    [LoggerMessage(EventId = 311, Level = LogLevel.Information, Message = "{Count} fwmark rule(s) loaded from {Path}")]
    private partial void LogRulesLoaded(int count, string path);
}
