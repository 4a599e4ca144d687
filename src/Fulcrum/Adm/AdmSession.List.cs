using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Fulcrum.Balancing;

namespace Fulcrum.Adm;

// ipvsadm.c's listing half: list_all, list_service, print_title, print_service_entry,
// print_largenum, list_conn/print_conn, list_timeout, with their printf formats kept field for field.
internal sealed partial class AdmSession
{
    private const string IpvsVersion = "1.2.1"; // IP_VS_VERSION_CODE 0x010201, what the kernel reports

    private void ListAll(uint format)
    {
        StringBuilder o = Stdout;
        if ((format & FmtRule) == 0)
            o.Append("IP Virtual Server version ").Append(IpvsVersion).Append(" (size=").Append(Num(Control.ConnectionTableSize)).Append(")\n");

        _func = IpvsFunc.GetServices;
        IReadOnlyList<ServiceInfo> list = Control.GetServices();
        var services = new ServiceInfo[list.Count];
        for (int i = 0; i < services.Length; i++)
            services[i] = list[i];
        if ((format & FmtNoSort) == 0)
            GlibcMergeSort(services, CompareServices);

        PrintTitle(format);
        foreach (ServiceInfo se in services)
            PrintServiceEntry(se, format);
    }

    private void ListService(CommandEntry ce, uint format)
    {
        _func = IpvsFunc.GetService;
        ServiceInfo? se = Control.GetService(ToKey(ce));
        if (se is null)
        {
            Stderr.Append(AdmText.StrError(_func, IpvsErrno.ESRCH)).Append('\n');
            throw new AdmExitException(1);
        }
        PrintTitle(format);
        PrintServiceEntry(se, format);
    }

    private void ListTimeout()
    {
        IpvsTimeouts t = Control.GetTimeouts();
        Stdout.Append("Timeout (tcp tcpfin udp): ").Append(Num(t.Tcp)).Append(' ').Append(Num(t.TcpFin)).Append(' ').Append(Num(t.Udp)).Append('\n');
    }

    /// <summary>
    /// list_daemon (ipvsadm.c): one line per running daemon, MASTER first, with the settings the kernel
    /// reports (its effective maxlen, group, port and ttl); nothing when none runs.
    /// </summary>
    private void ListDaemon()
    {
        foreach (SyncDaemonConfig d in Control.GetDaemons())
        {
            StringBuilder o = Stdout;
            o.Append(d.State == SyncDaemonState.Master ? "master" : "backup").Append(" sync daemon (mcast=").Append(d.Interface)
             .Append(", syncid=").Append(Num(d.SyncId));
            if (d.MaxLength != 0)
                o.Append(", maxlen=").Append(Num(d.MaxLength));
            if (d.Group is not null)
                o.Append(", group=").Append(d.Group);
            if (d.Port != 0)
                o.Append(", port=").Append(Num(d.Port));
            if (d.Ttl != 0)
                o.Append(", ttl=").Append(Num(d.Ttl));
            o.Append(")\n");
        }
    }

    private void PrintTitle(uint format)
    {
        StringBuilder o = Stdout;
        if ((format & FmtStats) != 0)
        {
            Left(o, "Prot LocalAddress:Port", 33);
            o.Append("    Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n");
        }
        else if ((format & FmtRate) != 0)
        {
            Left(o, "Prot LocalAddress:Port", 33);
            o.Append("      CPS    InPPS   OutPPS    InBPS   OutBPS\n  -> RemoteAddress:Port\n");
        }
        else if ((format & FmtThresholds) != 0)
        {
            Left(o, "Prot LocalAddress:Port", 33);
            o.Append(" Uthreshold Lthreshold ActiveConn InActConn \n  -> RemoteAddress:Port\n");
        }
        else if ((format & FmtPersistentConn) != 0)
        {
            Left(o, "Prot LocalAddress:Port", 33);
            o.Append(" Weight    PersistConn ActiveConn InActConn \n  -> RemoteAddress:Port\n");
        }
        else if ((format & FmtTunInfo) != 0)
        {
            o.Append("Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n");
        }
        else if ((format & FmtRule) == 0)
        {
            o.Append("Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
        }
    }

    private void PrintServiceEntry(ServiceInfo se, uint format)
    {
        StringBuilder o = Stdout;
        ServiceSpec spec = se.Spec;
        ServiceKey key = spec.Key;
        bool v6 = key.Address.AddressFamily == AddressFamily.InterNetworkV6;
        bool rule = (format & FmtRule) != 0;
        ushort protocol = (ushort)key.Protocol;

        string svcName;
        if (key.FwMark != 0)
        {
            // 1.31 prints the mark with %d: marks above 2^31-1 come out negative (fixed upstream after 1.31).
            string mark = Num(unchecked((int)key.FwMark));
            svcName = rule ? (v6 ? $"-f {mark} -6" : $"-f {mark}") : (v6 ? $"FWM  {mark} IPv6" : $"FWM  {mark}");
        }
        else
        {
            string vname = AddrPortToAnyName(key.Address, key.Port, protocol, format);
            if (rule)
            {
                string stype = protocol switch
                {
                    (ushort)IpProtocol.Tcp => "-t",
                    (ushort)IpProtocol.Udp => "-u",
                    (ushort)IpProtocol.Sctp => "--sctp-service",
                    _ => "--xxx-service",
                };
                svcName = stype + " " + vname;
            }
            else
            {
                string stype = protocol switch
                {
                    (ushort)IpProtocol.Tcp => "TCP",
                    (ushort)IpProtocol.Udp => "UDP",
                    (ushort)IpProtocol.Sctp => "SCTP",
                    _ => "?",
                };
                svcName = stype.PadRight(4) + " " + vname;
                if (!v6 && svcName.Length > 33)
                    svcName = svcName[..33];
            }
        }

        uint schedFlags = (uint)spec.Flags & SvcFSchedMask;
        bool persistent = spec.PersistenceTimeout != 0;
        string pe = spec.PersistenceEngine ?? "";

        if (rule)
        {
            o.Append("-A ").Append(svcName).Append(" -s ").Append(spec.Scheduler);
            if (persistent)
            {
                o.Append(" -p ").Append(Num(spec.PersistenceTimeout));
                AppendMask(o, " -M ", v6, spec.NetmaskPrefix);
            }
            if (pe.Length > 0)
                o.Append(" --pe ").Append(pe);
            if (spec.OnePacket)
                o.Append(" -o");
            if (schedFlags != 0)
            {
                o.Append(" -b ");
                AppendSchedFlags(o, spec.Scheduler, schedFlags);
            }
        }
        else if ((format & FmtStats) != 0)
        {
            Left(o, svcName, 33);
            LargeNum(o, se.Stats.Conns, format);
            LargeNum(o, se.Stats.InPackets, format);
            LargeNum(o, se.Stats.OutPackets, format);
            LargeNum(o, se.Stats.InBytes, format);
            LargeNum(o, se.Stats.OutBytes, format);
        }
        else if ((format & FmtRate) != 0)
        {
            Left(o, svcName, 33);
            LargeNum(o, se.Rates.Cps, format);
            LargeNum(o, se.Rates.InPps, format);
            LargeNum(o, se.Rates.OutPps, format);
            LargeNum(o, se.Rates.InBps, format);
            LargeNum(o, se.Rates.OutBps, format);
        }
        else
        {
            o.Append(svcName).Append(' ').Append(spec.Scheduler);
            if (schedFlags != 0)
            {
                o.Append(" (");
                AppendSchedFlags(o, spec.Scheduler, schedFlags);
                o.Append(')');
            }
            if (persistent)
            {
                o.Append(" persistent ").Append(Num(spec.PersistenceTimeout));
                AppendMask(o, " mask ", v6, spec.NetmaskPrefix);
                if (pe.Length > 0)
                    o.Append(" pe ").Append(pe);
            }
            if (spec.OnePacket)
                o.Append(" ops");
        }
        o.Append('\n');

        _func = IpvsFunc.GetDests;
        var dests = new DestInfo[se.Dests.Count];
        for (int i = 0; i < dests.Length; i++)
            dests[i] = se.Dests[i];
        if ((format & FmtNoSort) == 0)
            GlibcMergeSort(dests, CompareDests);

        foreach (DestInfo e in dests)
        {
            DestSpec d = e.Spec;
            string dname = AddrPortToAnyName(d.Address, d.Port, protocol, format);
            if (!rule && d.Address.AddressFamily != AddressFamily.InterNetworkV6 && dname.Length > 28)
                dname = dname[..28];

            if (rule)
            {
                o.Append("-a ").Append(svcName).Append(" -r ").Append(dname).Append(' ').Append(FwdSwitch(d.Method))
                    .Append(" -w ").Append(Num(d.Weight));
                // Only ipip exists in the control model; print_tunnel_rule always names it.
                if (d.Method == ForwardingMethod.Tunnel)
                    o.Append(" --tun-type ipip");
                o.Append('\n');
            }
            else if ((format & FmtStats) != 0)
            {
                o.Append("  -> ");
                Left(o, dname, 28);
                LargeNum(o, e.Stats.Conns, format);
                LargeNum(o, e.Stats.InPackets, format);
                LargeNum(o, e.Stats.OutPackets, format);
                LargeNum(o, e.Stats.InBytes, format);
                LargeNum(o, e.Stats.OutBytes, format);
                o.Append('\n');
            }
            else if ((format & FmtRate) != 0)
            {
                // Quirk kept: the dest's CPS and packet rates are plain %8llu, never abbreviated.
                o.Append("  -> ");
                Left(o, dname, 28);
                o.Append(' ');
                Right(o, Num(e.Rates.Cps), 8);
                o.Append(' ');
                Right(o, Num(e.Rates.InPps), 8);
                o.Append(' ');
                Right(o, Num(e.Rates.OutPps), 8);
                LargeNum(o, e.Rates.InBps, format);
                LargeNum(o, e.Rates.OutBps, format);
                o.Append('\n');
            }
            else if ((format & FmtThresholds) != 0)
            {
                o.Append("  -> ");
                Left(o, dname, 28);
                o.Append(' ');
                Left(o, Num(d.UpperThreshold), 10);
                o.Append(' ');
                Left(o, Num(d.LowerThreshold), 10);
                o.Append(' ');
                Left(o, Num(e.ActiveConns), 10);
                o.Append(' ');
                Left(o, Num(e.InactiveConns), 10);
                o.Append('\n');
            }
            else if ((format & FmtPersistentConn) != 0)
            {
                o.Append("  -> ");
                Left(o, dname, 28);
                o.Append(' ');
                Left(o, Num(unchecked((uint)d.Weight)), 9);
                o.Append(' ');
                Left(o, Num(e.PersistentConns), 11);
                o.Append(' ');
                Left(o, Num(e.ActiveConns), 10);
                o.Append(' ');
                Left(o, Num(e.InactiveConns), 10);
                o.Append('\n');
            }
            else
            {
                o.Append("  -> ");
                Left(o, dname, 28);
                o.Append(' ');
                Left(o, FwdName(d.Method), 7);
                o.Append(' ');
                if ((format & FmtTunInfo) != 0)
                {
                    Left(o, d.Method == ForwardingMethod.Tunnel ? "ipip" : "n/a", 13);
                    o.Append(' ');
                }
                Left(o, Num(d.Weight), 6);
                o.Append(' ');
                Left(o, Num(e.ActiveConns), 10);
                o.Append(' ');
                Left(o, Num(e.InactiveConns), 10);
                o.Append('\n');
            }
        }
    }

    private void ListConn(uint format)
    {
        StringBuilder o = Stdout;
        bool pconn = (format & FmtPersistentConn) != 0;
        o.Append("IPVS connection entries\n");
        o.Append("pro expire ");
        Left(o, "state", 11);
        o.Append(' ');
        Left(o, "source", 18);
        o.Append(' ');
        Left(o, "virtual", 18);
        o.Append(' ');
        if (pconn)
        {
            Left(o, "destination", 18);
            o.Append(' ');
            Left(o, "pe name", 16);
            o.Append(" pe_data\n");
        }
        else
        {
            o.Append("destination\n");
        }

        foreach (ConnectionInfo c in Control.GetConnections())
        {
            ushort proto = (ushort)c.Protocol;
            string protocol = c.Protocol switch
            {
                IpProtocol.Tcp => "TCP",
                IpProtocol.Udp => "UDP",
                IpProtocol.Sctp => "SCTP",
                _ => "IP",
            };
            string cname = AddrPortToAnyName(c.Client, c.ClientPort, proto, format);
            string vname = AddrPortToAnyName(c.VirtualAddress, c.VirtualPort, proto, format);
            string dname = AddrPortToAnyName(c.Dest, c.DestPort, proto, format);
            string expire = (c.ExpiresSeconds / 60).ToString("00", CultureInfo.InvariantCulture) + ":"
                + (c.ExpiresSeconds % 60).ToString("00", CultureInfo.InvariantCulture);

            // The proc file is read back with sscanf("%s ..."): the pe columns exist (n == 11) only
            // when the kernel printed both a pe name and pe data, and each is one word.
            string peName = FirstWord(c.PersistenceEngine);
            string peData = FirstWord(c.PersistenceData);
            Left(o, protocol, 3);
            o.Append(' ');
            Left(o, expire, 6);
            o.Append(' ');
            Left(o, FirstWord(c.State), 11);
            o.Append(' ');
            Left(o, cname, 18);
            o.Append(' ');
            Left(o, vname, 18);
            o.Append(' ');
            if (pconn && peName.Length > 0 && peData.Length > 0)
            {
                Left(o, dname, 16);
                o.Append(' ');
                Left(o, peName, 18);
                o.Append(' ').Append(peData);
            }
            else
            {
                o.Append(dname);
            }
            o.Append('\n');
        }
    }

    /// <summary>addrport_to_anyname: "addr:port" or "[addr]:port", names from the files unless -n; snprintf(buf, 60).</summary>
    private string AddrPortToAnyName(IPAddress addr, ushort port, ushort protocol, uint format)
    {
        bool v4 = addr.AddressFamily == AddressFamily.InterNetwork;
        string host, service;
        if ((format & FmtNumeric) != 0)
        {
            host = NtoP(addr);
            service = Num(port);
        }
        else
        {
            host = Names.AddressToHost(addr) ?? NtoP(addr);
            service = Names.PortToService(port, ProtoLower(protocol)) ?? Num(port);
        }
        string s = v4 ? host + ":" + service : "[" + host + "]:" + service;
        return s.Length > 59 ? s[..59] : s;
    }

    private static string NtoP(IPAddress a) =>
        a.AddressFamily == AddressFamily.InterNetworkV6 && a.ScopeId != 0 ? new IPAddress(a.GetAddressBytes()).ToString() : a.ToString();

    private static void AppendMask(StringBuilder o, string label, bool v6, int prefix)
    {
        if (!v6 && prefix != 32)
            o.Append(label).Append(AdmAddress.Dotted(AdmAddress.PrefixToMask(prefix)));
        if (v6 && prefix != 128)
            o.Append(label).Append(Num(prefix));
    }

    /// <summary>print_sched_flags: names depend on the scheduler, and unnamed bits print nothing.</summary>
    private static void AppendSchedFlags(StringBuilder o, string sched, uint flags)
    {
        var names = new List<string>(3);
        if (sched == "sh" || sched == "mh")
        {
            if ((flags & SvcFSched1) != 0)
                names.Add(sched + "-fallback");
            if ((flags & SvcFSched2) != 0)
                names.Add(sched + "-port");
        }
        else
        {
            if ((flags & SvcFSched1) != 0)
                names.Add("flag-1");
            if ((flags & SvcFSched2) != 0)
                names.Add("flag-2");
            if ((flags & SvcFSched3) != 0)
                names.Add("flag-3");
        }
        o.AppendJoin(',', names);
    }

    /// <summary>print_largenum: 9 columns, or K/M/G/T in powers of 1000 (truncated); --exact widens instead.</summary>
    internal static void LargeNum(StringBuilder o, ulong i, uint format)
    {
        if ((format & FmtExact) != 0)
        {
            string s = Num(i);
            Right(o, s, s.Length <= 8 ? 9 : s.Length + 1);
            return;
        }
        if (i < 100_000_000UL)
        {
            Right(o, Num(i), 9);
        }
        else if (i < 1_000_000_000UL)
        {
            Right(o, Num(i / 1000), 8);
            o.Append('K');
        }
        else if (i < 100_000_000_000UL)
        {
            Right(o, Num(i / 1_000_000), 8);
            o.Append('M');
        }
        else if (i < 100_000_000_000_000UL)
        {
            Right(o, Num(i / 1_000_000_000UL), 8);
            o.Append('G');
        }
        else
        {
            Right(o, Num(i / 1_000_000_000_000UL), 8);
            o.Append('T');
        }
    }

    private static string FwdName(ForwardingMethod m) => m switch
    {
        ForwardingMethod.Masquerade => "Masq",
        ForwardingMethod.LocalNode => "Local",
        ForwardingMethod.Tunnel => "Tunnel",
        ForwardingMethod.DirectRoute => "Route",
        _ => "(null)",
    };

    // fwd_switch: a local-node dest saves as -g (it becomes DR when restored).
    private static string FwdSwitch(ForwardingMethod m) => m switch
    {
        ForwardingMethod.Masquerade => "-m",
        ForwardingMethod.Tunnel => "-i",
        _ => "-g",
    };

    private static string FirstWord(string? s)
    {
        if (string.IsNullOrEmpty(s))
            return "";
        int i = 0;
        while (i < s.Length && AdmAddress.IsCSpace(s[i]))
            i++;
        int start = i;
        while (i < s.Length && !AdmAddress.IsCSpace(s[i]))
            i++;
        return s[start..i];
    }

    /// <summary>
    /// ipvs_cmp_services (libipvs.c), including its int-wrapped u32 subtractions: IPv4 addresses
    /// 2^31 apart compare reversed, and so do fwmarks, so a mark of 2^31 or more sorts before the
    /// address services (the reference says address services always come first).
    /// </summary>
    internal static int CompareServices(ServiceInfo a, ServiceInfo b)
    {
        ServiceKey ka = a.Spec.Key, kb = b.Spec.Key;
        int r = unchecked((int)(ka.FwMark - kb.FwMark));
        if (r != 0)
            return r;
        int afA = ka.Address.AddressFamily == AddressFamily.InterNetworkV6 ? AfInet6 : AfInet;
        int afB = kb.Address.AddressFamily == AddressFamily.InterNetworkV6 ? AfInet6 : AfInet;
        r = afA - afB;
        if (r != 0)
            return r;
        r = (int)ka.Protocol - (int)kb.Protocol;
        if (r != 0)
            return r;
        r = CompareAddresses(afA, ka.Address, kb.Address);
        if (r != 0)
            return r;
        return ka.Port - kb.Port;
    }

    /// <summary>ipvs_cmp_dests: the first dest's family decides how many words are compared.</summary>
    internal static int CompareDests(DestInfo a, DestInfo b)
    {
        int af = a.Spec.Address.AddressFamily == AddressFamily.InterNetworkV6 ? AfInet6 : AfInet;
        int r = CompareAddresses(af, a.Spec.Address, b.Spec.Address);
        if (r != 0)
            return r;
        return a.Spec.Port - b.Spec.Port;
    }

    private static int CompareAddresses(int af, IPAddress a, IPAddress b)
    {
        if (af != AfInet6)
            return unchecked((int)(AdmAddress.Word(a, 0) - AdmAddress.Word(b, 0)));
        int r = 0;
        for (int i = 0; r == 0 && i < 4; i++)
            r = unchecked((int)(AdmAddress.Word(a, i) - AdmAddress.Word(b, i)));
        return r;
    }

    /// <summary>
    /// glibc qsort's merge sort (msort_with_tmp): the comparators above are not transitive, so the
    /// order ipvsadm shows depends on the algorithm; this is the one glibc uses for small arrays.
    /// </summary>
    internal static void GlibcMergeSort<T>(T[] items, Comparison<T> compare)
    {
        if (items.Length < 2)
            return;
        var tmp = new T[items.Length];
        MergeSort(items, tmp, 0, items.Length, compare);
    }

    private static void MergeSort<T>(T[] b, T[] tmp, int lo, int n, Comparison<T> compare)
    {
        if (n <= 1)
            return;
        int n1 = n / 2, n2 = n - n1;
        MergeSort(b, tmp, lo, n1, compare);
        MergeSort(b, tmp, lo + n1, n2, compare);
        int i = lo, j = lo + n1, end1 = lo + n1, end2 = lo + n, k = 0;
        while (i < end1 && j < end2)
            tmp[k++] = compare(b[i], b[j]) <= 0 ? b[i++] : b[j++];
        while (i < end1)
            tmp[k++] = b[i++];
        Array.Copy(tmp, 0, b, lo, k);
    }

    private static void Left(StringBuilder o, string s, int width)
    {
        o.Append(s);
        if (s.Length < width)
            o.Append(' ', width - s.Length);
    }

    private static void Right(StringBuilder o, string s, int width)
    {
        if (s.Length < width)
            o.Append(' ', width - s.Length);
        o.Append(s);
    }

    private static string Num(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Num(ulong v) => v.ToString(CultureInfo.InvariantCulture);
}
