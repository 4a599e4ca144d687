using System.Text;
using Fulcrum.Balancing;

namespace Fulcrum.Adm;

/// <summary>What ipvsadm would have written and returned.</summary>
public sealed record AdmResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// `fulcrum adm`: ipvsadm 1.31's command line, byte for byte (stdout, stderr, exit code), over
/// <see cref="IIpvsControl"/> instead of the kernel's generic netlink family.
/// </summary>
public static class Ipvsadm
{
    /// <summary>Runs one ipvsadm invocation; <paramref name="args"/> excludes the program name.</summary>
    public static AdmResult Run(IReadOnlyList<string> args, TextReader stdin, IIpvsControl control, string programName = "ipvsadm") =>
        Run(args, stdin, control, programName, AdmNames.FromSystemFiles, drains: null);

    /// <summary>
    /// As <see cref="Run(IReadOnlyList{string}, TextReader, IIpvsControl, string)"/>, with the director's
    /// <paramref name="drains"/> that finish `-d ... --drain SECONDS` (our extension) in the background.
    /// </summary>
    public static AdmResult Run(IReadOnlyList<string> args, TextReader stdin, IIpvsControl control, IDrainScheduler? drains, string programName = "ipvsadm") =>
        Run(args, stdin, control, programName, AdmNames.FromSystemFiles, drains);

    internal static AdmResult Run(IReadOnlyList<string> args, TextReader stdin, IIpvsControl control, string programName, Func<AdmNames> names,
        IDrainScheduler? drains = null)
    {
        var session = new AdmSession(stdin, control, programName, names, drains);
        int code = session.Main(args);
        return new AdmResult(code, session.Stdout.ToString(), session.Stderr.ToString());
    }

    /// <summary>
    /// False when ipvsadm would answer without the kernel: -h, -v, and any parse or validation
    /// error (those exit before the first IPVS call), so a client can answer them locally.
    /// </summary>
    public static bool NeedsDirector(IReadOnlyList<string> args) => NeedsDirector(args, AdmNames.FromSystemFiles);

    internal static bool NeedsDirector(IReadOnlyList<string> args, Func<AdmNames> names)
    {
        if (args.Count == 0)
            return true;
        var session = new AdmSession(TextReader.Null, null, "ipvsadm", names);
        return session.Validates(args);
    }
}

/// <summary>ipvsadm's exit(): unwinds to <see cref="AdmSession.Main"/> with the status.</summary>
internal sealed class AdmExitException : Exception
{
    public AdmExitException()
    {
    }

    public AdmExitException(string message) : base(message)
    {
    }

    public AdmExitException(string message, Exception inner) : base(message, inner)
    {
    }

    public AdmExitException(int status) => Status = status;

    public int Status { get; }
}

/// <summary>One ipvsadm process: ipvsadm.c's main/process_options/parse_options, translated.</summary>
internal sealed partial class AdmSession
{
    private const int CmdNone = 0, CmdAdd = 1, CmdEdit = 2, CmdDel = 3, CmdFlush = 4, CmdList = 5, CmdAddDest = 6,
        CmdDelDest = 7, CmdEditDest = 8, CmdTimeout = 9, CmdStartDaemon = 10, CmdStopDaemon = 11, CmdRestore = 12,
        CmdSave = 13, CmdZero = 14;

    private const int OptcNumeric = 0, OptcConnection = 1, OptcService = 2, OptcScheduler = 3, OptcPersistent = 4,
        OptcNetmask = 5, OptcServer = 6, OptcForward = 7, OptcWeight = 8, OptcUThreshold = 9, OptcLThreshold = 10,
        OptcMcast = 11, OptcTimeout = 12, OptcDaemon = 13, OptcStats = 14, OptcRate = 15, OptcThresholds = 16,
        OptcPersistentConn = 17, OptcNoSort = 18, OptcSyncId = 19, OptcExact = 20, OptcOnePacket = 21,
        OptcPersistenceEngine = 22, OptcSchedFlags = 23, OptcMcastGroup = 24, OptcMcastPort = 25, OptcMcastTtl = 26,
        OptcSyncMaxLen = 27, OptcTunInfo = 28, OptcTunType = 29, OptcTunPort = 30, OptcTunNoCsum = 31,
        OptcTunCsum = 32, OptcTunRemCsum = 33, OptcDrain = 34, NumberOfOpt = 35;

    private const ulong OptService = 1UL << OptcService, OptConnection = 1UL << OptcConnection,
        OptTimeout = 1UL << OptcTimeout, OptDaemon = 1UL << OptcDaemon, OptStats = 1UL << OptcStats,
        OptRate = 1UL << OptcRate, OptThresholds = 1UL << OptcThresholds, OptPersistentConn = 1UL << OptcPersistentConn,
        OptTunAny = (1UL << OptcTunType) | (1UL << OptcTunPort) | (1UL << OptcTunNoCsum) | (1UL << OptcTunCsum) | (1UL << OptcTunRemCsum);

    internal const uint FmtNumeric = 0x1, FmtRule = 0x2, FmtStats = 0x4, FmtRate = 0x8, FmtThresholds = 0x10,
        FmtPersistentConn = 0x20, FmtNoSort = 0x40, FmtExact = 0x80, FmtTunInfo = 0x100;

    private const int TagSet = 128, TagStartDaemon = 129, TagStopDaemon = 130, TagMcastInterface = 131, TagTimeout = 132,
        TagDaemon = 133, TagStats = 134, TagRate = 135, TagThresholds = 136, TagPersistentConn = 137, TagSort = 138,
        TagNoSort = 139, TagPersistenceEngine = 140, TagSctpService = 141, TagMcastGroup = 142, TagMcastPort = 143,
        TagMcastTtl = 144, TagSyncMaxLen = 145, TagTunInfo = 146, TagTunType = 147, TagTunPort = 148,
        TagTunNoCsum = 149, TagTunCsum = 150, TagTunRemCsum = 151, TagDrain = 152;

    private const uint SvcFPersistent = 0x1, SvcFOnePacket = 0x4, SvcFSched1 = 0x8, SvcFSched2 = 0x10,
        SvcFSched3 = 0x20, SvcFSchedMask = SvcFSched1 | SvcFSched2 | SvcFSched3;

    private const int ConnFMasq = 0, ConnFTunnel = 2, ConnFDroute = 3;
    private const int AfInet = 2, AfInet6 = 10;
    private const int MaxTimeout = 86400 * 31;
    private const int MaxDrainSeconds = 86400;
    private const uint PersistentTimeoutDefault = 6 * 60; // IPVS_SVC_PERSISTENT_TIMEOUT (libipvs.h); not the man page's 300
    private const int ServiceAddr = 1, ServicePort = 2;

    private static readonly string[] CmdNames =
    [
        "add-service", "edit-service", "delete-service", "flush", "list", "add-server", "delete-server",
        "edit-server", "set", "start-daemon", "stop-daemon", "restore", "save", "zero",
    ];

    private static readonly string[] OptNames =
    [
        "numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
        "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon",
        "stats", "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe", "sched-flags",
        "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type", "tun-port", "tun-nocsum",
        "tun-csum", "tun-remcsum", "drain",
    ];

    // commands_v_options (ipvsadm.c): '+' compulsory, 'x' illegal, '1' exclusive, ' ' optional. The last
    // column, drain, is our extension (not in ipvsadm): optional with delete-server, illegal elsewhere.
    private static readonly string[] CommandsVOptions =
    [
        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxxx", // add-service
        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxxx", // edit-service
        "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-service
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // flush
        " 11xxxxxxxxx11       xxxxxxx xxxxxx", // list
        "xx+xxx+    xxxxxxxxxxxxxxxxxx     x", // add-server
        "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx ", // delete-server
        "xx+xxx+    xxxxxxxxxxxxxxxxxx     x", // edit-server
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // set
        "xxxxxxxxxxx xxxxxxx xxxx    xxxxxxx", // start-daemon
        "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxxx", // stop-daemon
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // restore
        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // save
        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // zero
    ];

    private static readonly string[] TunNames = ["ipip", "gue", "gre"];
    private static readonly int[] TunOpts = [OptcTunPort, OptcTunNoCsum, OptcTunCsum, OptcTunRemCsum];

    // tunnel_types_v_options: columns tun-port, tun-nocsum, tun-csum, tun-remcsum. '1' means at most
    // one of them (none is fine: flags default to nocsum), not "exactly one" as the reference says.
    private static readonly string[] TunnelTypesVOptions = ["xxxx", "+111", "x11x"];

    private static readonly PoptOption[] OptionsTable =
    [
        new("add-service", 'A', false, false, 'A'),
        new("edit-service", 'E', false, false, 'E'),
        new("delete-service", 'D', false, false, 'D'),
        new("clear", 'C', false, false, 'C'),
        new("list", 'L', false, false, 'L'),
        new("list", 'l', false, false, 'l'),
        new("zero", 'Z', false, false, 'Z'),
        new("add-server", 'a', false, false, 'a'),
        new("edit-server", 'e', false, false, 'e'),
        new("delete-server", 'd', false, false, 'd'),
        new("set", '\0', false, false, TagSet),
        new("help", 'h', false, false, 'h'),
        new("version", 'v', false, false, 'v'),
        new("restore", 'R', false, false, 'R'),
        new("save", 'S', false, false, 'S'),
        new("start-daemon", '\0', true, false, TagStartDaemon),
        new("stop-daemon", '\0', true, false, TagStopDaemon),
        new("tcp-service", 't', true, false, 't'),
        new("udp-service", 'u', true, false, 'u'),
        new("sctp-service", '\0', true, false, TagSctpService),
        new("fwmark-service", 'f', true, false, 'f'),
        new("scheduler", 's', true, false, 's'),
        new("persistent", 'p', true, true, 'p'),
        new("netmask", 'M', true, false, 'M'),
        new("real-server", 'r', true, false, 'r'),
        new("masquerading", 'm', false, false, 'm'),
        new("ipip", 'i', false, false, 'i'),
        new("gatewaying", 'g', false, false, 'g'),
        new("weight", 'w', true, false, 'w'),
        new("u-threshold", 'x', true, false, 'x'),
        new("l-threshold", 'y', true, false, 'y'),
        new("numeric", 'n', false, false, 'n'),
        new("connection", 'c', false, false, 'c'),
        new("mcast-interface", '\0', true, false, TagMcastInterface),
        new("syncid", '\0', true, false, 'I'),
        new("timeout", '\0', false, false, TagTimeout),
        new("daemon", '\0', false, false, TagDaemon),
        new("stats", '\0', false, false, TagStats),
        new("rate", '\0', false, false, TagRate),
        new("thresholds", '\0', false, false, TagThresholds),
        new("persistent-conn", '\0', false, false, TagPersistentConn),
        new("nosort", '\0', false, false, TagNoSort),
        new("sort", '\0', false, false, TagSort),
        new("exact", 'X', false, false, 'X'),
        new("ipv6", '6', false, false, '6'),
        new("ops", 'o', false, false, 'o'),
        new("pe", '\0', true, false, TagPersistenceEngine),
        new("sched-flags", 'b', true, false, 'b'),
        new("mcast-group", '\0', true, false, TagMcastGroup),
        new("mcast-port", '\0', true, false, TagMcastPort),
        new("mcast-ttl", '\0', true, false, TagMcastTtl),
        new("sync-maxlen", '\0', true, false, TagSyncMaxLen),
        new("tun-info", '\0', false, false, TagTunInfo),
        new("tun-type", '\0', true, false, TagTunType),
        new("tun-port", '\0', true, false, TagTunPort),
        new("tun-nocsum", '\0', false, false, TagTunNoCsum),
        new("tun-csum", '\0', false, false, TagTunCsum),
        new("tun-remcsum", '\0', false, false, TagTunRemCsum),
        new("drain", '\0', true, false, TagDrain),
    ];

    private readonly TextReader _stdin;
    private readonly IIpvsControl? _control;
    private readonly string _program;
    private readonly Func<AdmNames> _namesLoader;
    private readonly IDrainScheduler? _drains;
    private AdmNames? _names;
    private IpvsFunc _func;

    public AdmSession(TextReader stdin, IIpvsControl? control, string program, Func<AdmNames> names, IDrainScheduler? drains = null)
    {
        _drains = drains;
        _stdin = stdin;
        _control = control;
        _program = program;
        _namesLoader = names;
    }

    public StringBuilder Stdout { get; } = new();

    public StringBuilder Stderr { get; } = new();

    private AdmNames Names => _names ??= _namesLoader();

    private IIpvsControl Control => _control ?? throw new InvalidOperationException("no director to ask");

    /// <summary>ipvsadm's main(): returns the process exit status.</summary>
    public int Main(IReadOnlyList<string> args)
    {
        try
        {
            if (args.Count == 0)
            {
                ListAll(0);
                return 0;
            }
            return ProcessOptions(Argv(args), readingStdin: false) & 0xff;
        }
        catch (AdmExitException e)
        {
            return e.Status & 0xff;
        }
    }

    /// <summary>True when parsing and every local check pass, i.e. the kernel would be asked next.</summary>
    public bool Validates(IReadOnlyList<string> args)
    {
        try
        {
            return Prepare(Argv(args), out _, out _, out _) == 0;
        }
        catch (AdmExitException)
        {
            return false;
        }
    }

    private string[] Argv(IReadOnlyList<string> args)
    {
        var argv = new string[args.Count + 1];
        argv[0] = _program;
        for (int i = 0; i < args.Count; i++)
            argv[i + 1] = args[i];
        return argv;
    }

    private int ProcessOptions(string[] argv, bool readingStdin)
    {
        if (Prepare(argv, out CommandEntry ce, out ulong options, out uint format) != 0)
            return -1;

        switch (ce.Cmd)
        {
            case CmdList:
                if ((options & OptConnection) != 0)
                    ListConn(format);
                else if ((options & OptService) != 0)
                    ListService(ce, format);
                else if ((options & OptTimeout) != 0)
                    ListTimeout();
                else if ((options & OptDaemon) != 0)
                    ListDaemon();
                else
                    ListAll(format);
                return 0;
            case CmdRestore:
                return RestoreTable(argv, readingStdin);
            case CmdSave:
                ListAll(format | FmtRule);
                return 0;
        }

        int err = Execute(ce);
        if (err == 0)
            return 0;
        if (err > 0)
            Stderr.Append(AdmText.StrError(_func, err)).Append('\n');
        return -1;
    }

    /// <summary>parse_options plus process_options' checks: 0 when a command is ready, -1 after a popt error.</summary>
    private int Prepare(string[] argv, out CommandEntry ce, out ulong options, out uint format)
    {
        ce = new CommandEntry();
        options = 0;
        format = 0;
        if (ParseOptions(argv, ce, ref options, ref format) != 0)
            return -1;

        GenericOptCheck(ce.Cmd, options);

        if (ce.Cmd is CmdAdd or CmdEdit)
        {
            if (ce.Fwmark == 0 && ce.SvcPort == 0 && (ce.Flags & SvcFPersistent) == 0)
                Fail(2, "Zero port specified for non-persistent service");
            if ((ce.Flags & SvcFOnePacket) != 0 && ce.Fwmark == 0 && ce.Protocol != (ushort)IpProtocol.Udp)
                Fail(2, "One-Packet Scheduling is only for UDP virtual services");
            if (ce.Sched.Length == 0)
                ce.Sched = "wlc";
        }

        if (ce.Cmd == CmdStartDaemon && ce.McastIfn.Length == 0)
            ce.McastIfn = "eth0";

        int fwdMethod = ce.ConnFlags & 7;
        if (ce.Cmd is CmdAddDest or CmdEditDest)
        {
            // The kernel forwards DR/TUN packets unchanged, so the real server port must be the
            // service port; ipvsadm forces it (fwmark services have no port).
            if (ce.Fwmark == 0 && (fwdMethod == ConnFTunnel || fwdMethod == ConnFDroute))
                ce.DestPort = ce.SvcPort;
            if (ce.DestAf != ce.SvcAf && fwdMethod != ConnFTunnel)
                Fail(2, "Different address family is allowed only for tunneling servers");
            if ((options & OptTunAny) != 0 && fwdMethod != ConnFTunnel)
                Fail(2, "Tunnel options conflict with forward method");
            TunnelOptCheck(ce.TunType, options);
        }

        if (ce.Cmd == CmdList)
        {
            if (((options & (OptConnection | OptTimeout | OptDaemon)) != 0 && (options & (OptStats | OptRate | OptThresholds)) != 0)
                || ((options & (OptTimeout | OptDaemon)) != 0 && (options & OptPersistentConn) != 0))
                Fail(2, "options conflicts in the list command");
        }

        return 0;
    }

    private int ParseOptions(string[] argv, CommandEntry ce, ref ulong options, ref uint format)
    {
        var popt = new PoptParser(argv, OptionsTable);
        string? schedFlagsArg = null;

        int c = popt.GetNextOpt();
        if (c < 0)
            TryHelpExit(argv[0], -1);

        switch (c)
        {
            case 'A': ce.Cmd = CmdAdd; break;
            case 'E': ce.Cmd = CmdEdit; break;
            case 'D': ce.Cmd = CmdDel; break;
            case 'a': ce.Cmd = CmdAddDest; break;
            case 'e': ce.Cmd = CmdEditDest; break;
            case 'd': ce.Cmd = CmdDelDest; break;
            case 'C': ce.Cmd = CmdFlush; break;
            case 'L':
            case 'l': ce.Cmd = CmdList; break;
            case 'Z': ce.Cmd = CmdZero; break;
            case TagSet: ce.Cmd = CmdTimeout; break;
            case 'R': ce.Cmd = CmdRestore; break;
            case 'S': ce.Cmd = CmdSave; break;
            case TagStartDaemon:
                ce.Cmd = CmdStartDaemon;
                if (popt.OptArg is not ("master" or "backup"))
                    Fail(2, "illegal start-daemon parameter specified");
                ce.DaemonState = popt.OptArg == "master" ? SyncDaemonState.Master : SyncDaemonState.Backup;
                break;
            case TagStopDaemon:
                ce.Cmd = CmdStopDaemon;
                if (popt.OptArg is not ("master" or "backup"))
                    Fail(2, "illegal start_daemon specified");
                ce.DaemonState = popt.OptArg == "master" ? SyncDaemonState.Master : SyncDaemonState.Backup;
                break;
            case 'h':
                AdmText.Usage(Stdout, argv[0]);
                throw new AdmExitException(0);
            case 'v':
                Stdout.Append(AdmText.Version);
                throw new AdmExitException(0);
            default:
                TryHelpExit(argv[0], -1);
                break;
        }

        while ((c = popt.GetNextOpt()) >= 0)
        {
            string arg = popt.OptArg ?? "";
            switch (c)
            {
                case 't':
                case 'u':
                case TagSctpService:
                    SetOption(ref options, OptcService);
                    ce.Protocol = (ushort)(c == 't' ? IpProtocol.Tcp : c == 'u' ? IpProtocol.Udp : IpProtocol.Sctp);
                    if ((ParseService(popt.OptArg, ce.Protocol, ref ce.SvcAf, ref ce.SvcAddr, ref ce.SvcPort, ref ce.Netmask) & ServiceAddr) == 0)
                        Fail(2, "illegal virtual server address[:port] specified");
                    break;
                case 'f':
                    SetOption(ref options, OptcService);
                    ce.SvcAf = AfInet;
                    ce.Protocol = (ushort)IpProtocol.Tcp;
                    ce.Fwmark = ParseFwmark(arg);
                    break;
                case 's':
                    SetOption(ref options, OptcScheduler);
                    ce.Sched = Truncate(arg, 15); // strncpy into sched_name[IP_VS_SCHEDNAME_MAXLEN - 1]
                    break;
                case 'p':
                    SetOption(ref options, OptcPersistent);
                    ce.Flags |= SvcFPersistent;
                    ce.Timeout = (uint)ParseTimeout(popt.OptArg, 1, MaxTimeout);
                    break;
                case 'M':
                    SetOption(ref options, OptcNetmask);
                    if (ce.SvcAf != AfInet6)
                    {
                        if (!ParseNetmask(arg, out ce.Netmask))
                            Fail(2, "illegal virtual server persistent mask specified");
                    }
                    else
                    {
                        long m = AdmAddress.Atoi(arg);
                        ce.Netmask = unchecked((uint)m);
                        if (m < 1 || m > 128)
                            Fail(2, "illegal ipv6 netmask specified");
                    }
                    break;
                case 'r':
                    {
                        SetOption(ref options, OptcServer);
                        int af = ce.SvcAf;
                        System.Net.IPAddress addr = ce.SvcAddr;
                        ushort port = ce.SvcPort;
                        uint mask = ce.Netmask;
                        int parse = ParseService(popt.OptArg, ce.Protocol, ref af, ref addr, ref port, ref mask);
                        ce.DestAf = af;
                        ce.DestAddr = addr;
                        ce.DestPort = port;
                        if ((parse & ServiceAddr) == 0)
                            Fail(2, "illegal real server address[:port] specified");
                        if (parse == ServiceAddr)
                            ce.DestPort = ce.SvcPort; // no port given: the service's, as far as it is known yet
                        break;
                    }
                case 'i':
                    SetOption(ref options, OptcForward);
                    ce.ConnFlags = ConnFTunnel;
                    break;
                case 'g':
                    SetOption(ref options, OptcForward);
                    ce.ConnFlags = ConnFDroute;
                    break;
                case 'm':
                    SetOption(ref options, OptcForward);
                    ce.ConnFlags = ConnFMasq;
                    break;
                case 'w':
                    SetOption(ref options, OptcWeight);
                    if ((ce.Weight = StringToNumber(arg, 0, 65535)) == -1)
                        Fail(2, "illegal weight specified");
                    break;
                case 'x':
                    SetOption(ref options, OptcUThreshold);
                    if ((ce.UThreshold = StringToNumber(arg, 0, int.MaxValue)) == -1)
                        Fail(2, "illegal u_threshold specified");
                    break;
                case 'y':
                    SetOption(ref options, OptcLThreshold);
                    if ((ce.LThreshold = StringToNumber(arg, 0, int.MaxValue)) == -1)
                        Fail(2, "illegal l_threshold specified");
                    break;
                case 'c':
                    SetOption(ref options, OptcConnection);
                    break;
                case 'n':
                    SetOption(ref options, OptcNumeric);
                    format |= FmtNumeric;
                    break;
                case TagMcastInterface:
                    SetOption(ref options, OptcMcast);
                    ce.McastIfn = Truncate(arg, 15);
                    break;
                case 'I':
                    SetOption(ref options, OptcSyncId);
                    if ((ce.SyncId = StringToNumber(arg, 0, 255)) == -1)
                        Fail(2, "illegal syncid specified");
                    break;
                case TagTimeout:
                    SetOption(ref options, OptcTimeout);
                    break;
                case TagDaemon:
                    SetOption(ref options, OptcDaemon);
                    break;
                case TagStats:
                    SetOption(ref options, OptcStats);
                    format |= FmtStats;
                    break;
                case TagRate:
                    SetOption(ref options, OptcRate);
                    format |= FmtRate;
                    break;
                case TagThresholds:
                    SetOption(ref options, OptcThresholds);
                    format |= FmtThresholds;
                    break;
                case TagPersistentConn:
                    SetOption(ref options, OptcPersistentConn);
                    format |= FmtPersistentConn;
                    break;
                case TagNoSort:
                    SetOption(ref options, OptcNoSort);
                    format |= FmtNoSort;
                    break;
                case TagSort:
                    break; // "Sort is the default, this is a no-op for compatibility"
                case 'X':
                    SetOption(ref options, OptcExact);
                    format |= FmtExact;
                    break;
                case '6':
                    if (ce.Fwmark != 0)
                    {
                        ce.SvcAf = AfInet6;
                        ce.Netmask = 128;
                    }
                    else
                    {
                        Fail(2, "-6 used before -f\n");
                    }
                    break;
                case 'o':
                    SetOption(ref options, OptcOnePacket);
                    ce.Flags |= SvcFOnePacket;
                    break;
                case TagPersistenceEngine:
                    SetOption(ref options, OptcPersistenceEngine);
                    ce.Pe = Truncate(arg, 16);
                    break;
                case 'b':
                    SetOption(ref options, OptcSchedFlags);
                    schedFlagsArg = Truncate(arg, 127); // snprintf into sched_flags_arg[128]
                    break;
                case TagMcastGroup:
                    SetOption(ref options, OptcMcastGroup);
                    if (arg.Contains(':'))
                    {
                        if (!AdmAddress.TryParseIPv6(arg, out System.Net.IPAddress g6) || !g6.IsIPv6Multicast)
                            Fail(2, $"invalid IPv6 mcast-group `{arg}'");
                        ce.McastGroup = g6;
                    }
                    else if (!AdmAddress.TryParseIPv4Strict(arg, out System.Net.IPAddress g4) || (AdmAddress.Word(g4, 0) >> 28) != 0xe)
                    {
                        Fail(2, $"invalid IPv4 mcast-group `{arg}'");
                    }
                    else
                    {
                        ce.McastGroup = g4;
                    }
                    break;
                case TagMcastPort:
                    SetOption(ref options, OptcMcastPort);
                    if ((ce.McastPort = StringToNumber(arg, 1, 65535)) == -1)
                        Fail(2, "illegal mcast-port specified");
                    break;
                case TagMcastTtl:
                    SetOption(ref options, OptcMcastTtl);
                    if ((ce.McastTtl = StringToNumber(arg, 1, 255)) == -1)
                        Fail(2, "illegal mcast-ttl specified");
                    break;
                case TagSyncMaxLen:
                    SetOption(ref options, OptcSyncMaxLen);
                    if ((ce.SyncMaxLen = StringToNumber(arg, 1, 65535 - 20 - 8)) == -1)
                        Fail(2, "illegal sync-maxlen specified");
                    break;
                case TagTunInfo:
                    SetOption(ref options, OptcTunInfo);
                    format |= FmtTunInfo;
                    break;
                case TagTunType:
                    SetOption(ref options, OptcTunType);
                    ce.TunType = Array.IndexOf(TunNames, arg);
                    if (ce.TunType == -1)
                        Fail(2, "illegal tunnel type specified");
                    break;
                case TagTunPort:
                    SetOption(ref options, OptcTunPort);
                    if (StringToNumber(arg, 1, 65535) == -1)
                        Fail(2, "illegal tunnel port specified");
                    break;
                case TagTunNoCsum:
                    SetOption(ref options, OptcTunNoCsum);
                    break;
                case TagTunCsum:
                    SetOption(ref options, OptcTunCsum);
                    break;
                case TagTunRemCsum:
                    SetOption(ref options, OptcTunRemCsum);
                    break;
                case TagDrain:
                    SetOption(ref options, OptcDrain);
                    if ((ce.DrainSeconds = StringToNumber(arg, 1, MaxDrainSeconds)) == -1)
                        Fail(2, "illegal drain timeout specified");
                    break;
                default:
                    // A second command (or -h/-v after one) is not in the loop's switch.
                    Fail(2, $"invalid option `{popt.BadOption}'");
                    break;
            }
        }

        if (c < -1)
        {
            Stderr.Append(popt.BadOption).Append(": ").Append(PoptParser.StrError(c)).Append('\n');
            return -1;
        }

        if (ce.Cmd == CmdTimeout)
        {
            string? a0 = popt.GetArg(), a1 = a0 is null ? null : popt.GetArg(), a2 = a1 is null ? null : popt.GetArg();
            if (a0 is null || a1 is null || a2 is null)
                Fail(2, "--set option requires 3 timeout values");
            ce.TcpTimeout = ParseTimeout(a0, 0, MaxTimeout);
            ce.TcpFinTimeout = ParseTimeout(a1, 0, MaxTimeout);
            ce.UdpTimeout = ParseTimeout(a2, 0, MaxTimeout);
        }

        string? extra = popt.GetArg();
        if (extra is not null)
            Fail(2, $"unexpected argument {extra}");

        if (!string.IsNullOrEmpty(schedFlagsArg))
        {
            ce.Flags &= ~SvcFSchedMask;
            ce.Flags |= ParseSchedFlags(ce.Sched, schedFlagsArg);
        }

        return 0;
    }

    private int ParseService(string? buf, ushort protocol, ref int af, ref System.Net.IPAddress addr, ref ushort port, ref uint netmask)
    {
        if (buf is null || IsAllDigits(buf))
            return 0;

        // Source over reference: "[v6]" without ":port" is rejected, and a bracketed non-IPv6 host
        // is re-split at its last ':' below, so "[1.2.3.4]:80" silently loses its port.
        string host = buf;
        string? portStr = null;
        if (host.Length > 0 && host[0] == '[')
        {
            host = host[1..];
            int rb = host.IndexOf(']');
            if (rb < 0)
                return 0;
            if (rb + 1 >= host.Length || host[rb + 1] != ':')
                return 0;
            portStr = host[(rb + 2)..];
            host = host[..rb];
        }

        if (AdmAddress.TryParseIPv6(host, out System.Net.IPAddress v6))
        {
            addr = v6;
            af = AfInet6;
            netmask = 128;
        }
        else
        {
            // ipvsadm re-splits at the last ':' of what is left, so "[1.2.3.4]:80" loses its port.
            int colon = host.LastIndexOf(':');
            portStr = colon < 0 ? null : host[(colon + 1)..];
            if (colon >= 0)
                host = host[..colon];
            if (AdmAddress.TryInetAton(host, out uint v4))
                addr = AdmAddress.FromHostOrder(v4);
            else if (Names.TryHostToIPv4(host, out System.Net.IPAddress named))
                addr = named;
            else
                return 0;
            af = AfInet;
        }

        int result = ServiceAddr;
        if (portStr is not null)
        {
            result |= ServicePort;
            int n = StringToNumber(portStr, 0, 65535);
            if (n == -1)
                n = Names.ServiceToPort(portStr, ProtoLower(protocol));
            if (n == -1)
                return 0;
            port = (ushort)n;
        }
        return result;
    }

    private bool ParseNetmask(string buf, out uint hostOrderMask)
    {
        if (AdmAddress.TryInetAton(buf, out hostOrderMask))
            return true;
        if (Names.TryHostToIPv4(buf, out System.Net.IPAddress a))
        {
            hostOrderMask = AdmAddress.Word(a, 0);
            return true;
        }
        return false;
    }

    private uint ParseFwmark(string buf)
    {
        // strtol(base 10) into a long, then 0 < l <= UINT_MAX.
        if (!TryStrtol(buf, out long l) || l <= 0 || l > uint.MaxValue)
            Fail(2, $"invalid fwmark value `{buf}' specified");
        return (uint)l;
    }

    private int ParseTimeout(string? buf, int min, int max)
    {
        if (buf is null)
            return (int)PersistentTimeoutDefault;
        int i = StringToNumber(buf, min, max);
        if (i == -1)
            Fail(2, $"invalid timeout value `{buf}' specified");
        return i;
    }

    private uint ParseSchedFlags(string sched, string arg)
    {
        if (sched.Length == 0)
            sched = "wlc";
        uint flags = 0;
        string[] tokens = arg.Split(',', StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length == 0)
        {
            // ipvsadm passes strtok's NULL to strcmp here and crashes; we report the empty flag instead.
            Fail(2, "invalid scheduler flag `'");
        }
        foreach (string flag in tokens)
        {
            switch (flag)
            {
                case "flag-1": flags |= SvcFSched1; break;
                case "flag-2": flags |= SvcFSched2; break;
                case "flag-3": flags |= SvcFSched3; break;
                case "sh-fallback" or "sh-port":
                    flags |= flag == "sh-port" ? SvcFSched2 : SvcFSched1;
                    if (sched != "sh")
                        Fail(2, $"incompatible scheduler flag `{flag}'");
                    break;
                case "mh-fallback" or "mh-port":
                    flags |= flag == "mh-port" ? SvcFSched2 : SvcFSched1;
                    if (sched != "mh")
                        Fail(2, $"incompatible scheduler flag `{flag}'");
                    break;
                default:
                    Fail(2, $"invalid scheduler flag `{flag}'");
                    break;
            }
        }
        return flags;
    }

    private void GenericOptCheck(int command, ulong options)
    {
        int i = command - 1;
        int last = 0, count = 0;
        for (int j = 0; j < NumberOfOpt; j++)
        {
            char rule = CommandsVOptions[i][j];
            if ((options & (1UL << j)) == 0)
            {
                if (rule == '+')
                    Fail(2, $"You need to supply the '{OptNames[j]}' option for the '{CmdNames[i]}' command");
            }
            else
            {
                if (rule == 'x')
                    Fail(2, $"Illegal '{OptNames[j]}' option with the '{CmdNames[i]}' command");
                if (rule == '1')
                {
                    count++;
                    if (count == 1)
                    {
                        last = j;
                        continue;
                    }
                    Fail(2, $"The option '{OptNames[j]}' conflicts with the '{OptNames[last]}' option in the '{CmdNames[i]}' command");
                }
            }
        }
    }

    private void TunnelOptCheck(int tunType, ulong options)
    {
        int last = 0, count = 0;
        for (int j = 0; j < TunOpts.Length; j++)
        {
            int k = TunOpts[j];
            char rule = TunnelTypesVOptions[tunType][j];
            if ((options & (1UL << k)) == 0)
            {
                if (rule == '+')
                    Fail(2, $"You need to supply the '{OptNames[k]}' option for the '{TunNames[tunType]}' tunnel type");
            }
            else
            {
                if (rule == 'x')
                    Fail(2, $"Illegal '{OptNames[k]}' option with the '{TunNames[tunType]}' tunnel type");
                if (rule == '1')
                {
                    count++;
                    if (count == 1)
                    {
                        last = k;
                        continue;
                    }
                    Fail(2, $"The option '{OptNames[k]}' conflicts with the '{OptNames[last]}' option in the '{TunNames[tunType]}' tunnel type");
                }
            }
        }
    }

    private void SetOption(ref ulong options, int optc)
    {
        ulong option = 1UL << optc;
        if ((options & option) != 0)
            Fail(2, $"multiple '{OptNames[optc]}' options specified");
        options |= option;
    }

    private int RestoreTable(string[] argv, bool readingStdin)
    {
        if (readingStdin)
            TryHelpExit(argv[0], -1); // "avoid infinite loop"

        string input = _stdin.ReadToEnd();
        int pos = 0;
        int result = 0;
        List<string>? tokens;
        while ((tokens = RestoreReader.ReadLine(input, ref pos)) is not null)
        {
            if (tokens.Count == 0)
                continue;
            var lineArgv = new string[tokens.Count + 1];
            lineArgv[0] = argv[0];
            tokens.CopyTo(lineArgv, 1);
            // Like ipvsadm, only the last line's status survives.
            result = ProcessOptions(lineArgv, readingStdin: true);
        }
        return result;
    }

    private void TryHelpExit(string program, int status)
    {
        Stderr.Append("Try `").Append(program).Append(" -h' or '").Append(program).Append(" --help' for more information.\n");
        throw new AdmExitException(status);
    }

    private void Fail(int status, string message)
    {
        Stderr.Append(message).Append('\n');
        throw new AdmExitException(status);
    }

    /// <summary>ipvsadm's string_to_number: strtol base 10 over the whole string, then min..max; else -1.</summary>
    internal static int StringToNumber(string s, long min, long max) =>
        TryStrtol(s, out long n) && n >= min && n <= max ? (int)n : -1;

    /// <summary>strtol(s, &amp;end, 10) with *end == '\0', end != s and no ERANGE.</summary>
    private static bool TryStrtol(string s, out long value)
    {
        value = 0;
        int i = 0;
        while (i < s.Length && AdmAddress.IsCSpace(s[i]))
            i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-'))
        {
            neg = s[i] == '-';
            i++;
        }
        int digitsStart = i;
        decimal acc = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            if (acc < 1e20m)
                acc = acc * 10 + (s[i] - '0');
            i++;
        }
        if (i == digitsStart || i != s.Length)
            return false;
        if (neg)
            acc = -acc;
        if (acc > long.MaxValue || acc < long.MinValue)
            return false;
        value = (long)acc;
        return true;
    }

    private static bool IsAllDigits(string s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c))
                return false;
        }
        return true;
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];

    internal static string? ProtoLower(ushort protocol) => protocol switch
    {
        (ushort)IpProtocol.Tcp => "tcp",
        (ushort)IpProtocol.Udp => "udp",
        (ushort)IpProtocol.Sctp => "sctp",
        _ => null,
    };

    /// <summary>ipvsadm's struct ipvs_command_entry, with process_options' defaults.</summary>
    private sealed class CommandEntry
    {
        public int Cmd = CmdNone;
        public int SvcAf;
        public ushort Protocol;
        public System.Net.IPAddress SvcAddr = System.Net.IPAddress.Any;
        public ushort SvcPort;
        public uint Fwmark;
        public string Sched = "";
        public uint Flags;
        public uint Timeout;
        public uint Netmask = 0xffffffff; // IPv4: host-order mask; IPv6: prefix length
        public string Pe = "";
        public int DestAf;
        public System.Net.IPAddress DestAddr = System.Net.IPAddress.Any;
        public ushort DestPort;
        public int ConnFlags = ConnFDroute; // -g is the default
        public int Weight = 1;
        public int UThreshold;
        public int LThreshold;
        public int TunType;
        public int TcpTimeout;
        public int TcpFinTimeout;
        public int UdpTimeout;
        public string McastIfn = "";
        public SyncDaemonState DaemonState;
        public int SyncId;
        public System.Net.IPAddress? McastGroup;
        public int McastPort;
        public int McastTtl;
        public int SyncMaxLen;
        public int DrainSeconds; // 0: delete at once, as ipvsadm -d
    }
}
