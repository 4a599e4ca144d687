using Microsoft.Extensions.Logging;

namespace Fulcrum.Health;

public sealed partial class HealthMonitor
{
    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "real server {RealServer} of VS {VirtualServer} is {State}{Detail}")]
    private partial void LogRealServerState(string realServer, string virtualServer, string state, string detail);

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "{Check} of {RealServer} (VS {VirtualServer}) is {State}: {Reason}")]
    private partial void LogCheckerState(string check, string realServer, string virtualServer, string state, string reason);

    [LoggerMessage(EventId = 602, Level = LogLevel.Debug, Message = "{Check} of {RealServer} failed: {Reason} (retry {Retry} of {Retries})")]
    private partial void LogCheckRetry(string check, string realServer, string reason, int retry, int retries);

    [LoggerMessage(EventId = 603, Level = LogLevel.Debug, Message = "{Check} of {RealServer} still failing: {Reason}")]
    private partial void LogCheckFailed(string check, string realServer, string reason);

    [LoggerMessage(EventId = 604, Level = LogLevel.Information, Message = "weight of {RealServer} of VS {VirtualServer} changes from {Old} to {New} (misc_dynamic)")]
    private partial void LogWeight(string realServer, string virtualServer, int old, int @new);

    [LoggerMessage(EventId = 605, Level = LogLevel.Warning, Message = "VS {VirtualServer}: {Transition}, live weight {Weight} (quorum {Quorum}, hysteresis {Hysteresis})")]
    private partial void LogQuorum(string virtualServer, string transition, long weight, int quorum, int hysteresis);

    [LoggerMessage(EventId = 606, Level = LogLevel.Information, Message = "running script: {Script}")]
    private partial void LogScript(string script);

    [LoggerMessage(EventId = 607, Level = LogLevel.Warning, Message = "script '{Script}' failed: {Reason}")]
    private partial void LogScriptFailed(string script, string reason);

    [LoggerMessage(EventId = 608, Level = LogLevel.Warning, Message = "IPVS {Operation} of {Dest} in {Service} failed: errno {Errno}")]
    private partial void LogIpvsFailed(string operation, string dest, string service, int errno);

    [LoggerMessage(EventId = 609, Level = LogLevel.Information, Message = "draining {Dest} of {Service}: weight 0, removed when idle or after {Deadline}")]
    private partial void LogDraining(string dest, string service, TimeSpan deadline);

    [LoggerMessage(EventId = 610, Level = LogLevel.Information, Message = "drained {Dest} of {Service} and removed it: {Reason}")]
    private partial void LogDrained(string dest, string service, string reason);

    [LoggerMessage(EventId = 611, Level = LogLevel.Error, Message = "a checker of {RealServer} (VS {VirtualServer}) is ignored: {Reason}")]
    private partial void LogCheckerInvalid(string realServer, string virtualServer, string reason);

    [LoggerMessage(EventId = 612, Level = LogLevel.Information, Message = "{Check} of {RealServer} failed: {Reason}")]
    private partial void LogCheckFailure(string check, string realServer, string reason);
}
