using System.Net;
using Fulcrum.Balancing;

namespace Fulcrum.Adm;

internal sealed partial class AdmSession
{
    /// <summary>The kernel half of process_options: returns 0, a positive errno, or -1 when already reported.</summary>
    private int Execute(CommandEntry ce)
    {
        IIpvsControl control = Control;
        switch (ce.Cmd)
        {
            case CmdFlush:
                _func = IpvsFunc.None;
                return control.Flush();
            case CmdAdd:
            case CmdEdit:
                {
                    _func = ce.Cmd == CmdAdd ? IpvsFunc.AddService : IpvsFunc.UpdateService;
                    ServiceSpec? spec = ToServiceSpec(ce);
                    if (spec is null)
                        return IpvsErrno.EINVAL;
                    return ce.Cmd == CmdAdd ? control.AddService(spec) : control.EditService(spec);
                }
            case CmdDel:
                _func = IpvsFunc.DelService;
                return control.DeleteService(ToKey(ce));
            case CmdZero:
                _func = IpvsFunc.ZeroService;
                // libipvs sends IPVS_CMD_ZERO without a service when fwmark, address and port are all zero.
                bool all = ce.Fwmark == 0 && ce.SvcPort == 0 && IsZeroAddress(ce.SvcAddr);
                return control.Zero(all ? null : ToKey(ce));
            case CmdAddDest:
            case CmdEditDest:
                {
                    _func = ce.Cmd == CmdAddDest ? IpvsFunc.AddDest : IpvsFunc.UpdateDest;
                    if (ce.TunType != 0)
                    {
                        // The control model has no tunnel type/port/flags; ipvsadm would pass them on.
                        Stderr.Append("fulcrum: tunnel type ").Append(TunNames[ce.TunType]).Append(" is not implemented yet\n");
                        return -1;
                    }
                    var dest = new DestSpec(ce.DestAddr, ce.DestPort, (ForwardingMethod)(ce.ConnFlags & 7), ce.Weight,
                        (uint)ce.UThreshold, (uint)ce.LThreshold);
                    return ce.Cmd == CmdAddDest ? control.AddDest(ToKey(ce), dest) : control.EditDest(ToKey(ce), dest);
                }
            case CmdDelDest:
                _func = IpvsFunc.DelDest;
                if (ce.DrainSeconds != 0)
                    return StartDrain(ce, control);
                return control.DeleteDest(ToKey(ce), ce.DestAddr, ce.DestPort);
            case CmdTimeout:
                _func = IpvsFunc.SetTimeout;
                return control.SetTimeouts(new IpvsTimeouts(ce.TcpTimeout, ce.TcpFinTimeout, ce.UdpTimeout));
            case CmdStartDaemon:
                _func = IpvsFunc.StartDaemon;
                return control.StartDaemon(new SyncDaemonConfig(ce.DaemonState, ce.McastIfn, ce.SyncId, ce.SyncMaxLen,
                    ce.McastGroup, ce.McastPort, ce.McastTtl));
            case CmdStopDaemon:
                _func = IpvsFunc.StopDaemon;
                return control.StopDaemon(ce.DaemonState);
            default:
                return 0;
        }
    }

    /// <summary>
    /// `-d ... --drain SECONDS` (our extension): the same errors as -d (Service not defined, No such
    /// destination), then weight 0 at once, as `-e -w 0` would quiesce it (ip_vs_wlc and friends skip
    /// weight-0 dests; existing connections keep their dest); the scheduler deletes it later. Returns at
    /// once, as ipvsadm does.
    /// </summary>
    private int StartDrain(CommandEntry ce, IIpvsControl control)
    {
        if (_drains is null)
        {
            Stderr.Append("fulcrum: --drain needs a running director\n");
            return -1;
        }

        ServiceKey key = ToKey(ce);
        ServiceInfo? service = control.GetService(key);
        if (service is null)
            return IpvsErrno.ESRCH;
        DestInfo? dest = null;
        foreach (DestInfo d in service.Dests)
        {
            if (d.Spec.Port == ce.DestPort && d.Spec.Address.Equals(ce.DestAddr))
            {
                dest = d;
                break;
            }
        }
        if (dest is null)
            return IpvsErrno.ENOENT;

        int err = control.EditDest(key, dest.Spec with { Weight = 0 });
        if (err != 0)
            return err;
        _drains.Drain(key, dest.Spec.Address, dest.Spec.Port, TimeSpan.FromSeconds(ce.DrainSeconds));
        return 0;
    }

    private static ServiceKey ToKey(CommandEntry ce)
    {
        if (ce.Fwmark != 0)
            return new ServiceKey(IpProtocol.Tcp, ce.SvcAf == AfInet6 ? IPAddress.IPv6Any : IPAddress.Any, 0, ce.Fwmark);
        return new ServiceKey((IpProtocol)ce.Protocol, ce.SvcAddr, ce.SvcPort);
    }

    /// <summary>
    /// The service as -A/-E send it, or null when the IPv4 persistence mask is not contiguous: the
    /// kernel would store any mask, but the control model carries a prefix length, so such a mask is
    /// refused as EINVAL (a documented difference from ipvsadm).
    /// </summary>
    private static ServiceSpec? ToServiceSpec(CommandEntry ce)
    {
        bool persistent = (ce.Flags & SvcFPersistent) != 0;
        int prefix;
        if (ce.SvcAf == AfInet6)
        {
            prefix = (int)ce.Netmask;
        }
        else
        {
            prefix = AdmAddress.MaskToPrefix(ce.Netmask);
            if (prefix < 0)
            {
                if (persistent)
                    return null;
                prefix = 32; // without persistence the mask is never used nor shown
            }
        }
        return new ServiceSpec(
            ToKey(ce),
            ce.Sched,
            (SchedulerFlags)(ce.Flags & SvcFSchedMask),
            persistent ? ce.Timeout : 0,
            prefix,
            (ce.Flags & SvcFOnePacket) != 0,
            ce.Pe.Length == 0 ? null : ce.Pe);
    }

    private static bool IsZeroAddress(IPAddress a) => a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any);
}
