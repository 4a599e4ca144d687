using Microsoft.Extensions.Logging;

namespace Fulcrum.Vrrp;

/// <summary>VRRP log events with fixed ids (700..).</summary>
internal static partial class VrrpLog
{
    [LoggerMessage(EventId = 700, Level = LogLevel.Information,
        Message = "({Instance}) takeover: master-down served {Late:0.000} ms late; then VIPs added +{Vips:0.000} ms, advert +{Advert:0.000} ms, first GARP +{Garp:0.000} ms, {Rounds} GARP round(s) done +{Garps:0.000} ms")]
    public static partial void Takeover(ILogger logger, string instance, double late, double vips, double advert, double garp, int rounds, double garps);

    [LoggerMessage(EventId = 701, Level = LogLevel.Information, Message = "VRRP thread scheduling: {Policy}")]
    public static partial void Scheduling(ILogger logger, string policy);
}
